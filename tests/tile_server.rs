//! A tile server on 127.0.0.1:0 for the tests that download map tiles (the tile cache's, the
//! CLI's and the desktop app's): a thread per connection, `/{z}/{x}/{y}.png` answered with a
//! real, decodable PNG that names its tile, every request and connection counted, and the
//! misbehaviours of real servers (429, 404, a captive portal's HTML) on request.

#![allow(dead_code, reason = "each test uses the part it needs")]
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a test tile server is a raw listener on 127.0.0.1"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How the server answers; the default serves every tile.
#[derive(Default)]
pub struct Behaviour {
    /// Answer the first this-many requests with 429 and `Retry-After: 1`.
    pub busy_first: usize,
    /// Paths answered 404.
    pub missing: Vec<String>,
    /// Paths answered 200 with an HTML page, as a captive portal does.
    pub html: Vec<String>,
    /// Sent with every tile.
    pub cache_control: Option<&'static str>,
}

/// What the connection threads share with the test.
#[derive(Default)]
struct State {
    behaviour: Behaviour,
    /// Cleared, every request is answered 404: the source has gone away.
    not_serving: AtomicBool,
    requests: Mutex<Vec<String>>,
    connections: AtomicUsize,
    in_flight: AtomicUsize,
    in_flight_max: AtomicUsize,
    stop: AtomicBool,
}

pub struct TileServer {
    addr: SocketAddr,
    state: Arc<State>,
}

impl TileServer {
    pub fn start(behaviour: Behaviour) -> TileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            behaviour,
            ..State::default()
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        TileServer { addr, state }
    }

    /// The URL template of this server, reached by `host` (which must resolve to loopback).
    pub fn template(&self, host: &str) -> String {
        format!("http://{host}:{}/{{z}}/{{x}}/{{y}}.png", self.addr.port())
    }

    /// Requests received, answered or not.
    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// Connections accepted.
    pub fn connection_count(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// The most requests that were being answered at once.
    pub fn in_flight_max(&self) -> usize {
        self.state.in_flight_max.load(Ordering::SeqCst)
    }

    /// From now on every request is answered 404 (and still counted).
    pub fn stop_serving(&self) {
        self.state.not_serving.store(true, Ordering::SeqCst);
    }
}

impl Drop for TileServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking connection thread must not hide the counts from the test.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn serve(stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.in_flight_max.fetch_max(now, Ordering::SeqCst);
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let n = {
            let mut requests = lock(&state.requests);
            requests.push(path.clone());
            requests.len()
        };
        // Long enough for parallel requests to overlap.
        std::thread::sleep(Duration::from_millis(5));
        let (status, headers, body) = answer(&state.behaviour, &state.not_serving, n, &path);
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n",
            reason(status),
            body.len()
        );
        for h in headers {
            head.push_str(&h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let s = reader.get_mut();
        if s.write_all(head.as_bytes()).is_err() || s.write_all(&body).is_err() {
            return;
        }
    }
}

/// The answer to the `n`th request (counting from 1), for `path`.
fn answer(
    behaviour: &Behaviour,
    not_serving: &AtomicBool,
    n: usize,
    path: &str,
) -> (u16, Vec<String>, Vec<u8>) {
    let path_is = |list: &[String]| list.iter().any(|p| p == path);
    if n <= behaviour.busy_first {
        (429, vec!["retry-after: 1".to_owned()], Vec::new())
    } else if not_serving.load(Ordering::SeqCst) || path_is(&behaviour.missing) {
        (404, vec![], b"no such tile".to_vec())
    } else if path_is(&behaviour.html) {
        (
            200,
            vec!["content-type: text/html".to_owned()],
            b"<html>log in to the wifi</html>".to_vec(),
        )
    } else {
        match parse_tile(path) {
            Some((z, x, y)) => {
                let mut h = vec!["content-type: image/png".to_owned()];
                if let Some(cc) = behaviour.cache_control {
                    h.push(format!("cache-control: {cc}"));
                }
                (200, h, png(z, x, y))
            }
            None => (400, vec![], Vec::new()),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Whatever",
    }
}

fn parse_tile(path: &str) -> Option<(u8, u32, u32)> {
    let mut parts = path.strip_prefix('/')?.strip_suffix(".png")?.split('/');
    let z = parts.next()?.parse().ok()?;
    let x = parts.next()?.parse().ok()?;
    let y = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((z, x, y))
}

/// The tile the server serves for `z/x/y`: a 16×16 PNG of one colour derived from the tile
/// (so that a browser draws it), with a `tEXt` chunk naming the tile (so that no two tiles'
/// bytes are the same, and a test can tell which tile it holds).
pub fn png(z: u8, x: u32, y: u32) -> Vec<u8> {
    const SIDE: u32 = 16;
    let colour = [
        40u8.wrapping_add(z.wrapping_mul(9)),
        (60 + (x % 7) * 25) as u8,
        (80 + (y % 5) * 30) as u8,
    ];
    // Each row: filter type 0 (none), then its pixels.
    let row: Vec<u8> = std::iter::once(0)
        .chain((0..SIDE).flat_map(|_| colour))
        .collect();
    let raw = row.repeat(SIDE as usize);
    // zlib with one stored (uncompressed) deflate block.
    let mut zlib = vec![0x78, 0x01, 0x01];
    let len = u16::try_from(raw.len()).expect("a 16×16 image fits one stored block");
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let text = format!("Title\0tile {z}/{x}/{y}").into_bytes();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", ihdr.as_slice()),
        (b"tEXt", &text),
        (b"IDAT", &zlib),
        (b"IEND", &[]),
    ] {
        let len = u32::try_from(data.len()).expect("small chunks");
        out.extend_from_slice(&len.to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}
