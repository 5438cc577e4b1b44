//! HTTP GET through the gate: the program's only HTTP client. Each request (and each
//! redirect it follows) asks [`Gate::check_for`] about the URL's host and port first; only a
//! permitted request makes a socket, so a sealed program refuses a remote tile server without
//! a single packet, not even a name lookup.
//!
//! The URL is parsed here, strictly, and the request is rebuilt from the parsed parts: the
//! host the gate judged is exactly the host the client connects to (no userinfo, no odd
//! characters for two parsers to read differently). No proxy is used, whatever the
//! environment says, since a proxy would be a destination the gate never saw.
//!
//! Blocking (ureq, with rustls and ring; no native TLS): callers run it on their own threads.

// clippy.toml forbids ureq (and raw sockets) everywhere else; this module is where the
// program's HTTP requests are made, each after the gate said yes.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the one HTTP client: every request it makes asks the egress gate first (HttpClient::get)"
)]

use std::net::Ipv6Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Destination, Gate, Refused};

/// What the program's requests are for, as the gate's refusals and the audit trail name it.
pub const PURPOSE_MAP_TILES: &str = "map tiles";

/// Bounds on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// For the whole request: connecting, every redirect, and reading the body.
    pub timeout: Duration,
    /// For setting up one connection (name lookup, TCP, TLS).
    pub connect_timeout: Duration,
    /// A larger body is [`HttpError::TooLarge`], not read into memory.
    pub max_body_bytes: u64,
    /// Redirects followed, each asked of the gate like the first request.
    pub max_redirects: u8,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            // A map tile is tens of kilobytes; a few megabytes is already a wrong answer.
            max_body_bytes: 4 * 1024 * 1024,
            max_redirects: 5,
        }
    }
}

/// A response, whatever its status (a 404 or a 429 is an answer, not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub bytes: Vec<u8>,
    /// The URL that answered (after redirects).
    pub url: String,
    pub content_type: Option<String>,
    /// From `Retry-After` (seconds, or an HTTP date turned into a wait from now).
    pub retry_after: Option<Duration>,
    /// Until when the response may be used without asking again: `Cache-Control: max-age`
    /// (or `no-cache`/`no-store`: now), else `Expires`. `None` when the server said neither.
    pub fresh_until: Option<SystemTime>,
}

impl HttpResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The gate refused the destination (sealed, and not loopback). Nothing was sent.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("{url:?} is not a URL this client fetches: {why}")]
    BadUrl { url: String, why: &'static str },
    #[error("{url}: no answer within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url}: the host name does not resolve")]
    HostNotFound { url: String },
    #[error("{url}: cannot connect: {detail}")]
    Connect { url: String, detail: String },
    #[error("{url}: TLS failed: {detail}")]
    Tls { url: String, detail: String },
    #[error("{url}: the response is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: more than {max} redirects")]
    TooManyRedirects { url: String, max: u8 },
    #[error("{url}: redirect to {location:?} not followed: {why}")]
    BadRedirect {
        url: String,
        location: String,
        why: &'static str,
    },
    #[error("{url}: {detail}")]
    Protocol { url: String, detail: String },
}

/// A blocking HTTP client whose every request goes through the egress gate. Cheap to
/// clone (clones share the connection pool and the gate).
#[derive(Clone)]
pub struct HttpClient {
    gate: Gate,
    agent: ureq::Agent,
    limits: HttpLimits,
    user_agent: String,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("gate", &self.gate)
            .field("limits", &self.limits)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with the default [`HttpLimits`]. `user_agent` is sent with every request
    /// (tile providers require one that names the application and a contact).
    pub fn new(gate: Gate, user_agent: &str) -> HttpClient {
        HttpClient::with_limits(gate, user_agent, HttpLimits::default())
    }

