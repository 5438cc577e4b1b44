//! Serial ports: the transport (8N1, no flow control, reopened every second after a
//! USB unplug), and the list of ports with a guess at what is plugged in.

use tokio_serial::{DataBits, FlowControl, Parity, SerialPortBuilderExt, SerialStream, StopBits};

use crate::link::{LinkError, LinkEvent, LinkIo};
use crate::stream::{run_session, wait_retry, SessionEnd, WRITE_STALL};

pub(crate) fn spawn(path: String, baud: u32, mut io: LinkIo) {
    tokio::spawn(async move {
        let reason = run(&path, baud, &mut io).await;
        io.finish(reason).await;
    });
}

fn open(path: &str, baud: u32) -> Result<SerialStream, tokio_serial::Error> {
    tokio_serial::new(path, baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .open_native_async()
}

/// Opening takes the port exclusively (TIOCEXCL), which the kernel clears only when
/// the device's last user closes it. A pty whose server keeps the slave open would
/// then refuse every later client that is not root: give exclusivity back first.
fn release(port: &mut SerialStream) {
    #[cfg(unix)]
    if let Err(e) = port.set_exclusive(false) {
        // Typically the device is gone (unplugged); nothing is left to release.
        tracing::debug!("releasing the serial port: {e}");
    }
    #[cfg(not(unix))]
    let _ = port;
}

async fn run(path: &str, baud: u32, io: &mut LinkIo) -> String {
    let mut down_reported = false;
    loop {
        let reason = match open(path, baud) {
            Ok(mut port) => {
                let up = LinkEvent::Up { peer: path.into() };
                if io.rx.emit(up).await.is_err() {
                    return "cancelled".into();
                }
                down_reported = false;
                let end = run_session(&mut port, io, WRITE_STALL, || {}).await;
                release(&mut port);
                match end {
                    SessionEnd::Stopped => return "cancelled".into(),
                    SessionEnd::Lost(reason) => format!("{path}: {reason}"),
                }
            }
            Err(e) => format!("cannot open {path}: {e}"),
        };
        if !down_reported {
            tracing::info!("{reason}; retrying every second");
            if io.rx.emit(LinkEvent::Down { reason }).await.is_err() {
                return "cancelled".into();
            }
            down_reported = true;
        }
        if wait_retry(io).await.is_err() {
            return "cancelled".into();
        }
    }
}

/// What a serial port probably connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PortKind {
    /// A flight controller on USB.
    Autopilot,
    /// A telemetry radio (SiK, RFD900) behind a USB-serial bridge.
    Radio,
    Unknown,
}

/// A serial port found on this machine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SerialPortInfo {
    pub path: String,
    pub vid: Option<u16>,
    pub pid: Option<u16>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial_number: Option<String>,
    pub kind: PortKind,
}

impl SerialPortInfo {
    /// The usual rate: USB autopilots ignore the rate (115200 by convention), SiK
    /// radios default to 57600.
    pub fn suggested_baud(&self) -> u32 {
        match self.kind {
            PortKind::Radio => 57_600,
            PortKind::Autopilot | PortKind::Unknown => crate::address::DEFAULT_BAUD,
        }
    }

    /// The address that opens this port at the suggested rate.
    pub fn address(&self) -> crate::Address {
        crate::Address::Serial {
            path: self.path.clone(),
            baud: self.suggested_baud(),
        }
    }
}

/// Serial ports present now, autopilots first.
pub fn serial_ports() -> Result<Vec<SerialPortInfo>, LinkError> {
    let ports = serialport::available_ports().map_err(|e| LinkError::SerialPorts(e.to_string()))?;
    let mut infos: Vec<SerialPortInfo> = ports
        .into_iter()
        .map(|port| match port.port_type {
            serialport::SerialPortType::UsbPort(usb) => {
                let kind = classify(
                    usb.vid,
                    usb.pid,
                    usb.manufacturer.as_deref(),
                    usb.product.as_deref(),
                );
                SerialPortInfo {
                    path: port.port_name,
                    vid: Some(usb.vid),
                    pid: Some(usb.pid),
                    manufacturer: usb.manufacturer,
                    product: usb.product,
                    serial_number: usb.serial_number,
                    kind,
                }
            }
            _ => SerialPortInfo {
                path: port.port_name,
                vid: None,
                pid: None,
                manufacturer: None,
                product: None,
                serial_number: None,
                kind: PortKind::Unknown,
            },
        })
        .collect();
    infos.sort_by_key(|p| {
        (
            p.kind != PortKind::Autopilot,
            p.kind != PortKind::Radio,
            p.path.clone(),
        )
    });
    Ok(infos)
}

