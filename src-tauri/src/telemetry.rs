//! Engine snapshots → the UI's DTOs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use airgap_engine::{LinkInfo, LinkState, SeriesChunk, Telemetry, VehicleSnapshot};
use airgap_link::{PortKind, SerialPortInfo};

use crate::dto;

/// The UI's refresh: 20 Hz is smooth for numbers and charts (which interpolate at 60 fps)
/// and keeps the IPC to a few kB per tick whatever the link's message rate.
pub const TICK: Duration = Duration::from_millis(50);

pub fn tick(t: &Telemetry) -> dto::TelemetryTick {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    dto::TelemetryTick {
        time_ms: now_ms,
        links: t.links.iter().map(link_view).collect(),
        vehicles: t
            .vehicles
            .iter()
            .map(|v| vehicle_view(v, t.series.get(&v.key).map(Vec::as_slice).unwrap_or(&[])))
            .collect(),
    }
}

pub fn link_view(l: &LinkInfo) -> dto::LinkView {
    dto::LinkView {
        id: l.id.0,
        address: l.address.to_string(),
        state: match l.state {
            LinkState::Connecting => dto::LinkState::Connecting,
            LinkState::Up => dto::LinkState::Up,
            LinkState::Lost => dto::LinkState::Lost,
            LinkState::Closed => dto::LinkState::Closed,
        },
        detail: l.detail.clone(),
        rx_frames: l.stats.rx_frames as f64,
        tx_frames: l.stats.tx_frames as f64,
        rx_bytes: l.stats.rx_bytes as f64,
        tx_bytes: l.stats.tx_bytes as f64,
        crc_errors: l.stats.crc_errors as f64,
        seq_gaps: l.stats.seq_gaps as f64,
        quality_pct: l.quality_pct,
        recording: l.flight.is_some(),
    }
}

fn vehicle_view(v: &VehicleSnapshot, series: &[SeriesChunk]) -> dto::VehicleView {
    let s = &v.state;
    dto::VehicleView {
        key: dto::VehicleKey {
            sysid: v.key.sysid,
            compid: v.key.compid,
        },
        link_id: v.link.0,
        autopilot: s.autopilot_name().unwrap_or("Unknown").into(),
        vehicle_type: s.vehicle_type_name().unwrap_or("Unknown").into(),
        armed: s.armed,
        mode: s.mode_name(),
        lost: v.lost,
        last_heartbeat_ms: s.last_heartbeat_us.map(|t| t as f64 / 1000.0),
        roll_deg: s.roll_deg,
        pitch_deg: s.pitch_deg,
        yaw_deg: s.yaw_deg,
        heading_deg: s.heading_deg,
        lat_deg: s.lat_deg,
        lon_deg: s.lon_deg,
        alt_msl_m: s.alt_msl_m,
        alt_rel_m: s.alt_rel_m,
        groundspeed_m_s: s.groundspeed_m_s,
        airspeed_m_s: s.airspeed_m_s,
        climb_m_s: s.climb_m_s,
        throttle_pct: s.throttle_pct,
        battery_v: s.battery_v,
        battery_a: s.battery_a,
        battery_pct: s.battery_pct,
        gps_fix: s.gps_fix_name().map(Into::into),
        satellites: s.satellites,
        hdop: s.hdop,
        statustext: s
            .statustext
            .iter()
            .map(|t| dto::StatusLine {
                severity: t.severity,
                text: t.text.clone(),
                time_ms: t.time_us as f64 / 1000.0,
            })
            .collect(),
        series: series.iter().map(series_delta).collect(),
    }
}

fn series_delta(c: &SeriesChunk) -> dto::SeriesDelta {
    dto::SeriesDelta {
        group: c.group.name().into(),
        columns: c.group.columns().iter().map(|s| (*s).into()).collect(),
        t_s: c.t_us.iter().map(|&t| t as f64 / 1e6).collect(),
        values: c
            .columns
            .iter()
            .map(|col| col.iter().map(|&v| f64::from(v)).collect())
            .collect(),
    }
}

pub fn serial_port_view(p: &SerialPortInfo) -> dto::SerialPortView {
    dto::SerialPortView {
        path: p.path.clone(),
        description: port_description(p),
        vid: p.vid,
        pid: p.pid,
        kind: match p.kind {
            PortKind::Autopilot => "autopilot",
            PortKind::Radio => "radio",
            PortKind::Unknown => "unknown",
        }
        .into(),
        suggested_baud: p.suggested_baud(),
    }
}

/// `USB 1209:5741 ArduPilot Pixhawk1` or `PCI` when the port is not on USB.
fn port_description(p: &SerialPortInfo) -> String {
    let mut words = Vec::new();
    if let (Some(vid), Some(pid)) = (p.vid, p.pid) {
        words.push(format!("USB {vid:04x}:{pid:04x}"));
    }
    words.extend(p.manufacturer.iter().cloned());
    words.extend(p.product.iter().cloned());
    if words.is_empty() {
        "not USB".into()
    } else {
        words.join(" ")
    }
}