    pub fn with_limits(gate: Gate, user_agent: &str, limits: HttpLimits) -> HttpClient {
        let config = ureq::Agent::config_builder()
            // A proxy from the environment would be a destination the gate never judged.
            .proxy(None)
            // Redirects are followed here, each one asked of the gate.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .user_agent(user_agent)
            .timeout_global(Some(limits.timeout))
            .timeout_connect(Some(limits.connect_timeout))
            .build();
        HttpClient {
            gate,
            agent: ureq::Agent::new_with_config(config),
            limits,
            user_agent: user_agent.to_owned(),
        }
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    pub fn limits(&self) -> HttpLimits {
        self.limits
    }

    /// GET `url` (`http://` or `https://`), following redirects. The gate is asked about
    /// each URL's host and port before anything is sent; a refusal is
    /// [`HttpError::Refused`], counted by the gate and reported to its sink.
    pub fn get(&self, url: &str) -> Result<HttpResponse, HttpError> {
        let mut target = ParsedUrl::parse(url)?;
        for _hop in 0..=self.limits.max_redirects {
            self.gate
                .check_for(PURPOSE_MAP_TILES, &target.destination())?;
            let response = self.fetch(&target)?;
            if !(300..400).contains(&response.status) || response.status == 304 {
                return Ok(response.into_response(target.to_string()));
            }
            let Some(location) = response.location else {
                return Ok(response.into_response(target.to_string()));
            };
            target = target.follow(&location)?;
        }
        Err(HttpError::TooManyRedirects {
            url: url.to_owned(),
            max: self.limits.max_redirects,
        })
    }

    fn fetch(&self, target: &ParsedUrl) -> Result<Raw, HttpError> {
        let url = target.to_string();
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| self.error(&url, e))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let now = SystemTime::now();
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, now));
        let fresh_until = freshness(
            header("cache-control").as_deref(),
            header("expires").as_deref(),
            now,
        );
        let content_type = header("content-type");
        let location = header("location");
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(self.limits.max_body_bytes)
            .read_to_vec()
            .map_err(|e| self.error(&url, e))?;
        Ok(Raw {
            status,
            bytes,
            content_type,
            retry_after,
            fresh_until,
            location,
        })
    }

    fn error(&self, url: &str, e: ureq::Error) -> HttpError {
        let url = url.to_owned();
        match e {
            ureq::Error::Timeout(_) => HttpError::Timeout {
                url,
                after: self.limits.timeout,
            },
            ureq::Error::HostNotFound => HttpError::HostNotFound { url },
            ureq::Error::BodyExceedsLimit(limit) => HttpError::TooLarge { url, limit },
            ureq::Error::Tls(detail) => HttpError::Tls {
                url,
                detail: detail.to_owned(),
            },
            ureq::Error::Rustls(e) => HttpError::Tls {
                url,
                detail: e.to_string(),
            },
            ureq::Error::ConnectionFailed => HttpError::Connect {
                url,
                detail: "connection failed".to_owned(),
            },
            ureq::Error::Io(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::NotConnected
                        | std::io::ErrorKind::AddrNotAvailable
                        | std::io::ErrorKind::PermissionDenied
                        | std::io::ErrorKind::NetworkUnreachable
                        | std::io::ErrorKind::HostUnreachable
                ) =>
            {
                HttpError::Connect {
                    url,
                    detail: e.to_string(),
                }
            }
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => HttpError::Timeout {
                url,
                after: self.limits.timeout,
            },
            other => HttpError::Protocol {
                url,
                detail: other.to_string(),
            },
        }
    }
}

struct Raw {
    status: u16,
    bytes: Vec<u8>,
    content_type: Option<String>,
    retry_after: Option<Duration>,
    fresh_until: Option<SystemTime>,
    location: Option<String>,
}

impl Raw {
    fn into_response(self, url: String) -> HttpResponse {
        HttpResponse {
            status: self.status,
            bytes: self.bytes,
            url,
            content_type: self.content_type,
            retry_after: self.retry_after,
            fresh_until: self.fresh_until,
        }
    }
}

/// `scheme://host[:port]path`, as checked by the gate and as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedUrl {
    https: bool,
    host: Host,
    port: u16,
    /// Starts with `/`; includes the query, never a fragment.
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A DNS name or an IPv4 address, as written (lower-cased).
    Name(String),
    Ipv6(Ipv6Addr),
}

impl std::fmt::Display for ParsedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        match &self.host {
            Host::Name(name) => write!(f, "{scheme}://{name}:{}{}", self.port, self.path),
            Host::Ipv6(ip) => write!(f, "{scheme}://[{ip}]:{}{}", self.port, self.path),
        }
    }
}

