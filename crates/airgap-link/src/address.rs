//! Link addresses: the one place that knows the ecosystem's spellings (pymavlink,
//! MAVProxy, rust-mavlink) and turns them into a typed [`Address`], once.
//!
//! | written | means |
//! |---|---|
//! | `udpin:0.0.0.0:14550` | listen for UDP, answer whoever sends |
//! | `udpout:127.0.0.1:14550` | send UDP to that address, take its replies |
//! | `udp:HOST:PORT` | `udpin` when HOST is unspecified (`0.0.0.0`, `::`), else `udpout` |
//! | `tcp:HOST:PORT`, `tcpout:HOST:PORT` | TCP client; HOST may be a name, resolved at connect |
//! | `tcpin:0.0.0.0:5760` | TCP server |
//! | `serial:/dev/ttyUSB0:57600`, `/dev/ttyACM0:115200`, `COM3:57600`, `/dev/ttyUSB0,57600` | serial port, 8N1; 115200 baud when omitted |
//! | `replay:flight.tlog`, `replay:flight.tlog@2`, `replay:flight.tlog@max` | play a log back at 1×, 2×, or as fast as possible |
//!
//! MAVProxy reads `udp:` as "listen" only for a bind-style address; we follow the
//! same split by the host. A bare `HOST:PORT` is refused: pymavlink reads it as
//! `udpin`, which surprises people who meant to send there.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// Baud rate for a serial address that does not name one (USB autopilots ignore it).
pub const DEFAULT_BAUD: u32 = 115_200;

const ACCEPTED_FORMS: &str = "accepted forms: udpin:HOST:PORT, udpout:HOST:PORT, \
udp:HOST:PORT (0.0.0.0 or :: listens, any other host sends), tcp:HOST:PORT, \
tcpout:HOST:PORT, tcpin:HOST:PORT, serial:DEVICE[:BAUD], DEVICE[:BAUD] \
(/dev/ttyUSB0:57600, COM3:57600), replay:FILE.tlog[@SPEED|@max]";

/// Where a link goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Address {
    UdpIn(SocketAddr),
    UdpOut(SocketAddr),
    TcpOut { host: String, port: u16 },
    TcpIn(SocketAddr),
    Serial { path: String, baud: u32 },
    Replay { path: PathBuf, speed: ReplaySpeed },
}

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplaySpeed {
    /// No pacing: frames as fast as the consumer takes them.
    Max,
    /// Log time divided by this factor (finite, > 0); 1 is real time.
    Factor(f64),
}

impl ReplaySpeed {
    pub fn factor(factor: f64) -> Result<Self, String> {
        if factor.is_finite() && factor > 0.0 {
            Ok(Self::Factor(factor))
        } else {
            Err(format!(
                "replay speed must be a finite number above 0, not {factor}"
            ))
        }
    }
}

/// A link address that could not be understood. Every message names the problem and
/// lists the accepted forms.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    #[error("empty link address; {ACCEPTED_FORMS}")]
    Empty,
    #[error("`{input}`: unknown link type `{scheme}`; {ACCEPTED_FORMS}")]
    UnknownScheme { input: String, scheme: String },
    #[error("`{input}`: {scheme} links are not supported; {ACCEPTED_FORMS}")]
    Unsupported { input: String, scheme: String },
    #[error(
        "`{input}` is ambiguous: write udpin:{input} to listen there or udpout:{input} to send \
         there (or tcp:{input}); {ACCEPTED_FORMS}"
    )]
    Ambiguous { input: String },
    #[error("`{input}`: {problem}; {ACCEPTED_FORMS}")]
    BadHostPort { input: String, problem: String },
    #[error("`{input}`: {problem}; {ACCEPTED_FORMS}")]
    BadBaud { input: String, problem: String },
    #[error("`{input}`: {problem}; {ACCEPTED_FORMS}")]
    BadSpeed { input: String, problem: String },
    #[error("`{input}`: {problem}; {ACCEPTED_FORMS}")]
    BadPath { input: String, problem: String },
}