/// Guess the device from USB ids first, then from the names it reports.
pub fn classify(vid: u16, pid: u16, manufacturer: Option<&str>, product: Option<&str>) -> PortKind {
    match (vid, pid) {
        // ArduPilot ChibiOS boards and their bootloaders (pid.codes 1209:5740/5741).
        (0x1209, 0x5740 | 0x5741) => return PortKind::Autopilot,
        // PX4 / 3D Robotics (Pixhawk 1, Pixracer...).
        (0x26ac, _) => return PortKind::Autopilot,
        // Hex / ProfiCNC (Cube).
        (0x2dae, _) => return PortKind::Autopilot,
        // Holybro.
        (0x3162, _) => return PortKind::Autopilot,
        // CubePilot (newer Cubes).
        (0x35a7, _) => return PortKind::Autopilot,
        // mRo on pid.codes.
        (0x1209, 0x5742..=0x5749) => return PortKind::Autopilot,
        // ArduPilot on STM32 virtual COM ports (Matek and other F4/F7/H7 boards).
        (0x0483, 0x5740) => return PortKind::Autopilot,
        // FTDI FT232R / FT231X: SiK radios, RFD900.
        (0x0403, 0x6001 | 0x6015) => return PortKind::Radio,
        // Silicon Labs CP210x: 3DR / Holybro SiK radios.
        (0x10c4, 0xea60) => return PortKind::Radio,
        _ => {}
    }
    let text = format!(
        "{} {}",
        manufacturer.unwrap_or_default(),
        product.unwrap_or_default()
    )
    .to_ascii_lowercase();
    const AUTOPILOT_WORDS: [&str; 10] = [
        "ardupilot",
        "px4",
        "pixhawk",
        "cubepilot",
        "cube",
        "holybro",
        "matek",
        "mro",
        "3d robotics",
        "fmu",
    ];
    const RADIO_WORDS: [&str; 4] = ["sik", "rfd", "radio", "telemetry"];
    if AUTOPILOT_WORDS.iter().any(|w| text.contains(w)) {
        PortKind::Autopilot
    } else if RADIO_WORDS.iter().any(|w| text.contains(w)) {
        PortKind::Radio
    } else {
        PortKind::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_devices_are_classified() {
        assert_eq!(classify(0x1209, 0x5740, None, None), PortKind::Autopilot);
        assert_eq!(classify(0x26ac, 0x0011, None, None), PortKind::Autopilot);
        assert_eq!(classify(0x2dae, 0x1016, None, None), PortKind::Autopilot);
        assert_eq!(classify(0x3162, 0x004b, None, None), PortKind::Autopilot);
        assert_eq!(classify(0x0403, 0x6001, None, None), PortKind::Radio);
        assert_eq!(classify(0x0403, 0x6015, None, None), PortKind::Radio);
        assert_eq!(classify(0x10c4, 0xea60, None, None), PortKind::Radio);
        assert_eq!(
            classify(0x1234, 0x0001, Some("Matek"), Some("MatekH743")),
            PortKind::Autopilot
        );
        assert_eq!(
            classify(0x1234, 0x0001, None, Some("RFD900x")),
            PortKind::Radio
        );
        assert_eq!(
            classify(0x046d, 0xc52b, Some("Logitech"), None),
            PortKind::Unknown
        );
    }

    #[test]
    fn suggested_baud_follows_the_kind() {
        let port = |kind| SerialPortInfo {
            path: "/dev/ttyUSB0".into(),
            vid: None,
            pid: None,
            manufacturer: None,
            product: None,
            serial_number: None,
            kind,
        };
        assert_eq!(port(PortKind::Radio).suggested_baud(), 57_600);
        assert_eq!(port(PortKind::Autopilot).suggested_baud(), 115_200);
        assert_eq!(
            port(PortKind::Radio).address().to_string(),
            "serial:/dev/ttyUSB0:57600"
        );
    }

    #[test]
    fn listing_ports_does_not_fail() {
        // A build machine usually has none; the call must still succeed.
        let ports = serial_ports().expect("enumeration works");
        for port in ports {
            assert!(!port.path.is_empty());
        }
    }
}