impl ParsedUrl {
    fn parse(url: &str) -> Result<ParsedUrl, HttpError> {
        let bad = |why| HttpError::BadUrl {
            url: url.to_owned(),
            why,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("it has no scheme; write http://… or https://…"))?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(bad("only http:// and https:// are fetched"));
        };
        // The fragment is the client's business, never sent.
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err(bad("credentials in a URL are not supported"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (ip, after) = v6
                    .split_once(']')
                    .ok_or_else(|| bad("an IPv6 address is missing its `]`"))?;
                let ip: Ipv6Addr = ip.parse().map_err(|_| bad("not an IPv6 address"))?;
                (Host::Ipv6(ip), after.strip_prefix(':'))
            }
            None => {
                let (name, port) = match authority.split_once(':') {
                    Some((name, port)) => (name, Some(port)),
                    None => (authority, None),
                };
                if name.is_empty() {
                    return Err(bad("it has no host"));
                }
                if !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                {
                    return Err(bad(
                        "the host may hold only letters, digits, `.` and `-` (write an \
                         internationalised name in its xn-- form)",
                    ));
                }
                (Host::Name(name.to_ascii_lowercase()), port)
            }
        };
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        };
        let path = if path.is_empty() {
            "/".to_owned()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        if !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "the path holds spaces, control or non-ASCII characters (percent-encode them)",
            ));
        }
        Ok(ParsedUrl {
            https,
            host,
            port,
            path,
        })
    }

    fn destination(&self) -> Destination {
        let name = match &self.host {
            Host::Name(name) => name.clone(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        Destination::Host {
            name,
            port: self.port,
        }
    }

    /// The target of a `Location` header: an absolute URL, `//host/…`, or `/path`.
    fn follow(&self, location: &str) -> Result<ParsedUrl, HttpError> {
        let bad = |why| HttpError::BadRedirect {
            url: self.to_string(),
            location: location.to_owned(),
            why,
        };
        let next = if location.contains("://") {
            ParsedUrl::parse(location).map_err(|_| bad("not an http:// or https:// URL"))?
        } else if let Some(rest) = location.strip_prefix("//") {
            let scheme = if self.https { "https" } else { "http" };
            ParsedUrl::parse(&format!("{scheme}://{rest}")).map_err(|_| bad("not a valid URL"))?
        } else if location.starts_with('/') {
            let mut next = self.clone();
            next.path = location.split('#').next().unwrap_or("/").to_owned();
            if !next.path.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad("the path holds characters that are not allowed"));
            }
            next
        } else {
            return Err(bad("only absolute locations are followed"));
        };
        if self.https && !next.https {
            return Err(bad("it leaves https for plain http"));
        }
        Ok(next)
    }
}