impl Address {
    /// True when using this address sends nothing onto a network: loopback hosts,
    /// serial devices, log replays. The network seal relies on this.
    pub fn is_loopback_or_local(&self) -> bool {
        match self {
            Address::UdpIn(addr) | Address::UdpOut(addr) | Address::TcpIn(addr) => {
                addr.ip().is_loopback()
            }
            Address::TcpOut { host, .. } => match host.parse::<IpAddr>() {
                Ok(ip) => ip.is_loopback(),
                // RFC 6761: `localhost` names loopback; other names could resolve anywhere.
                Err(_) => host.eq_ignore_ascii_case("localhost"),
            },
            Address::Serial { .. } | Address::Replay { .. } => true,
        }
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = s.trim();
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if looks_like_device(input) {
            return parse_serial(input, input);
        }
        let Some((scheme, rest)) = input.split_once(':') else {
            return Err(AddressError::UnknownScheme {
                input: input.into(),
                scheme: input.into(),
            });
        };
        match scheme.to_ascii_lowercase().as_str() {
            "udpin" => Ok(Address::UdpIn(parse_socket_addr(input, rest)?)),
            "udpout" => Ok(Address::UdpOut(parse_socket_addr(input, rest)?)),
            "udp" => {
                let addr = parse_socket_addr(input, rest)?;
                Ok(if addr.ip().is_unspecified() {
                    Address::UdpIn(addr)
                } else {
                    Address::UdpOut(addr)
                })
            }
            "tcp" | "tcpout" => {
                let (host, port) = split_host_port(input, rest)?;
                Ok(Address::TcpOut {
                    host: host.into(),
                    port,
                })
            }
            "tcpin" => Ok(Address::TcpIn(parse_socket_addr(input, rest)?)),
            "serial" => parse_serial(input, rest),
            "replay" => parse_replay(input, rest),
            "udpbcast" | "mcast" | "wsserver" | "ws" => Err(AddressError::Unsupported {
                input: input.into(),
                scheme: scheme.into(),
            }),
            _ if scheme.parse::<IpAddr>().is_ok()
                || scheme.eq_ignore_ascii_case("localhost")
                || rest.parse::<u16>().is_ok() =>
            {
                Err(AddressError::Ambiguous {
                    input: input.into(),
                })
            }
            _ => Err(AddressError::UnknownScheme {
                input: input.into(),
                scheme: scheme.into(),
            }),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::UdpIn(addr) => write!(f, "udpin:{addr}"),
            Address::UdpOut(addr) => write!(f, "udpout:{addr}"),
            Address::TcpOut { host, port } if host.contains(':') => {
                write!(f, "tcp:[{host}]:{port}")
            }
            Address::TcpOut { host, port } => write!(f, "tcp:{host}:{port}"),
            Address::TcpIn(addr) => write!(f, "tcpin:{addr}"),
            Address::Serial { path, baud } => write!(f, "serial:{path}:{baud}"),
            Address::Replay { path, speed } => {
                let path = path.display().to_string();
                match speed {
                    ReplaySpeed::Max => write!(f, "replay:{path}@max"),
                    // An `@` in the path would be read as a speed: always spell it out then.
                    ReplaySpeed::Factor(x) if *x == 1.0 && !path.contains('@') => {
                        write!(f, "replay:{path}")
                    }
                    ReplaySpeed::Factor(x) => write!(f, "replay:{path}@{x}"),
                }
            }
        }
    }
}

/// Serial device names that may be written without `serial:`.
fn looks_like_device(s: &str) -> bool {
    if s.starts_with('/') || s.starts_with(r"\\.\") {
        return true;
    }
    let upper = s.get(..3).map(str::to_ascii_uppercase);
    upper.as_deref() == Some("COM")
        && s[3..]
            .split([':', ','])
            .next()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_serial(input: &str, rest: &str) -> Result<Address, AddressError> {
    // The baud follows the last `:` (or pymavlink's `,`) only if it is a number: device
    // paths such as /dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0 contain colons.
    let split = rest.rsplit_once([':', ',']).and_then(|(path, baud)| {
        (!baud.is_empty() && baud.bytes().all(|b| b.is_ascii_digit())).then_some((path, baud))
    });
    let (path, baud) = match split {
        Some((path, baud)) => {
            let baud: u32 = baud.parse().map_err(|_| AddressError::BadBaud {
                input: input.into(),
                problem: format!("baud rate `{baud}` is too large"),
            })?;
            if baud == 0 {
                return Err(AddressError::BadBaud {
                    input: input.into(),
                    problem: "baud rate must be above 0".into(),
                });
            }
            (path, baud)
        }
        None => (rest, DEFAULT_BAUD),
    };
    if path.is_empty() {
        return Err(AddressError::BadPath {
            input: input.into(),
            problem: "no serial device named".into(),
        });
    }
    Ok(Address::Serial {
        path: path.into(),
        baud,
    })
}

fn parse_replay(input: &str, rest: &str) -> Result<Address, AddressError> {
    let (path, speed) = match rest.rsplit_once('@') {
        // An `@` inside a directory name is part of the path, not a speed.
        Some((path, speed)) if !speed.contains(['/', '\\']) => {
            let speed = if speed.eq_ignore_ascii_case("max") {
                ReplaySpeed::Max
            } else {
                let number = speed.strip_suffix(['x', 'X']).unwrap_or(speed);
                let factor: f64 = number.parse().map_err(|_| AddressError::BadSpeed {
                    input: input.into(),
                    problem: format!("replay speed `{speed}` is not a number or `max`"),
                })?;
                ReplaySpeed::factor(factor).map_err(|problem| AddressError::BadSpeed {
                    input: input.into(),
                    problem,
                })?
            };
            (path, speed)
        }
        _ => (rest, ReplaySpeed::Factor(1.0)),
    };
    if path.is_empty() {
        return Err(AddressError::BadPath {
            input: input.into(),
            problem: "no log file named".into(),
        });
    }
    Ok(Address::Replay {
        path: PathBuf::from(path),
        speed,
    })
}

/// `HOST:PORT` or `[V6]:PORT`, host not resolved.
fn split_host_port<'a>(input: &str, rest: &'a str) -> Result<(&'a str, u16), AddressError> {
    let bad = |problem: String| AddressError::BadHostPort {
        input: input.into(),
        problem,
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("missing `]` after an IPv6 address".into()))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| bad("missing `:PORT` after the host".into()))?;
        (host, port)
    } else {
        rest.rsplit_once(':')
            .ok_or_else(|| bad("missing `:PORT` after the host".into()))?
    };
    if host.is_empty() {
        return Err(bad("missing host before `:PORT`".into()));
    }
    if host.contains(':') && !rest.starts_with('[') {
        return Err(bad(format!(
            "write the IPv6 address `{host}` in brackets: [{host}]:{port}"
        )));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._:%".contains(&b))
    {
        return Err(bad(format!("`{host}` is not a host name or IP address")));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| bad(format!("`{port}` is not a port number (0-65535)")))?;
    Ok((host, port))
}

