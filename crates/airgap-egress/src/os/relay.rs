//! The frame a sealed process and its seal supervisor exchange for one relayed UDP datagram.
//!
//! A sealed process holds no UDP socket of its own (see `linux.rs` for why): for each UDP
//! vehicle link the supervisor binds a loopback socket and relays its datagrams over a Unix
//! `SOCK_SEQPACKET` pair. Each message on the pair is one datagram, prefixed with the peer it
//! came from (supervisor → process) or goes to (process → supervisor):
//!
//! ```text
//! [family: 4 or 6] [address: 16 bytes, IPv4 in the first 4] [port: u16 big-endian] [payload]
//! ```
//!
//! The same encoding carries addresses in the control requests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Bytes before the payload.
pub const HEADER_LEN: usize = 19;

/// Writes `addr`'s header into `out[..HEADER_LEN]`.
///
/// # Panics
/// If `out` is shorter than [`HEADER_LEN`]: callers size their buffers from it.
pub fn put_addr(addr: SocketAddr, out: &mut [u8]) {
    let out = &mut out[..HEADER_LEN];
    out.fill(0);
    match addr.ip() {
        IpAddr::V4(ip) => {
            out[0] = 4;
            out[1..5].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out[0] = 6;
            out[1..17].copy_from_slice(&ip.octets());
        }
    }
    out[17..19].copy_from_slice(&addr.port().to_be_bytes());
}

/// The header and payload as one message.
pub fn encode(addr: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0; HEADER_LEN + payload.len()];
    put_addr(addr, &mut frame);
    frame[HEADER_LEN..].copy_from_slice(payload);
    frame
}

/// The address and payload of a message, or `None` if it is not a relay frame.
pub fn decode(frame: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let header = frame.get(..HEADER_LEN)?;
    let ip = match header[0] {
        4 => IpAddr::V4(Ipv4Addr::new(header[1], header[2], header[3], header[4])),
        6 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&header[1..17]);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    let port = u16::from_be_bytes([header[17], header[18]]);
    Some((SocketAddr::new(ip, port), &frame[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_for_both_families() {
        for addr in [
            SocketAddr::from((Ipv4Addr::LOCALHOST, 14550)),
            SocketAddr::from((Ipv6Addr::LOCALHOST, 65535)),
            SocketAddr::from((Ipv4Addr::new(127, 1, 2, 3), 0)),
        ] {
            let frame = encode(addr, b"\xfd\x09payload");
            assert_eq!(decode(&frame), Some((addr, &b"\xfd\x09payload"[..])));
        }
    }

    #[test]
    fn short_or_unknown_frames_are_not_read() {
        assert_eq!(decode(&[4; HEADER_LEN - 1]), None);
        let mut frame = encode(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)), b"x");
        frame[0] = 5;
        assert_eq!(decode(&frame), None);
    }
}
