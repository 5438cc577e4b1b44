//! The vehicle side of MAVFTP, behaving as ArduPilot's `GCS_FTP` does where a client can
//! tell: replies numbered `seq + 1`, the last reply repeated when its request is re-sent,
//! one open file at a time (others get NoSessionsAvailable), bursts of up to
//! [`Server::burst_limit`] packets ending in an EOF NAK with `burst_complete` set, writes
//! buffered and handed over when the session is closed, and UnknownCommand for what it
//! does not implement. The simulator serves its parameters and missions with it; the
//! client tests run against it. It holds no clock: a stale session is cleared by the
//! client's ResetSessions.

use super::payload::{FtpErrorCode, Opcode, Payload, MAX_DATA_LEN};
use crate::dialect::FILE_TRANSFER_PROTOCOL_DATA;

/// The files a server serves: whole-file reads, and whole-file writes when a written file
/// is closed.
pub trait FtpFiles {
    /// The file's contents, or `None` if there is no such file.
    fn read(&mut self, path: &str) -> Option<Vec<u8>>;
    /// Replace the file; `Err` refuses it (reported to the client as a failed close).
    fn write(&mut self, path: &str, data: Vec<u8>) -> Result<(), String>;
}

#[derive(Debug, Clone)]
enum Mode {
    Read(Vec<u8>),
    Write { path: String, data: Vec<u8> },
}

#[derive(Debug, Clone)]
struct Session {
    id: u8,
    client: (u8, u8),
    mode: Mode,
}