/// `IP:PORT`; `localhost` is taken as 127.0.0.1 since a bind or UDP peer needs an IP.
fn parse_socket_addr(input: &str, rest: &str) -> Result<SocketAddr, AddressError> {
    let (host, port) = split_host_port(input, rest)?;
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().map_err(|_| AddressError::BadHostPort {
            input: input.into(),
            problem: format!("`{host}` is not an IP address (names are only allowed for tcp:)"),
        })?
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Address {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn sock(s: &str) -> SocketAddr {
        s.parse().expect("test socket address")
    }

    fn serial(path: &str, baud: u32) -> Address {
        Address::Serial {
            path: path.into(),
            baud,
        }
    }

    #[test]
    fn every_documented_form_parses() {
        let cases = [
            ("udpin:0.0.0.0:14550", Address::UdpIn(sock("0.0.0.0:14550"))),
            (
                "udpout:127.0.0.1:14550",
                Address::UdpOut(sock("127.0.0.1:14550")),
            ),
            ("udp:0.0.0.0:14550", Address::UdpIn(sock("0.0.0.0:14550"))),
            ("udp:[::]:14550", Address::UdpIn(sock("[::]:14550"))),
            (
                "udp:127.0.0.1:14550",
                Address::UdpOut(sock("127.0.0.1:14550")),
            ),
            (
                "udpout:localhost:14550",
                Address::UdpOut(sock("127.0.0.1:14550")),
            ),
            ("udpin:[::1]:14550", Address::UdpIn(sock("[::1]:14550"))),
            (
                "tcp:127.0.0.1:5760",
                Address::TcpOut {
                    host: "127.0.0.1".into(),
                    port: 5760,
                },
            ),
            (
                "tcpout:localhost:5760",
                Address::TcpOut {
                    host: "localhost".into(),
                    port: 5760,
                },
            ),
            (
                "TCP:sitl.example:5762",
                Address::TcpOut {
                    host: "sitl.example".into(),
                    port: 5762,
                },
            ),
            (
                "tcp:[::1]:5760",
                Address::TcpOut {
                    host: "::1".into(),
                    port: 5760,
                },
            ),
            ("tcpin:0.0.0.0:5760", Address::TcpIn(sock("0.0.0.0:5760"))),
            ("serial:/dev/ttyUSB0:57600", serial("/dev/ttyUSB0", 57600)),
            ("serial:/dev/ttyUSB0", serial("/dev/ttyUSB0", 115_200)),
            ("/dev/ttyACM0:115200", serial("/dev/ttyACM0", 115_200)),
            ("/dev/ttyACM0", serial("/dev/ttyACM0", 115_200)),
            ("/dev/ttyUSB0,57600", serial("/dev/ttyUSB0", 57600)),
            ("COM3:57600", serial("COM3", 57600)),
            ("com12", serial("com12", 115_200)),
            ("serial:COM3:57600", serial("COM3", 57600)),
            (
                "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0",
                serial(
                    "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0",
                    115_200,
                ),
            ),
            (
                "replay:flight.tlog",
                Address::Replay {
                    path: "flight.tlog".into(),
                    speed: ReplaySpeed::Factor(1.0),
                },
            ),
            (
                "replay:flight.tlog@2",
                Address::Replay {
                    path: "flight.tlog".into(),
                    speed: ReplaySpeed::Factor(2.0),
                },
            ),
            (
                "replay:/logs/a@b/flight.tlog@0.5x",
                Address::Replay {
                    path: "/logs/a@b/flight.tlog".into(),
                    speed: ReplaySpeed::Factor(0.5),
                },
            ),
            (
                "replay:flight.tlog@max",
                Address::Replay {
                    path: "flight.tlog".into(),
                    speed: ReplaySpeed::Max,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), expected, "{text}");
        }
    }

    #[test]
    fn bad_addresses_say_what_is_wrong_and_list_the_forms() {
        let cases = [
            ("", "empty link address"),
            ("bogus:1.2.3.4:5", "unknown link type `bogus`"),
            (
                "udpbcast:255.255.255.255:14550",
                "udpbcast links are not supported",
            ),
            (
                "127.0.0.1:14550",
                "is ambiguous: write udpin:127.0.0.1:14550",
            ),
            ("localhost:5760", "is ambiguous"),
            ("udpin:0.0.0.0", "missing `:PORT`"),
            ("udpin:0.0.0.0:99999", "`99999` is not a port number"),
            (
                "udpout:example.com:14550",
                "`example.com` is not an IP address",
            ),
            ("tcp::5760", "missing host"),
            ("tcp:::1:5760", "in brackets"),
            ("tcp:bad host:5760", "is not a host name"),
            ("serial:/dev/ttyUSB0:0", "baud rate must be above 0"),
            ("serial:/dev/ttyUSB0:99999999999", "is too large"),
            ("serial:", "no serial device"),
            ("replay:flight.tlog@0", "above 0"),
            ("replay:flight.tlog@-2", "above 0"),
            ("replay:flight.tlog@inf", "finite"),
            ("replay:flight.tlog@fast", "`fast` is not a number or `max`"),
            ("replay:", "no log file"),
        ];
        for (text, needle) in cases {
            let err = text
                .parse::<Address>()
                .expect_err(&format!("{text} should not parse"))
                .to_string();
            assert!(err.contains(needle), "{text}: `{err}` lacks `{needle}`");
            assert!(
                err.contains("accepted forms: udpin:HOST:PORT"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn loopback_and_local_addresses() {
        for local in [
            "udpin:127.0.0.1:14550",
            "udpout:127.0.0.1:14550",
            "udpin:[::1]:14550",
            "tcp:localhost:5760",
            "tcp:127.0.0.2:5760",
            "tcpin:127.0.0.1:5760",
            "serial:/dev/ttyUSB0",
            "replay:x.tlog",
        ] {
            assert!(parse(local).is_loopback_or_local(), "{local}");
        }
        for remote in [
            "udpin:0.0.0.0:14550",
            "udpout:192.0.2.1:14550",
            "tcp:sitl.example:5760",
            "tcpin:0.0.0.0:5760",
        ] {
            assert!(!parse(remote).is_loopback_or_local(), "{remote}");
        }
    }

    fn arb_socket() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            (any::<[u16; 8]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        ]
    }

    fn arb_address() -> impl Strategy<Value = Address> {
        let host = prop_oneof![
            "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,5}){0,2}",
            any::<[u8; 4]>().prop_map(|ip| IpAddr::from(ip).to_string()),
            any::<[u16; 8]>().prop_map(|ip| IpAddr::from(ip).to_string()),
        ];
        let path = "(/[a-zA-Z0-9_.@:-]{1,12}){1,4}";
        prop_oneof![
            arb_socket().prop_map(Address::UdpIn),
            arb_socket().prop_map(Address::UdpOut),
            arb_socket().prop_map(Address::TcpIn),
            (host, any::<u16>()).prop_map(|(host, port)| Address::TcpOut { host, port }),
            (path, 1..=4_000_000u32).prop_map(|(path, baud)| Address::Serial { path, baud }),
            ("COM[1-9][0-9]?", 1..=4_000_000u32)
                .prop_map(|(path, baud)| Address::Serial { path, baud }),
            (
                path,
                prop_oneof![
                    Just(ReplaySpeed::Max),
                    (1e-3f64..1e3).prop_map(ReplaySpeed::Factor),
                    Just(ReplaySpeed::Factor(1.0)),
                ]
            )
                .prop_map(|(path, speed)| Address::Replay {
                    path: path.into(),
                    speed
                }),
        ]
    }

    proptest! {
        #[test]
        fn display_parses_back_to_the_same_address(address in arb_address()) {
            let text = address.to_string();
            let back: Address = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(back, address);
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = text.parse::<Address>();
        }
    }
}