/// `Retry-After`: a number of seconds, or an HTTP date.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Until when a response may be reused without asking again (RFC 9111: `max-age` wins over
/// `Expires`; `no-cache`/`no-store` mean not at all).
fn freshness(
    cache_control: Option<&str>,
    expires: Option<&str>,
    now: SystemTime,
) -> Option<SystemTime> {
    if let Some(cc) = cache_control {
        let mut max_age = None;
        for directive in cc.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return Some(now);
            }
            if let Some(v) = lower.strip_prefix("max-age=") {
                max_age = v.trim_matches('"').parse::<u64>().ok();
            }
        }
        if let Some(seconds) = max_age {
            return now.checked_add(Duration::from_secs(seconds));
        }
    }
    // An invalid Expires (often "0" or "-1") means already expired (RFC 9111, 5.3).
    expires.map(|v| parse_http_date(v.trim()).unwrap_or(now))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers must send.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;

    use super::*;

    /// What a test server answers: status, extra headers, body.
    type Answer = (u16, Vec<(String, String)>, Vec<u8>);

    /// A one-thread HTTP/1.1 server on 127.0.0.1:0 answering each request with `answer`
    /// (given the request line and headers), counting connections. Stops when dropped.
    struct Server {
        addr: SocketAddr,
        connections: Arc<AtomicUsize>,
        requests: Arc<Mutex<Vec<String>>>,
        stop: Arc<std::sync::atomic::AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Server {
        fn start(answer: impl Fn(&str) -> Option<Answer> + Send + 'static) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let addr = listener.local_addr().expect("local addr");
            let connections = Arc::new(AtomicUsize::new(0));
            let requests = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (c, r, s) = (connections.clone(), requests.clone(), stop.clone());
            let thread = std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if s.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    c.fetch_add(1, Ordering::SeqCst);
                    serve(stream, &answer, &r);
                }
            });
            Server {
                addr,
                connections,
                requests,
                stop,
                thread: Some(thread),
            }
        }

        fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            // Wake the accept loop so it sees the flag.
            let _ = TcpStream::connect(self.addr);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn serve(
        stream: TcpStream,
        answer: &impl Fn(&str) -> Option<Answer>,
        requests: &Mutex<Vec<String>>,
    ) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reader = BufReader::new(stream);
        loop {
            let mut head = String::new();
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            requests.lock().expect("requests lock").push(head.clone());
            let Some((status, headers, body)) = answer(&head) else {
                // Never answer: the client must time out.
                std::thread::sleep(Duration::from_secs(1));
                return;
            };
            let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let stream = reader.get_mut();
            if stream.write_all(out.as_bytes()).is_err() || stream.write_all(&body).is_err() {
                return;
            }
        }
    }

    fn ok(body: &[u8]) -> Option<Answer> {
        Some((200, vec![], body.to_vec()))
    }

    fn path_of(head: &str) -> &str {
        head.split_whitespace().nth(1).unwrap_or("")
    }

    #[test]
    fn gets_a_body_with_its_headers_and_the_user_agent() {
        let server = Server::start(|head| {
            Some((
                200,
                vec![
                    ("content-type".into(), "image/png".into()),
                    ("cache-control".into(), "public, max-age=3600".into()),
                ],
                format!("tile at {}", path_of(head)).into_bytes(),
            ))
        });
        let client = HttpClient::new(Gate::new(true), "AirgapTest/1 (+https://example.test)");
        let before = SystemTime::now();
        let r = client.get(&server.url("/3/4/5.png?k=v#frag")).unwrap();
        assert_eq!(r.status, 200);
        assert!(r.is_success());
        assert_eq!(r.bytes, b"tile at /3/4/5.png?k=v");
        assert_eq!(r.content_type.as_deref(), Some("image/png"));
        let fresh = r.fresh_until.unwrap().duration_since(before).unwrap();
        assert!(fresh >= Duration::from_secs(3599) && fresh <= Duration::from_secs(3700));
        let requests = server.requests.lock().unwrap().clone();
        assert!(
            requests[0]
                .to_ascii_lowercase()
                .contains("user-agent: airgaptest/1 (+https://example.test)"),
            "{requests:?}"
        );
        // Loopback is not egress: allowed sealed, and nothing is counted.
        assert_eq!(client.gate().refused_count(), 0);
    }

    #[test]
    fn statuses_are_answers_with_retry_after() {
        let server = Server::start(|head| match path_of(head) {
            "/busy" => Some((429, vec![("retry-after".into(), "7".into())], vec![])),
            _ => Some((404, vec![("expires".into(), "0".into())], b"no".to_vec())),
        });
        let client = HttpClient::new(Gate::new(false), "t");
        let busy = client.get(&server.url("/busy")).unwrap();
        assert_eq!(busy.status, 429);
        assert_eq!(busy.retry_after, Some(Duration::from_secs(7)));
        let missing = client.get(&server.url("/nope")).unwrap();
        assert_eq!(missing.status, 404);
        assert!(!missing.is_success());
        // "Expires: 0" is in the past.
        assert!(missing.fresh_until.unwrap() <= SystemTime::now());
    }

    #[test]
    fn a_body_over_the_limit_is_too_large() {
        let server = Server::start(|_| ok(&[7u8; 5000]));
        let limits = HttpLimits {
            max_body_bytes: 4096,
            ..HttpLimits::default()
        };
        let client = HttpClient::with_limits(Gate::new(false), "t", limits);
        match client.get(&server.url("/big")) {
            Err(HttpError::TooLarge { limit: 4096, .. }) => {}
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn a_silent_server_times_out() {
        let server = Server::start(|_| None);
        let limits = HttpLimits {
            timeout: Duration::from_millis(300),
            ..HttpLimits::default()
        };
        let client = HttpClient::with_limits(Gate::new(false), "t", limits);
        let started = std::time::Instant::now();
        match client.get(&server.url("/slow")) {
            Err(HttpError::Timeout { .. }) => {}
            other => panic!("expected Timeout, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn nobody_listening_is_a_connect_error() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let client = HttpClient::new(Gate::new(false), "t");
        match client.get(&format!("http://127.0.0.1:{port}/x")) {
            Err(HttpError::Connect { .. }) => {}
            other => panic!("expected Connect, got {other:?}"),
        }
    }

    #[test]
    fn https_is_spoken_and_a_plain_server_fails_tls_clearly() {
        let server = Server::start(|_| ok(b"plain"));
        let client = HttpClient::new(Gate::new(false), "t");
        let url = format!("https://127.0.0.1:{}/x", server.addr.port());
        match client.get(&url) {
            Err(HttpError::Tls { .. } | HttpError::Protocol { .. }) => {}
            other => panic!("expected a TLS failure, got {other:?}"),
        }
    }

    #[test]
    fn redirects_are_followed_each_through_the_gate() {
        let server = Server::start(|head| match path_of(head) {
            "/old" => Some((301, vec![("location".into(), "/new".into())], vec![])),
            // 127.1 reaches this very server, but as a name the sealed gate refuses it.
            "/away" => Some((
                302,
                vec![("location".into(), "http://127.1:9/".into())],
                vec![],
            )),
            "/loop" => Some((302, vec![("location".into(), "/loop".into())], vec![])),
            _ => ok(b"moved here"),
        });
        let client = HttpClient::new(Gate::new(true), "t");
        let r = client.get(&server.url("/old")).unwrap();
        assert_eq!(r.bytes, b"moved here");
        assert!(r.url.ends_with("/new"), "{}", r.url);
        match client.get(&server.url("/away")) {
            Err(HttpError::Refused(refused)) => {
                assert_eq!(refused.refusal().purpose, PURPOSE_MAP_TILES);
            }
            other => panic!("expected Refused, got {other:?}"),
        }
        assert_eq!(client.gate().refused_count(), 1);
        match client.get(&server.url("/loop")) {
            Err(HttpError::TooManyRedirects { max: 5, .. }) => {}
            other => panic!("expected TooManyRedirects, got {other:?}"),
        }
    }

    /// `127.1` is a name to the gate (it only knows loopback written as an address or
    /// `localhost`), and a numeric address to the resolver, which turns it into 127.0.0.1
    /// without a query: so a sealed refusal can be checked against a loopback listener that
    /// would see the connection, and no packet could ever leave the machine if it failed.
    #[test]
    fn sealed_a_non_loopback_host_is_refused_before_any_socket() {
        let server = Server::start(|_| ok(b"reached"));
        let url = format!("http://127.1:{}/tile.png", server.addr.port());

        let sealed = HttpClient::new(Gate::new(true), "t");
        let audited = Arc::new(AtomicUsize::new(0));
        let a = audited.clone();
        sealed.gate().on_refusal(Box::new(move |_| {
            a.fetch_add(1, Ordering::SeqCst);
        }));
        match sealed.get(&url) {
            Err(HttpError::Refused(refused)) => {
                assert_eq!(
                    refused.destination(),
                    &Destination::Host {
                        name: "127.1".into(),
                        port: server.addr.port()
                    }
                );
                assert!(refused.to_string().contains("network seal"), "{refused}");
            }
            other => panic!("expected Refused, got {other:?}"),
        }
        assert_eq!(sealed.gate().refused_count(), 1);
        assert_eq!(audited.load(Ordering::SeqCst), 1);
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            0,
            "no socket was made"
        );

        // Control: online, the same URL does reach the listener, so the count above can fail.
        let online = HttpClient::new(Gate::new(false), "t");
        assert_eq!(online.get(&url).unwrap().bytes, b"reached");
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn urls_are_parsed_strictly() {
        let p = ParsedUrl::parse("HTTPS://Tile.Example.org/1/2/3.png").unwrap();
        assert_eq!(p.to_string(), "https://tile.example.org:443/1/2/3.png");
        assert_eq!(
            p.destination(),
            Destination::Host {
                name: "tile.example.org".into(),
                port: 443
            }
        );
        let p = ParsedUrl::parse("http://[::1]:8080?x=1").unwrap();
        assert_eq!(p.to_string(), "http://[::1]:8080/?x=1");
        assert!(p.destination().is_local());
        for bad in [
            "tile.example.org/1/2/3.png",
            "ftp://tile.example.org/",
            "http://user@localhost/",
            "http://localhost@evil.example/",
            "http:///path",
            "http://host:0/",
            "http://host:99999/",
            "http://ho st/",
            "http://h\\ost/",
            "http://[::1/",
            "http://host/a b",
        ] {
            assert!(
                matches!(ParsedUrl::parse(bad), Err(HttpError::BadUrl { .. })),
                "{bad}"
            );
        }
        let base = ParsedUrl::parse("https://a.example/x").unwrap();
        assert!(base.follow("http://a.example/y").is_err(), "no downgrade");
        assert!(base.follow("relative/y").is_err());
        assert_eq!(
            base.follow("//b.example/z").unwrap().to_string(),
            "https://b.example:443/z"
        );
    }

    #[test]
    fn http_dates_and_cache_headers() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        let t = parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT").unwrap();
        assert_eq!(t, UNIX_EPOCH);
        let t = parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_835_438_400
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 CET"), None);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            freshness(
                Some("max-age=60"),
                Some("Thu, 01 Jan 1970 00:00:00 GMT"),
                now
            ),
            Some(now + Duration::from_secs(60))
        );
        assert_eq!(freshness(Some("no-cache"), None, now), Some(now));
        assert_eq!(freshness(Some("public"), None, now), None);
        assert_eq!(
            freshness(None, Some("Thu, 01 Jan 1970 00:00:00 GMT"), now),
            Some(UNIX_EPOCH)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
    }
}