/// One vehicle's FTP server.
#[derive(Debug, Clone)]
pub struct Server {
    session: Option<Session>,
    next_session: u8,
    /// The last request answered (its sender, seq, session) and the answer, for re-sends.
    last: Option<((u8, u8), u16, u8, Payload)>,
    /// Packets one BurstReadFile sends at most (ArduPilot: 2,000).
    pub burst_limit: usize,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            session: None,
            next_session: 1,
            last: None,
            burst_limit: 2000,
        }
    }
}

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    /// Whether a file is open (for tests and status).
    pub fn session_open(&self) -> bool {
        self.session.is_some()
    }

    /// Answer one FILE_TRANSFER_PROTOCOL message from `client` (its system and component
    /// id). The replies are addressed back to it; an unparsable payload gets no answer.
    pub fn handle(
        &mut self,
        client: (u8, u8),
        msg: &FILE_TRANSFER_PROTOCOL_DATA,
        files: &mut dyn FtpFiles,
    ) -> Vec<FILE_TRANSFER_PROTOCOL_DATA> {
        let Ok(req) = Payload::from_message(msg) else {
            return Vec::new();
        };
        self.handle_payload(client, &req, files)
            .iter()
            .map(|p| p.to_data(client.0, client.1))
            .collect()
    }

    /// As [`Self::handle`], on a parsed payload, returning payloads.
    pub fn handle_payload(
        &mut self,
        client: (u8, u8),
        req: &Payload,
        files: &mut dyn FtpFiles,
    ) -> Vec<Payload> {
        if matches!(req.opcode, Opcode::Ack | Opcode::Nak) {
            return Vec::new();
        }
        if let Some((c, seq, session, reply)) = &self.last {
            // ArduPilot matches on seq and session only; the opcode too keeps a new
            // client that starts numbering where an old one did from an unrelated answer.
            if *c == client
                && *seq == req.seq
                && *session == req.session
                && reply.req_opcode == req.opcode
            {
                return vec![reply.clone()];
            }
        }
        let replies = self.answer(client, req, files);
        if let Some(last) = replies.last() {
            self.last = Some((client, req.seq, req.session, last.clone()));
        }
        replies
    }

    fn own_session(&self, client: (u8, u8), req: &Payload) -> Option<&Session> {
        self.session
            .as_ref()
            .filter(|s| s.id == req.session && s.client == client)
    }

    fn open(&mut self, client: (u8, u8), req: &Payload, mode: Mode) -> Payload {
        if self.session.is_some() {
            return Payload::nak(req, FtpErrorCode::NoSessionsAvailable, None);
        }
        let id = self.next_session;
        self.next_session = self.next_session.checked_add(1).unwrap_or(1);
        let size = match &mode {
            Mode::Read(d) => u32::try_from(d.len()).unwrap_or(u32::MAX),
            Mode::Write { .. } => 0,
        };
        self.session = Some(Session { id, client, mode });
        let mut ack = Payload::reply_to(req, Opcode::Ack, 0, Vec::new());
        ack.session = id;
        if matches!(req.opcode, Opcode::OpenFileRO) {
            ack.data = size.to_le_bytes().to_vec();
        }
        ack
    }

    fn answer(
        &mut self,
        client: (u8, u8),
        req: &Payload,
        files: &mut dyn FtpFiles,
    ) -> Vec<Payload> {
        let nak = |code| vec![Payload::nak(req, code, None)];
        let path = || req.path().filter(|p| !p.is_empty());
        match req.opcode {
            Opcode::None => vec![Payload::reply_to(req, Opcode::Ack, 0, Vec::new())],
            Opcode::ResetSessions => {
                // Discards an unfinished write: only a close hands a file over.
                self.session = None;
                vec![Payload::reply_to(req, Opcode::Ack, 0, Vec::new())]
            }
            Opcode::TerminateSession => {
                let ours = self.own_session(client, req).is_some();
                if !ours {
                    // Closing what is already closed succeeds, as on ArduPilot.
                    return vec![Payload::reply_to(req, Opcode::Ack, 0, Vec::new())];
                }
                match self.session.take().map(|s| s.mode) {
                    Some(Mode::Write { path, data }) => match files.write(&path, data) {
                        Ok(()) => vec![Payload::reply_to(req, Opcode::Ack, 0, Vec::new())],
                        // EINVAL, which ArduPilot reports when it rejects an upload.
                        Err(_) => vec![Payload::nak(req, FtpErrorCode::FailErrno, Some(22))],
                    },
                    _ => vec![Payload::reply_to(req, Opcode::Ack, 0, Vec::new())],
                }
            }
            Opcode::OpenFileRO => {
                let Some(path) = path() else {
                    return nak(FtpErrorCode::InvalidDataSize);
                };
                let Some(data) = files.read(path) else {
                    return nak(FtpErrorCode::FileNotFound);
                };
                vec![self.open(client, req, Mode::Read(data))]
            }
            Opcode::CreateFile | Opcode::OpenFileWO => {
                let Some(path) = path() else {
                    return nak(FtpErrorCode::InvalidDataSize);
                };
                let data = match req.opcode {
                    Opcode::OpenFileWO => files.read(path).unwrap_or_default(),
                    _ => Vec::new(),
                };
                let mode = Mode::Write {
                    path: path.to_string(),
                    data,
                };
                vec![self.open(client, req, mode)]
            }
            Opcode::ReadFile | Opcode::BurstReadFile => {
                let Some(session) = self.own_session(client, req) else {
                    return nak(FtpErrorCode::InvalidSession);
                };
                let Mode::Read(data) = &session.mode else {
                    return nak(FtpErrorCode::Fail);
                };
                // The request's `size` is the length wanted; 0 means a whole packet.
                let size = match req.data.len() {
                    0 => MAX_DATA_LEN,
                    n => n.min(MAX_DATA_LEN),
                };
                let packets = if req.opcode == Opcode::ReadFile {
                    1
                } else {
                    self.burst_limit.max(1)
                };
                read_replies(req, data, size, packets)
            }
            Opcode::WriteFile => {
                let Some(session) = self
                    .session
                    .as_mut()
                    .filter(|s| s.id == req.session && s.client == client)
                else {
                    return nak(FtpErrorCode::InvalidSession);
                };
                let Mode::Write { data, .. } = &mut session.mode else {
                    return nak(FtpErrorCode::Fail);
                };
                let start = req.offset as usize;
                let end = start + req.data.len();
                // ArduPilot's upload files are bounded by their 16-bit counts.
                if end > 16 * 1024 * 1024 {
                    return vec![Payload::nak(req, FtpErrorCode::FailErrno, Some(28))];
                }
                if data.len() < end {
                    data.resize(end, 0);
                }
                data[start..end].copy_from_slice(&req.data);
                vec![Payload::reply_to(req, Opcode::Ack, req.offset, Vec::new())]
            }
            Opcode::TruncateFile => {
                let Some(path) = path() else {
                    return nak(FtpErrorCode::InvalidDataSize);
                };
                let Some(mut data) = files.read(path) else {
                    return nak(FtpErrorCode::FileNotFound);
                };
                data.resize(req.offset as usize, 0);
                match files.write(path, data) {
                    Ok(()) => vec![Payload::reply_to(req, Opcode::Ack, 0, Vec::new())],
                    Err(_) => vec![Payload::nak(req, FtpErrorCode::FailErrno, Some(22))],
                }
            }
            Opcode::ListDirectory => list(req, files),
            _ => nak(FtpErrorCode::UnknownCommand),
        }
    }
}

