//! The simulated vehicle's parameters: an ArduCopter-like table of about a thousand
//! names, types and defaults, and the vehicle side of the parameter protocol
//! (PARAM_REQUEST_LIST, PARAM_REQUEST_READ, PARAM_SET → PARAM_VALUE), sans-IO.
//!
//! Names, types and defaults follow ArduCopter 4.x (`AP_Int8` → INT8, `AP_Int16` → INT16,
//! `AP_Int32` → INT32, `AP_Float` → REAL32) closely enough that a GCS's parameter
//! metadata applies; the table is built the same way every time, so indices are stable.
//! Values travel with ArduPilot's C-cast encoding (the number itself in the float).

use std::collections::{HashMap, VecDeque};

use airgap_core::dialect::{
    MavParamType, PARAM_REQUEST_READ_DATA, PARAM_SET_DATA, PARAM_VALUE_DATA,
};
use airgap_core::params::protocol::encoding::{decode_name, encode_name};
use airgap_core::params::Param;
use airgap_core::MavMessage;

/// ArduPilot streams a parameter list at a rate its link can bear; 500 a second keeps a
/// full download to about two seconds while telemetry still gets through.
pub const DEFAULT_PARAM_RATE_HZ: f64 = 500.0;

/// How far the paced sender may fall behind before it stops catching up: a stalled
/// caller gets a small burst, not the whole list at once.
const MAX_CATCH_UP_S: f64 = 0.02;

/// The parameter values a vehicle holds, in a fixed order (the PARAM_VALUE index).
#[derive(Debug, Clone)]
pub struct ParamTable {
    params: Vec<Param>,
    index_by_name: HashMap<String, usize>,
}

