//! What the OS seal costs (issue 5): the time to engage it, a TCP socket's creation (one
//! round trip to the supervisor), and UDP through the supervisor's relay against a plain
//! socket: round-trip latency and one-way throughput of MAVLink-sized datagrams on loopback.
//!
//! `cargo bench -p airgap-tests --bench seal` runs itself twice, online and sealed (a sealed
//! process cannot unseal, so each mode is its own process), and prints both. Linux only.
//! Not a test: it checks every datagram arrived, never a time.

#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a benchmark of sockets under the seal: making them is the point"
)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use airgap_egress::os::{self, relay};

const TCP_SOCKETS: u32 = 2_000;
const ROUND_TRIPS: usize = 20_000;
const BURST: usize = 200_000;
/// The largest MAVLink 2 frame with a signature.
const FRAME: usize = 280;

/// One UDP endpoint: a socket of our own, or the seal's relay.
enum End {
    Own(UdpSocket),
    Relayed(UnixDatagram, SocketAddr),
}

impl End {
    fn new() -> End {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        match os::udp_relay(any) {
            Some(relayed) => {
                let (unix, local) = relayed.expect("a relay");
                End::Relayed(unix, local)
            }
            None => End::Own(UdpSocket::bind(any).expect("a loopback socket")),
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            End::Own(s) => s.local_addr().expect("bound"),
            End::Relayed(_, a) => *a,
        }
    }

    fn send(&self, payload: &[u8], to: SocketAddr, frame: &mut Vec<u8>) {
        match self {
            End::Own(s) => {
                s.send_to(payload, to).expect("send");
            }
            End::Relayed(u, _) => {
                frame.clear();
                frame.resize(relay::HEADER_LEN, 0);
                relay::put_addr(to, frame);
                frame.extend_from_slice(payload);
                u.send(frame).expect("send");
            }
        }
    }

    fn recv(&self, buf: &mut [u8]) -> usize {
        match self {
            End::Own(s) => s.recv_from(buf).expect("recv").0,
            End::Relayed(u, _) => u.recv(buf).expect("recv") - relay::HEADER_LEN,
        }
    }

    fn set_timeout(&self, t: Duration) {
        match self {
            End::Own(s) => s.set_read_timeout(Some(t)).expect("timeout"),
            End::Relayed(u, _) => u.set_read_timeout(Some(t)).expect("timeout"),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn measure(mode: &str) {
    let engage_ms = if mode == "sealed" {
        let t = Instant::now();
        os::engage().expect("the seal engages");
        Some(t.elapsed().as_secs_f64() * 1e3)
    } else {
        None
    };

    let t = Instant::now();
    for _ in 0..TCP_SOCKETS {
        drop(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a TCP listener"));
    }
    let tcp_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(TCP_SOCKETS);

    let (a, b) = (End::new(), End::new());
    let (a_addr, b_addr) = (a.addr(), b.addr());
    let payload = vec![0xfd_u8; FRAME];
    let mut buf = vec![0u8; 70_000];
    let mut frame = Vec::with_capacity(FRAME + relay::HEADER_LEN);
    let mut rtts = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        a.send(&payload, b_addr, &mut frame);
        let n = b.recv(&mut buf);
        b.send(&buf[..n], a_addr, &mut frame);
        a.recv(&mut buf);
        rtts.push(t.elapsed());
    }
    rtts.sort();

    // One way, as fast as the sender can: what a 5 k msg/s stream needs is far below.
    b.set_timeout(Duration::from_millis(500));
    let receiver = std::thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        let mut got = 0usize;
        let t = Instant::now();
        let mut last = t;
        while got < BURST {
            if matches!(&b, End::Own(s) if s.recv_from(&mut buf).is_err())
                || matches!(&b, End::Relayed(u, _) if u.recv(&mut buf).is_err())
            {
                break;
            }
            got += 1;
            last = Instant::now();
        }
        (got, last.duration_since(t))
    });
    for _ in 0..BURST {
        a.send(&payload, b_addr, &mut frame);
        // Loopback UDP drops what the receiver cannot take; pace just enough not to.
        std::hint::spin_loop();
    }
    let (got, took) = receiver.join().expect("the receiver");
    println!(
        "{mode:>7}: engage {} | TCP socket+bind+listen {tcp_us:.1} µs | UDP round trip \
         median {:.1} µs, p99 {:.1} µs | {FRAME}-byte datagrams one way: {got}/{BURST} \
         received, {:.0} k/s",
        engage_ms.map_or("—".to_owned(), |ms| format!("{ms:.2} ms")),
        percentile(&rtts, 0.5).as_secs_f64() * 1e6,
        percentile(&rtts, 0.99).as_secs_f64() * 1e6,
        got as f64 / took.as_secs_f64().max(1e-9) / 1e3,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(mode) = args.iter().find(|a| *a == "online" || *a == "sealed") {
        measure(mode);
        return;
    }
    let exe = std::env::current_exe().expect("this benchmark's path");
    for mode in ["online", "sealed"] {
        let status = std::process::Command::new(&exe)
            .arg(mode)
            .status()
            .expect("running one mode");
        assert!(status.success(), "the {mode} run failed");
    }
}