/// Up to `packets` chunks of `size` from the request's offset; past the end, the EOF NAK
/// (flagged `burst_complete` for a burst, with the end offset, as ArduPilot sends it).
fn read_replies(req: &Payload, data: &[u8], size: usize, packets: usize) -> Vec<Payload> {
    let burst = req.opcode == Opcode::BurstReadFile;
    let mut out = Vec::new();
    let mut offset = req.offset as usize;
    let mut seq = req.seq;
    for i in 0..packets {
        seq = seq.wrapping_add(1);
        let chunk = data.get(offset..).unwrap_or_default();
        let chunk = &chunk[..chunk.len().min(size)];
        let at = u32::try_from(offset).unwrap_or(u32::MAX);
        if chunk.is_empty() {
            let mut nak = Payload::nak(req, FtpErrorCode::Eof, None);
            nak.seq = seq;
            nak.offset = at;
            nak.burst_complete = burst;
            out.push(nak);
            break;
        }
        let mut ack = Payload::reply_to(req, Opcode::Ack, at, chunk.to_vec());
        ack.seq = seq;
        ack.burst_complete = burst && i + 1 == packets;
        offset += chunk.len();
        out.push(ack);
    }
    out
}

/// Directories the simulated vehicle has, and the files it may hold in each.
const LISTING: &[(&str, &[&str])] = &[
    ("@PARAM", &["param.pck"]),
    ("@MISSION", &["mission.dat", "fence.dat", "rally.dat"]),
];

/// ListDirectory over the virtual tree: the root lists the directories, each directory the
/// files that exist, as `F<name>\t<size>\0` / `D<name>\0`, skipping `offset` entries.
fn list(req: &Payload, files: &mut dyn FtpFiles) -> Vec<Payload> {
    let dir = req.path().unwrap_or("").trim_end_matches('/');
    let entries: Vec<String> = if dir.is_empty() {
        LISTING.iter().map(|(d, _)| format!("D{d}")).collect()
    } else if let Some((_, names)) = LISTING.iter().find(|(d, _)| *d == dir) {
        names
            .iter()
            .filter_map(|n| {
                files
                    .read(&format!("{dir}/{n}"))
                    .map(|d| format!("F{n}\t{}", d.len()))
            })
            .collect()
    } else {
        return vec![Payload::nak(req, FtpErrorCode::FileNotFound, None)];
    };
    let mut data = Vec::new();
    for e in entries.iter().skip(req.offset as usize) {
        if data.len() + e.len() + 1 > MAX_DATA_LEN {
            break;
        }
        data.extend_from_slice(e.as_bytes());
        data.push(0);
    }
    if data.is_empty() {
        return vec![Payload::nak(req, FtpErrorCode::Eof, None)];
    }
    vec![Payload::reply_to(req, Opcode::Ack, req.offset, data)]
}