impl ParamTable {
    /// ArduCopter's parameters with their defaults, plus what differs on this vehicle.
    pub fn arducopter(sysid: u8) -> ParamTable {
        let mut params = Vec::with_capacity(1100);
        let mut add = |name: &str, param_type: MavParamType, value: f64| {
            // An AP_Float holds what a 32-bit float can: store exactly what is sent.
            let value = if param_type == MavParamType::MAV_PARAM_TYPE_REAL32 {
                f64::from(value as f32)
            } else {
                value
            };
            params.push(Param {
                name: name.to_owned(),
                value,
                param_type,
            });
        };
        for line in SCALARS.lines() {
            let mut fields = line.split_whitespace();
            let (Some(name), Some(kind), Some(value)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let value: f64 = value
                .parse()
                .expect("the built-in parameter table holds numbers");
            add(name, param_type(kind), value);
        }
        families(&mut add);
        let mut table = ParamTable::from_params(params);
        table.set("SYSID_THISMAV", f64::from(sysid));
        table
    }

    /// A table of these parameters, in this order. Later duplicates, and names that
    /// PARAM_VALUE cannot carry (empty, longer than 16, not printable ASCII), are dropped.
    pub fn from_params(params: Vec<Param>) -> ParamTable {
        let mut unique = Vec::with_capacity(params.len());
        let mut index_by_name = HashMap::with_capacity(params.len());
        for param in params {
            if index_by_name.contains_key(&param.name) || encode_name(&param.name).is_err() {
                continue;
            }
            index_by_name.insert(param.name.clone(), unique.len());
            unique.push(param);
        }
        ParamTable {
            params: unique,
            index_by_name,
        }
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    pub fn get(&self, name: &str) -> Option<&Param> {
        self.index_of(name).map(|i| &self.params[i])
    }

    pub fn value(&self, name: &str) -> Option<f64> {
        self.get(name).map(|p| p.value)
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index_by_name.get(name).copied()
    }

    /// Stores `value` the way `AP_Param::set_float` does: integers are rounded and
    /// clamped to their type; NaN and infinities are refused. Returns the stored
    /// parameter, or `None` when there is no such name or the value was refused.
    pub fn set(&mut self, name: &str, value: f64) -> Option<&Param> {
        if !value.is_finite() {
            return None;
        }
        let index = self.index_of(name)?;
        let param = &mut self.params[index];
        param.value = match param.param_type {
            MavParamType::MAV_PARAM_TYPE_INT8 => value.round().clamp(-128.0, 127.0),
            MavParamType::MAV_PARAM_TYPE_INT16 => value.round().clamp(-32768.0, 32767.0),
            MavParamType::MAV_PARAM_TYPE_INT32 => value
                .round()
                .clamp(f64::from(i32::MIN), f64::from(i32::MAX)),
            // An AP_Float holds a 32-bit float.
            _ => f64::from(value as f32),
        };
        Some(param)
    }
}

fn param_type(kind: &str) -> MavParamType {
    match kind {
        "i8" => MavParamType::MAV_PARAM_TYPE_INT8,
        "i16" => MavParamType::MAV_PARAM_TYPE_INT16,
        "i32" => MavParamType::MAV_PARAM_TYPE_INT32,
        _ => MavParamType::MAV_PARAM_TYPE_REAL32,
    }
}

/// The vehicle side of the parameter protocol. Replies to single reads and sets go out
/// at once; a full list is queued and paced out by [`ParamServer::poll`].
#[derive(Debug, Clone)]
pub struct ParamServer {
    table: ParamTable,
    rate_hz: f64,
    queue: VecDeque<u16>,
    next_send_s: f64,
}

impl ParamServer {
    pub fn new(table: ParamTable, rate_hz: f64) -> ParamServer {
        ParamServer {
            table,
            rate_hz: if rate_hz.is_finite() && rate_hz > 0.0 {
                rate_hz
            } else {
                DEFAULT_PARAM_RATE_HZ
            },
            queue: VecDeque::new(),
            next_send_s: 0.0,
        }
    }

    pub fn table(&self) -> &ParamTable {
        &self.table
    }

    pub fn table_mut(&mut self) -> &mut ParamTable {
        &mut self.table
    }

    /// Whether a list is still being sent.
    pub fn listing(&self) -> bool {
        !self.queue.is_empty()
    }

    /// PARAM_REQUEST_LIST: (re)starts sending every parameter, as ArduPilot restarts a
    /// list that is asked for again.
    pub fn request_list(&mut self, now_s: f64) {
        let count = u16::try_from(self.table.len()).unwrap_or(u16::MAX);
        self.queue = (0..count).collect();
        self.next_send_s = now_s;
    }

    /// PARAM_REQUEST_READ by index (`param_index >= 0`) or by name. Unknown ones get no
    /// answer, as on ArduPilot.
    pub fn request_read(&self, r: &PARAM_REQUEST_READ_DATA) -> Option<MavMessage> {
        let index = if r.param_index >= 0 {
            usize::try_from(r.param_index).ok()?
        } else {
            self.table.index_of(&decode_name(&r.param_id))?
        };
        self.value_message(index)
    }

    /// PARAM_SET by name. ArduPilot ignores the sent type (its own type wins) and
    /// unknown names, and answers with the value it stored.
    pub fn set(&mut self, s: &PARAM_SET_DATA) -> Option<MavMessage> {
        let name = decode_name(&s.param_id);
        self.table.set(&name, f64::from(s.param_value))?;
        let index = self.table.index_of(&name)?;
        self.value_message(index)
    }

    /// The queued PARAM_VALUEs due by `now_s`.
    pub fn poll(&mut self, now_s: f64) -> Vec<MavMessage> {
        let mut out = Vec::new();
        if self.queue.is_empty() {
            return out;
        }
        self.next_send_s = self.next_send_s.max(now_s - MAX_CATCH_UP_S);
        while self.next_send_s <= now_s {
            let Some(index) = self.queue.pop_front() else {
                break;
            };
            if let Some(msg) = self.value_message(usize::from(index)) {
                out.push(msg);
            }
            self.next_send_s += 1.0 / self.rate_hz;
        }
        out
    }

    pub fn value_message(&self, index: usize) -> Option<MavMessage> {
        let param = self.table.params.get(index)?;
        Some(MavMessage::PARAM_VALUE(PARAM_VALUE_DATA {
            // The C cast: what ArduPilot puts on the wire for every type.
            param_value: param.value as f32,
            param_count: u16::try_from(self.table.len()).unwrap_or(u16::MAX),
            param_index: u16::try_from(index).unwrap_or(u16::MAX),
            param_id: encode_name(&param.name).expect("from_params keeps only names that encode"),
            param_type: param.param_type,
        }))
    }
}

/// Parameters that are not part of a numbered family: `NAME TYPE DEFAULT`, with TYPE one
/// of i8, i16, i32, f.
const SCALARS: &str = "
FORMAT_VERSION i16 120
SYSID_THISMAV i16 1
SYSID_MYGCS i16 255
PILOT_THR_FILT f 0
PILOT_TKOFF_ALT f 0
PILOT_THR_BHV i16 0
TELEM_DELAY i8 0
GCS_PID_MASK i16 0
RTL_ALT i32 1500
RTL_CONE_SLOPE f 3
RTL_SPEED i16 0
RTL_ALT_FINAL i16 0
RTL_CLIMB_MIN i16 0
RTL_LOIT_TIME i32 5000
RTL_ALT_TYPE i8 0
RTL_OPTIONS i32 0
FS_GCS_ENABLE i8 0
FS_GCS_TIMEOUT f 5
GPS_HDOP_GOOD i16 140
SUPER_SIMPLE i8 0
WP_YAW_BEHAVIOR i8 2
LAND_SPEED i16 50
LAND_SPEED_HIGH i16 0
LAND_ALT_LOW i16 1000
LAND_REPOSITION i8 1
PILOT_SPEED_UP i16 250
PILOT_SPEED_DN i16 0
PILOT_ACCEL_Z i16 250
PILOT_Y_RATE f 202.5
PILOT_Y_EXPO f 0
PILOT_Y_RATE_TC f 0
FS_THR_ENABLE i8 1
FS_THR_VALUE i16 975
THR_DZ i16 100
FLTMODE1 i8 0
FLTMODE2 i8 2
FLTMODE3 i8 6
FLTMODE4 i8 3
FLTMODE5 i8 5
FLTMODE6 i8 4
FLTMODE_CH i8 5
INITIAL_MODE i8 0
SIMPLE i8 0
LOG_BITMASK i32 180222
ESC_CALIBRATION i8 0
TUNE i8 0
TUNE_MIN f 0
TUNE_MAX f 0
FRAME_TYPE i8 1
FRAME_CLASS i8 1
DISARM_DELAY i8 10
ANGLE_MAX i16 3000
PHLD_BRAKE_RATE i16 8
PHLD_BRAKE_ANGLE i16 3000
FS_EKF_ACTION i8 1
FS_EKF_THRESH f 0.8
FS_CRASH_CHECK i8 1
FS_OPTIONS i32 16
FS_VIBE_ENABLE i8 1
FS_DR_ENABLE i8 2
FS_DR_TIMEOUT i16 30
RC_SPEED i16 490
ACRO_BAL_ROLL f 1
ACRO_BAL_PITCH f 1
ACRO_RP_EXPO f 0.3
ACRO_RP_RATE f 360
ACRO_RP_RATE_TC f 0
ACRO_Y_EXPO f 0
ACRO_Y_RATE f 202.5
ACRO_Y_RATE_TC f 0
ACRO_THR_MID f 0
ACRO_TRAINER i8 2
ACRO_OPTIONS i8 0
THROW_MOT_START i8 0
THROW_NEXTMODE i8 18
THROW_TYPE i8 0
GND_EFFECT_COMP i8 1
DEV_OPTIONS i32 0
FS_GCS_ENABL2 i8 0
SYSID_ENFORCE i8 0
TERRAIN_FOLLOW i8 0
TKOFF_SLEW_TIME f 2
TKOFF_RPM_MIN i16 0
TKOFF_THR_MAX f 0.9
AUTO_OPTIONS i32 0
GUID_OPTIONS i32 0
GUID_TIMEOUT f 3
FOLL_ENABLE i8 0
SURFTRAK_MODE i8 1
SURFTRAK_TC f 1
WPNAV_SPEED f 1000
WPNAV_RADIUS f 200
WPNAV_SPEED_UP f 250
WPNAV_SPEED_DN f 150
WPNAV_ACCEL f 250
WPNAV_ACCEL_Z f 100
WPNAV_ACCEL_C f 0
WPNAV_RFND_USE i8 1
WPNAV_JERK f 1
WPNAV_TER_MARGIN f 10
LOIT_ANG_MAX f 0
LOIT_SPEED f 1250
LOIT_ACC_MAX f 500
LOIT_BRK_ACCEL f 250
LOIT_BRK_JERK f 500
LOIT_BRK_DELAY f 1
LOIT_OPTIONS i16 0
CIRCLE_RADIUS f 1000
CIRCLE_RATE f 20
CIRCLE_OPTIONS i16 1
BATT_MONITOR i8 4
BATT_CAPACITY i32 5200
BATT_SERIAL_NUM i32 -1
BATT_VOLT_PIN i8 13
BATT_CURR_PIN i8 12
BATT_VOLT_MULT f 10.1
BATT_AMP_PERVLT f 17
BATT_AMP_OFFSET f 0
BATT_VLT_OFFSET f 0
BATT_WATT_MAX i16 0
BATT_OPTIONS i32 0
BATT_ARM_VOLT f 0
BATT_ARM_MAH i32 0
BATT_LOW_VOLT f 10.5
BATT_CRT_VOLT f 0
BATT_LOW_MAH f 0
BATT_CRT_MAH f 0
BATT_LOW_TIMER i8 10
BATT_FS_LOW_ACT i8 0
BATT_FS_CRT_ACT i8 0
BATT_FS_VOLTSRC i8 0
BATT_SUM_MASK i16 0
BATT_MAX_VOLT f 0
BATT2_MONITOR i8 0
BATT2_CAPACITY i32 3300
BATT2_LOW_VOLT f 10.5
BATT2_CRT_VOLT f 0
BATT2_FS_LOW_ACT i8 0
BATT2_FS_CRT_ACT i8 0
FENCE_ENABLE i8 0
FENCE_TYPE i8 7
FENCE_ACTION i8 1
FENCE_ALT_MAX f 100
FENCE_ALT_MIN f -10
FENCE_RADIUS f 300
FENCE_MARGIN f 2
FENCE_TOTAL i8 0
FENCE_RET_RALLY i8 0
FENCE_RET_ALT i16 0
FENCE_AUTOENABLE i8 0
FENCE_OPTIONS i16 0
RALLY_TOTAL i8 0
RALLY_LIMIT_KM f 0.3
RALLY_INCL_HOME i8 1
MIS_TOTAL i16 0
MIS_RESTART i8 0
MIS_OPTIONS i16 0
ARMING_CHECK i32 1
ARMING_REQUIRE i8 1
ARMING_ACCTHRESH f 0.75
ARMING_RUDDER i8 2
ARMING_MIS_ITEMS i32 0
ARMING_OPTIONS i32 0
ARMING_MAGTHRESH i16 100
ARMING_CRSDP_IGN i8 0
AHRS_GPS_GAIN f 1
AHRS_GPS_USE i8 1
AHRS_YAW_P f 0.2
AHRS_RP_P f 0.2
AHRS_WIND_MAX i8 0
AHRS_TRIM_X f 0
AHRS_TRIM_Y f 0
AHRS_TRIM_Z f 0
AHRS_ORIENTATION i8 0
AHRS_COMP_BETA f 0.1
AHRS_GPS_MINSATS i8 6
AHRS_EKF_TYPE i8 3
AHRS_OPTIONS i16 0
EK2_ENABLE i8 0
EK3_ENABLE i8 1
EK3_GPS_CHECK i8 31
EK3_IMU_MASK i8 3
EK3_CHECK_SCALE i16 100
EK3_NOAID_M_NSE f 1
EK3_BETA_MASK i8 0
EK3_YAW_M_NSE f 0.5
EK3_YAW_I_GATE i16 300
EK3_TAU_OUTPUT i8 25
EK3_MAGE_P_NSE f 0.001
EK3_MAGB_P_NSE f 0.0001
EK3_RNG_USE_HGT i8 -1
EK3_TERR_GRAD f 0.1
EK3_BCN_M_NSE f 1
EK3_BCN_I_GTE i16 500
EK3_BCN_DELAY i8 50
EK3_RNG_USE_SPD f 2
EK3_ACC_BIAS_LIM f 1
EK3_MAG_EF_LIM i16 50
EK3_HRT_FILT f 2
EK3_GSF_RUN_MASK i8 3
EK3_GSF_USE_MASK i8 3
EK3_GSF_RST_MAX i8 2
EK3_ERR_THRESH f 0.2
EK3_AFFINITY i32 0
EK3_DRAG_BCOEF_X f 0
EK3_DRAG_BCOEF_Y f 0
EK3_DRAG_M_NSE f 0.5
EK3_DRAG_MCOEF f 0
EK3_OGN_HGT_MASK i8 0
EK3_FLOW_USE i8 1
EK3_HGT_I_GATE i16 500
EK3_VELNE_M_NSE f 0.3
EK3_VELD_M_NSE f 0.5
EK3_VEL_I_GATE i16 500
EK3_POSNE_M_NSE f 0.5
EK3_POS_I_GATE i16 500
EK3_GLITCH_RAD i8 25
EK3_ALT_M_NSE f 2
EK3_MAG_M_NSE f 0.05
EK3_MAG_CAL i8 3
EK3_MAG_I_GATE i16 300
EK3_EAS_M_NSE f 1.4
EK3_EAS_I_GATE i16 400
EK3_RNG_M_NSE f 0.5
EK3_RNG_I_GATE i16 500
EK3_MAX_FLOW f 2.5
EK3_FLOW_M_NSE f 0.25
EK3_FLOW_I_GATE i16 300
EK3_FLOW_DELAY i8 10
EK3_GYRO_P_NSE f 0.015
EK3_ACC_P_NSE f 0.35
EK3_GBIAS_P_NSE f 0.001
EK3_ABIAS_P_NSE f 0.003
EK3_WIND_P_NSE f 0.2
EK3_WIND_PSCALE f 1
EK3_GPS_VACC_MAX f 0
EK3_PRIMARY i8 0
EK3_LOG_LEVEL i8 0
EK3_OPTIONS i32 0
EK3_SRC_OPTIONS i16 1
EK3_SRC1_POSXY i8 3
EK3_SRC1_VELXY i8 3
EK3_SRC1_POSZ i8 1
EK3_SRC1_VELZ i8 3
EK3_SRC1_YAW i8 1
EK3_SRC2_POSXY i8 0
EK3_SRC2_VELXY i8 0
EK3_SRC2_POSZ i8 1
EK3_SRC2_VELZ i8 0
EK3_SRC2_YAW i8 0
EK3_SRC3_POSXY i8 0
EK3_SRC3_VELXY i8 0
EK3_SRC3_POSZ i8 1
EK3_SRC3_VELZ i8 0
EK3_SRC3_YAW i8 0
GPS_TYPE i8 1
GPS_TYPE2 i8 0
GPS_NAVFILTER i8 8
GPS_AUTO_SWITCH i8 1
GPS_MIN_DGPS i8 100
GPS_SBAS_MODE i8 2
GPS_MIN_ELEV i8 -100
GPS_INJECT_TO i8 127
GPS_SBP_LOGMASK i16 -256
GPS_RAW_DATA i8 0
GPS_GNSS_MODE i8 0
GPS_SAVE_CFG i8 2
GPS_GNSS_MODE2 i8 0
GPS_AUTO_CONFIG i8 1
GPS_RATE_MS i16 200
GPS_RATE_MS2 i16 200
GPS_POS1_X f 0
GPS_POS1_Y f 0
GPS_POS1_Z f 0
GPS_POS2_X f 0
GPS_POS2_Y f 0
GPS_POS2_Z f 0
GPS_DELAY_MS i16 0
GPS_DELAY_MS2 i16 0
GPS_BLEND_MASK i8 5
GPS_DRV_OPTIONS i16 0
GPS_COM_PORT i8 1
GPS_COM_PORT2 i8 1
GPS_PRIMARY i8 0
GPS_CAN_NODEID1 i32 0
GPS_CAN_NODEID2 i32 0
GPS1_CAN_OVRIDE i32 0
GPS2_CAN_OVRIDE i32 0
COMPASS_OFS_X f 5
COMPASS_OFS_Y f 13
COMPASS_OFS_Z f -18
COMPASS_DEC f 0
COMPASS_LEARN i8 0
COMPASS_USE i8 1
COMPASS_AUTODEC i8 1
COMPASS_MOTCT i8 0
COMPASS_MOT_X f 0
COMPASS_MOT_Y f 0
COMPASS_MOT_Z f 0
COMPASS_ORIENT i8 0
COMPASS_EXTERNAL i8 1
COMPASS_OFS2_X f 5
COMPASS_OFS2_Y f 13
COMPASS_OFS2_Z f -18
COMPASS_MOT2_X f 0
COMPASS_MOT2_Y f 0
COMPASS_MOT2_Z f 0
COMPASS_OFS3_X f 0
COMPASS_OFS3_Y f 0
COMPASS_OFS3_Z f 0
COMPASS_MOT3_X f 0
COMPASS_MOT3_Y f 0
COMPASS_MOT3_Z f 0
COMPASS_DEV_ID i32 97539
COMPASS_DEV_ID2 i32 131874
COMPASS_DEV_ID3 i32 0
COMPASS_DEV_ID4 i32 0
COMPASS_DEV_ID5 i32 0
COMPASS_DEV_ID6 i32 0
COMPASS_DEV_ID7 i32 0
COMPASS_DEV_ID8 i32 0
COMPASS_USE2 i8 1
COMPASS_ORIENT2 i8 0
COMPASS_EXTERN2 i8 0
COMPASS_USE3 i8 1
COMPASS_ORIENT3 i8 0
COMPASS_EXTERN3 i8 0
COMPASS_DIA_X f 1
COMPASS_DIA_Y f 1
COMPASS_DIA_Z f 1
COMPASS_ODI_X f 0
COMPASS_ODI_Y f 0
COMPASS_ODI_Z f 0
COMPASS_DIA2_X f 1
COMPASS_DIA2_Y f 1
COMPASS_DIA2_Z f 1
COMPASS_ODI2_X f 0
COMPASS_ODI2_Y f 0
COMPASS_ODI2_Z f 0
COMPASS_DIA3_X f 0
COMPASS_DIA3_Y f 0
COMPASS_DIA3_Z f 0
COMPASS_ODI3_X f 0
COMPASS_ODI3_Y f 0
COMPASS_ODI3_Z f 0
COMPASS_CAL_FIT f 16
COMPASS_OFFS_MAX i16 1800
COMPASS_TYPEMASK i32 0
COMPASS_FLTR_RNG i8 0
COMPASS_AUTO_ROT i8 2
COMPASS_PRIO1_ID i32 97539
COMPASS_PRIO2_ID i32 131874
COMPASS_PRIO3_ID i32 0
COMPASS_ENABLE i8 1
COMPASS_SCALE f 1
COMPASS_SCALE2 f 1
COMPASS_SCALE3 f 0
COMPASS_OPTIONS i16 0
COMPASS_DISBLMSK i32 0
INS_GYROFFS_X f 0
INS_GYROFFS_Y f 0
INS_GYROFFS_Z f 0
INS_GYR2OFFS_X f 0
INS_GYR2OFFS_Y f 0
INS_GYR2OFFS_Z f 0
INS_GYR3OFFS_X f 0
INS_GYR3OFFS_Y f 0
INS_GYR3OFFS_Z f 0
INS_ACCSCAL_X f 1
INS_ACCSCAL_Y f 1
INS_ACCSCAL_Z f 1
INS_ACCOFFS_X f 0
INS_ACCOFFS_Y f 0
INS_ACCOFFS_Z f 0
INS_ACC2SCAL_X f 1
INS_ACC2SCAL_Y f 1
INS_ACC2SCAL_Z f 1
INS_ACC2OFFS_X f 0
INS_ACC2OFFS_Y f 0
INS_ACC2OFFS_Z f 0
INS_ACC3SCAL_X f 0
INS_ACC3SCAL_Y f 0
INS_ACC3SCAL_Z f 0
INS_ACC3OFFS_X f 0
INS_ACC3OFFS_Y f 0
INS_ACC3OFFS_Z f 0
INS_GYRO_FILTER i16 20
INS_ACCEL_FILTER i16 20
INS_USE i8 1
INS_USE2 i8 1
INS_USE3 i8 1
INS_STILL_THRESH f 2.5
INS_GYR_CAL i8 1
INS_TRIM_OPTION i8 1
INS_ACC_BODYFIX i8 2
INS_POS1_X f 0
INS_POS1_Y f 0
INS_POS1_Z f 0
INS_POS2_X f 0
INS_POS2_Y f 0
INS_POS2_Z f 0
INS_POS3_X f 0
INS_POS3_Y f 0
INS_POS3_Z f 0
INS_GYR_ID i32 2752776
INS_GYR2_ID i32 2753032
INS_GYR3_ID i32 0
INS_ACC_ID i32 2753028
INS_ACC2_ID i32 2753284
INS_ACC3_ID i32 0
INS_FAST_SAMPLE i8 1
INS_ENABLE_MASK i8 127
INS_GYRO_RATE i8 0
INS_ACC1_CALTEMP f -300
INS_GYR1_CALTEMP f -300
INS_ACC2_CALTEMP f -300
INS_GYR2_CALTEMP f -300
INS_TCAL_OPTIONS i32 0
INS_RAW_LOG_OPT i16 0
INS_LOG_BAT_CNT i16 1024
INS_LOG_BAT_MASK i8 0
INS_LOG_BAT_OPT i8 0
INS_LOG_BAT_LGIN i8 20
INS_LOG_BAT_LGCT i8 32
ATC_SLEW_YAW f 6000
ATC_ACCEL_Y_MAX f 27000
ATC_RATE_FF_ENAB i8 1
ATC_ACCEL_R_MAX f 110000
ATC_ACCEL_P_MAX f 110000
ATC_ANGLE_BOOST i8 1
ATC_ANG_RLL_P f 4.5
ATC_ANG_PIT_P f 4.5
ATC_ANG_YAW_P f 4.5
ATC_ANG_LIM_TC f 1
ATC_RATE_R_MAX f 0
ATC_RATE_P_MAX f 0
ATC_RATE_Y_MAX f 0
ATC_INPUT_TC f 0.15
ATC_THR_MIX_MIN f 0.1
ATC_THR_MIX_MAX f 0.5
ATC_THR_MIX_MAN f 0.1
ATC_THR_G_BOOST f 0
ATC_LAND_R_MULT f 1
ATC_LAND_P_MULT f 1
ATC_LAND_Y_MULT f 1
PSC_POSXY_P f 1
PSC_POSZ_P f 1
PSC_ANGLE_MAX f 0
PSC_JERK_XY f 5
PSC_JERK_Z f 5
MOT_YAW_HEADROOM i16 200
MOT_THST_EXPO f 0.65
MOT_SPIN_MAX f 0.95
MOT_BAT_VOLT_MAX f 0
MOT_BAT_VOLT_MIN f 0
MOT_BAT_CURR_MAX f 0
MOT_PWM_TYPE i8 0
MOT_PWM_MIN i16 1000
MOT_PWM_MAX i16 2000
MOT_SPIN_MIN f 0.15
MOT_SPIN_ARM f 0.1
MOT_BAT_CURR_TC f 5
MOT_THST_HOVER f 0.39
MOT_HOVER_LEARN i8 2
MOT_SAFE_DISARM i8 0
MOT_YAW_SV_ANGLE i8 30
MOT_SPOOL_TIME f 0.5
MOT_BOOST_SCALE f 0
MOT_BAT_IDX i8 0
MOT_SLEW_UP_TIME f 0
MOT_SLEW_DN_TIME f 0
MOT_SAFE_TIME f 1
MOT_OPTIONS i16 0
MOT_SPOOL_TIM_DN f 0
LOG_BACKEND_TYPE i8 1
LOG_FILE_BUFSIZE i16 200
LOG_DISARMED i8 0
LOG_REPLAY i8 0
LOG_FILE_DSRMROT i8 0
LOG_MAV_BUFSIZE i8 8
LOG_FILE_TIMEOUT i16 5
LOG_FILE_MB_FREE i16 500
LOG_FILE_RATEMAX f 0
LOG_MAV_RATEMAX f 0
LOG_BLK_RATEMAX f 0
LOG_MAX_FILES i16 500
SCHED_DEBUG i8 0
SCHED_LOOP_RATE i16 400
SCHED_OPTIONS i8 0
BRD_SER1_RTSCTS i8 2
BRD_SER2_RTSCTS i8 2
BRD_SAFETY_DEFLT i8 0
BRD_SBUS_OUT i8 0
BRD_SERIAL_NUM i32 0
BRD_SAFETY_MASK i32 0
BRD_HEAT_TARG i8 -1
BRD_TYPE i8 0
BRD_IO_ENABLE i8 1
BRD_SAFETYOPTION i16 3
BRD_VBUS_MIN f 4.3
BRD_VSERVO_MIN f 0
BRD_SD_SLOWDOWN i8 0
BRD_PWM_VOLT_SEL i8 0
BRD_OPTIONS i32 1
BRD_BOOT_DELAY i16 0
BRD_HEAT_P f 200
BRD_HEAT_I f 0.3
BRD_HEAT_IMAX f 70
BRD_ALT_CONFIG i8 0
BRD_HEAT_LOWMGN i8 4
BRD_SD_MISSION i16 0
BRD_SD_FENCE i16 0
NTF_LED_BRIGHT i8 3
NTF_BUZZ_TYPES i8 1
NTF_LED_OVERRIDE i8 0
NTF_DISPLAY_TYPE i8 0
NTF_OREO_THEME i8 0
NTF_BUZZ_PIN i8 0
NTF_LED_TYPES i32 199
NTF_BUZZ_ON_LVL i8 1
NTF_BUZZ_VOLUME i8 100
NTF_LED_LEN i8 1
CAN_P1_DRIVER i8 0
CAN_P2_DRIVER i8 0
CAN_D1_PROTOCOL i8 1
CAN_D2_PROTOCOL i8 1
CAN_SLCAN_CPORT i8 0
CAN_SLCAN_SERNUM i8 -1
CAN_SLCAN_TIMOUT i8 0
CAN_SLCAN_SDELAY i8 1
CAN_LOGLEVEL i8 0
SERVO_AUTO_TRIM i8 0
SERVO_RATE i16 50
SERVO_DSHOT_RATE i8 0
SERVO_DSHOT_ESC i8 0
SERVO_GPIO_MASK i32 0
SERVO_RC_FS_MSK i32 0
SERVO_32_ENABLE i8 0
RC_OVERRIDE_TIME f 3
RC_OPTIONS i32 32
RC_PROTOCOLS i32 1
RC_FS_TIMEOUT f 1
RSSI_TYPE i8 0
RNGFND1_TYPE i8 0
RNGFND1_PIN i8 -1
RNGFND1_SCALING f 3
RNGFND1_OFFSET f 0
RNGFND1_FUNCTION i8 0
RNGFND1_MIN_CM i16 20
RNGFND1_MAX_CM i16 700
RNGFND1_STOP_PIN i8 -1
RNGFND1_RMETRIC i8 1
RNGFND1_PWRRNG i16 0
RNGFND1_GNDCLEAR i8 10
RNGFND1_ADDR i8 0
RNGFND1_POS_X f 0
RNGFND1_POS_Y f 0
RNGFND1_POS_Z f 0
RNGFND1_ORIENT i8 25
PRX1_TYPE i8 0
PRX1_ORIENT i8 0
PRX1_YAW_CORR i16 0
PRX1_IGN_ANG1 i16 0
PRX1_IGN_WID1 i8 0
AVOID_ENABLE i8 3
AVOID_ANGLE_MAX i16 1000
AVOID_DIST_MAX f 5
AVOID_MARGIN f 2
AVOID_BEHAVE i8 0
AVOID_BACKUP_SPD f 0.75
AVOID_ALT_MIN f 0
AVOID_ACCEL_MAX f 3
AVOID_BACKUP_DZ f 0.1
TERRAIN_ENABLE i8 1
TERRAIN_SPACING i16 100
TERRAIN_OPTIONS i16 0
TERRAIN_MARGIN f 0.05
TERRAIN_OFS_MAX f 30
FLOW_TYPE i8 0
FLOW_FXSCALER i16 0
FLOW_FYSCALER i16 0
FLOW_ORIENT_YAW i16 0
FLOW_POS_X f 0
FLOW_POS_Y f 0
FLOW_POS_Z f 0
FLOW_ADDR i8 0
FLOW_HGT_OVR f 0
PRX_FILT f 0.25
PRX_IGN_GND i8 0
PRX_LOG_RAW i8 0
BCN_TYPE i8 0
VISO_TYPE i8 0
OA_TYPE i8 0
CAM1_TYPE i8 0
CAM1_DURATION f 0
CAM1_SERVO_ON i16 1300
CAM1_SERVO_OFF i16 1100
CAM1_TRIGG_DIST f 0
CAM1_RELAY_ON i8 1
CAM1_INTRVAL_MIN f 0
CAM1_FEEDBAK_PIN i8 -1
CAM1_FEEDBAK_POL i8 1
CAM1_OPTIONS i16 0
CAM_MAX_ROLL i16 0
CAM_AUTO_ONLY i8 0
MNT1_TYPE i8 0
RELAY1_FUNCTION i8 0
RELAY1_PIN i8 -1
RELAY1_DEFAULT i8 0
RELAY2_FUNCTION i8 0
RELAY2_PIN i8 -1
RELAY2_DEFAULT i8 0
SIM_SPEEDUP f 1
SIM_RATE_HZ i16 1200
SIM_WIND_SPD f 0
SIM_WIND_DIR f 180
SIM_WIND_TURB f 0
SIM_GPS1_ENABLE i8 1
SIM_GPS1_TYPE i8 1
SIM_GPS1_NUMSATS i8 10
SIM_BATT_VOLTAGE f 16.8
SIM_BATT_CAP_AH f 5.2
STAT_BOOTCNT i16 1
STAT_FLTTIME i32 0
STAT_RUNTIME i32 0
STAT_RESET i32 0
SRTL_ACCURACY f 2
SRTL_POINTS i16 300
SRTL_OPTIONS i32 0
ADSB_TYPE i8 0
AUTOTUNE_AXES i8 7
AUTOTUNE_AGGR f 0.1
AUTOTUNE_MIN_D f 0.001
DID_ENABLE i8 0
RPM1_TYPE i8 0
TCAL_ENABLED i8 0
TMODE_ENABLE i8 0
VTX_ENABLE i8 0
FRSKY_UPLINK_ID i8 13
FRSKY_DNLINK1_ID i8 20
FRSKY_DNLINK2_ID i8 7
FRSKY_DNLINK_ID i8 27
FRSKY_OPTIONS i8 0
OSD_TYPE i8 0
SCR_ENABLE i8 0
GEN_TYPE i8 0
EFI_TYPE i8 0
GRIP_ENABLE i8 0
PLND_ENABLED i8 0
WINCH_TYPE i8 0
ESC_TLM_MAV_OFS i8 0
TEMP1_TYPE i8 0
KDE_NPOLE i8 14
";

/// The numbered families: servo outputs, RC inputs, serial ports, telemetry rates and
/// the attitude/position controllers' PID sets.
fn families(add: &mut impl FnMut(&str, MavParamType, f64)) {
    use MavParamType::{
        MAV_PARAM_TYPE_INT16 as I16, MAV_PARAM_TYPE_INT32 as I32, MAV_PARAM_TYPE_INT8 as I8,
        MAV_PARAM_TYPE_REAL32 as F,
    };
    // ArduCopter's quad-X: outputs 1–4 drive motors (functions 33–36), the rest are free.
    for n in 1..=16u8 {
        let function = if n <= 4 { 32.0 + f64::from(n) } else { 0.0 };
        add(&format!("SERVO{n}_MIN"), I16, 1100.0);
        add(&format!("SERVO{n}_MAX"), I16, 1900.0);
        add(&format!("SERVO{n}_TRIM"), I16, 1500.0);
        add(&format!("SERVO{n}_REVERSED"), I8, 0.0);
        add(&format!("SERVO{n}_FUNCTION"), I16, function);
    }
    for n in 1..=16u8 {
        // Throttle's trim sits at the bottom of its range; a real radio calibration
        // leaves numbers a little off round.
        let trim = if n == 3 { 1100.0 } else { 1500.0 };
        add(&format!("RC{n}_MIN"), I16, 1100.0);
        add(&format!("RC{n}_TRIM"), I16, trim);
        add(&format!("RC{n}_MAX"), I16, 1900.0);
        add(&format!("RC{n}_REVERSED"), I8, 0.0);
        add(&format!("RC{n}_DZ"), I16, if n <= 4 { 20.0 } else { 0.0 });
        add(&format!("RC{n}_OPTION"), I16, 0.0);
    }
    let rcmap = [
        ("RCMAP_ROLL", 1.0),
        ("RCMAP_PITCH", 2.0),
        ("RCMAP_THROTTLE", 3.0),
        ("RCMAP_YAW", 4.0),
    ];
    for (name, channel) in rcmap {
        add(name, I8, channel);
    }
    // SERIAL0 is USB (MAVLink2), 1–2 telemetry, 3 GPS, the rest unused.
    let serial = [
        (2.0, 115.0),
        (2.0, 57.0),
        (2.0, 57.0),
        (5.0, 38.0),
        (-1.0, 38.0),
        (-1.0, 57.0),
        (-1.0, 57.0),
        (-1.0, 57.0),
        (-1.0, 57.0),
    ];
    for (n, (protocol, baud)) in serial.into_iter().enumerate() {
        add(&format!("SERIAL{n}_PROTOCOL"), I8, protocol);
        add(&format!("SERIAL{n}_BAUD"), I32, baud);
        add(&format!("SERIAL{n}_OPTIONS"), I16, 0.0);
    }
    add("SERIAL_PASS1", I8, 0.0);
    add("SERIAL_PASS2", I8, -1.0);
    add("SERIAL_PASSTIMO", I8, 15.0);
    for n in 0..=6u8 {
        for (field, rate) in [
            ("RAW_SENS", 1.0),
            ("EXT_STAT", 1.0),
            ("RC_CHAN", 1.0),
            ("RAW_CTRL", 1.0),
            ("POSITION", 1.0),
            ("EXTRA1", 1.0),
            ("EXTRA2", 1.0),
            ("EXTRA3", 1.0),
            ("PARAMS", 10.0),
            ("ADSB", 0.0),
        ] {
            add(
                &format!("SR{n}_{field}"),
                I16,
                if n == 0 { rate * 4.0 } else { rate },
            );
        }
    }
    for (axis, p, i, d) in [
        ("RLL", 0.135, 0.135, 0.0036),
        ("PIT", 0.135, 0.135, 0.0036),
        ("YAW", 0.18, 0.018, 0.0),
    ] {
        let pid = [
            ("P", p),
            ("I", i),
            ("D", d),
            ("IMAX", 0.5),
            ("FF", 0.0),
            ("FLTT", 20.0),
            ("FLTE", if axis == "YAW" { 2.5 } else { 0.0 }),
            ("FLTD", 20.0),
            ("SMAX", 0.0),
            ("D_FF", 0.0),
            ("NTF", 0.0),
            ("NEF", 0.0),
            ("PDMX", 0.0),
        ];
        for (term, value) in pid {
            add(
                &format!("ATC_RAT_{axis}_{term}"),
                if term == "NTF" || term == "NEF" {
                    I8
                } else {
                    F
                },
                value,
            );
        }
    }
    let controllers: [(&str, &[(&str, f64)]); 3] = [
        (
            "PSC_VELXY",
            &[
                ("P", 2.0),
                ("I", 1.0),
                ("D", 0.5),
                ("IMAX", 1000.0),
                ("FLTE", 5.0),
                ("FLTD", 5.0),
                ("FF", 0.0),
            ],
        ),
        (
            "PSC_VELZ",
            &[
                ("P", 5.0),
                ("I", 0.0),
                ("D", 0.0),
                ("IMAX", 1000.0),
                ("FF", 0.0),
                ("FLTE", 5.0),
                ("FLTD", 5.0),
            ],
        ),
        (
            "PSC_ACCZ",
            &[
                ("P", 0.5),
                ("I", 1.0),
                ("D", 0.0),
                ("IMAX", 800.0),
                ("FF", 0.0),
                ("FLTT", 0.0),
                ("FLTE", 20.0),
                ("FLTD", 0.0),
                ("SMAX", 0.0),
                ("D_FF", 0.0),
                ("NTF", 0.0),
                ("NEF", 0.0),
                ("PDMX", 0.0),
            ],
        ),
    ];
    for (prefix, terms) in controllers {
        for (term, value) in terms {
            add(
                &format!("{prefix}_{term}"),
                if *term == "NTF" || *term == "NEF" {
                    I8
                } else {
                    F
                },
                *value,
            );
        }
    }
    // Two harmonic notch filters on the gyros.
    for notch in ["HNTCH", "HNTC2"] {
        for (field, kind, value) in [
            ("ENABLE", I8, 0.0),
            ("FREQ", F, 80.0),
            ("BW", F, 40.0),
            ("ATT", F, 40.0),
            ("HMNCS", I8, 3.0),
            ("REF", F, 0.0),
            ("MODE", I8, 1.0),
            ("OPTS", I8, 0.0),
            ("FM_RAT", F, 1.0),
        ] {
            add(&format!("INS_{notch}_{field}"), kind, value);
        }
    }
    // Three IMUs' temperature calibration polynomials.
    for imu in 1..=3u8 {
        add(&format!("INS_TCAL{imu}_ENABLE"), I8, 0.0);
        add(&format!("INS_TCAL{imu}_TMIN"), F, 0.0);
        add(&format!("INS_TCAL{imu}_TMAX"), F, 0.0);
        for sensor in ["ACC", "GYR"] {
            for order in 1..=3u8 {
                for axis in ["X", "Y", "Z"] {
                    add(&format!("INS_TCAL{imu}_{sensor}{order}_{axis}"), F, 0.0);
                }
            }
        }
    }
}

/// A PARAM_REQUEST_READ asking by name.
#[cfg(test)]
pub(crate) fn read_by_name(name: &str) -> PARAM_REQUEST_READ_DATA {
    PARAM_REQUEST_READ_DATA {
        param_index: -1,
        target_system: 1,
        target_component: 1,
        param_id: encode_name(name).expect("test names fit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(msg: &MavMessage) -> &PARAM_VALUE_DATA {
        match msg {
            MavMessage::PARAM_VALUE(v) => v,
            other => panic!("expected PARAM_VALUE, got {other:?}"),
        }
    }

    #[test]
    fn about_a_thousand_unique_short_names() {
        let table = ParamTable::arducopter(1);
        assert!(
            (950..=1100).contains(&table.len()),
            "{} parameters",
            table.len()
        );
        let mut names: Vec<&str> = table.params().iter().map(|p| p.name.as_str()).collect();
        for name in &names {
            assert!(encode_name(name).is_ok(), "{name} cannot travel");
        }
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate names");
    }

    #[test]
    fn types_and_defaults_are_arducopters() {
        let table = ParamTable::arducopter(7);
        let check = |name: &str, param_type: MavParamType, value: f64| {
            let p = table.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!((p.param_type, p.value), (param_type, value), "{name}");
        };
        check("SYSID_THISMAV", MavParamType::MAV_PARAM_TYPE_INT16, 7.0);
        check("RTL_ALT", MavParamType::MAV_PARAM_TYPE_INT32, 1500.0);
        check("WPNAV_SPEED", MavParamType::MAV_PARAM_TYPE_REAL32, 1000.0);
        check("FLTMODE6", MavParamType::MAV_PARAM_TYPE_INT8, 4.0);
        check("SERVO16_FUNCTION", MavParamType::MAV_PARAM_TYPE_INT16, 0.0);
        check("SERVO1_FUNCTION", MavParamType::MAV_PARAM_TYPE_INT16, 33.0);
        check("RC16_OPTION", MavParamType::MAV_PARAM_TYPE_INT16, 0.0);
        check("ARMING_CHECK", MavParamType::MAV_PARAM_TYPE_INT32, 1.0);
        check(
            "ATC_RAT_RLL_P",
            MavParamType::MAV_PARAM_TYPE_REAL32,
            0.135f32 as f64,
        );
    }

    #[test]
    fn the_table_is_the_same_every_time() {
        let a = ParamTable::arducopter(1);
        let b = ParamTable::arducopter(1);
        assert_eq!(a.params(), b.params());
    }

    #[test]
    fn set_rounds_and_clamps_integers_and_refuses_nan() {
        let mut table = ParamTable::arducopter(1);
        assert_eq!(table.set("FLTMODE1", 300.0).map(|p| p.value), Some(127.0));
        assert_eq!(table.set("RTL_ALT", 2499.6).map(|p| p.value), Some(2500.0));
        assert_eq!(
            table.set("WPNAV_SPEED", 0.1).map(|p| p.value),
            Some(f64::from(0.1f32))
        );
        assert!(table.set("WPNAV_SPEED", f64::NAN).is_none());
        assert!(table.set("NO_SUCH_PARAM", 1.0).is_none());
    }

    #[test]
    fn a_list_is_paced_at_the_configured_rate_with_index_and_count() {
        let mut server = ParamServer::new(ParamTable::arducopter(1), 500.0);
        let count = server.table().len();
        server.request_list(0.0);
        let mut sent = Vec::new();
        let mut t = 0.0;
        // One second of 10 ms ticks sends about 500.
        for i in 0..100 {
            t = f64::from(i) * 0.01;
            sent.extend(server.poll(t));
        }
        assert!((495..=505).contains(&sent.len()), "{} in 1 s", sent.len());
        while server.listing() {
            t += 0.01;
            sent.extend(server.poll(t));
        }
        assert_eq!(sent.len(), count);
        for (i, msg) in sent.iter().enumerate() {
            let v = value_of(msg);
            assert_eq!(usize::from(v.param_index), i);
            assert_eq!(usize::from(v.param_count), count);
        }
    }

    #[test]
    fn a_stalled_caller_gets_a_small_burst_not_the_list() {
        let mut server = ParamServer::new(ParamTable::arducopter(1), 500.0);
        server.request_list(0.0);
        let burst = server.poll(5.0);
        assert!(burst.len() <= 12, "{} at once", burst.len());
    }

    #[test]
    fn read_by_index_and_by_name_and_unknown_is_silent() {
        let server = ParamServer::new(ParamTable::arducopter(1), 500.0);
        let by_name = server
            .request_read(&read_by_name("RTL_ALT"))
            .expect("known");
        let index = value_of(&by_name).param_index;
        let by_index = server
            .request_read(&PARAM_REQUEST_READ_DATA {
                param_index: index as i16,
                ..read_by_name("RTL_ALT")
            })
            .expect("in range");
        assert_eq!(by_name, by_index);
        assert_eq!(decode_name(&value_of(&by_name).param_id), "RTL_ALT");
        assert!(server.request_read(&read_by_name("NOPE")).is_none());
        assert!(server
            .request_read(&PARAM_REQUEST_READ_DATA {
                param_index: 30000,
                ..read_by_name("x")
            })
            .is_none());
    }

    #[test]
    fn set_replies_with_the_stored_value_in_the_vehicles_type() {
        let mut server = ParamServer::new(ParamTable::arducopter(1), 500.0);
        let reply = server
            .set(&PARAM_SET_DATA {
                param_value: 2000.4,
                target_system: 1,
                target_component: 1,
                param_id: encode_name("RTL_ALT").expect("fits"),
                // The sender's type is ignored, as on ArduPilot.
                param_type: MavParamType::MAV_PARAM_TYPE_REAL32,
            })
            .expect("known name");
        let v = value_of(&reply);
        assert_eq!(v.param_value, 2000.0);
        assert_eq!(v.param_type, MavParamType::MAV_PARAM_TYPE_INT32);
        assert_eq!(server.table().value("RTL_ALT"), Some(2000.0));
        assert!(server
            .set(&PARAM_SET_DATA {
                param_id: encode_name("NOPE").expect("fits"),
                ..PARAM_SET_DATA::default()
            })
            .is_none());
    }
}
