//! The Linux OS seal: a seccomp filter on the whole process tree, and a small supervisor
//! process that hands the sealed tree only sockets that cannot leave the machine.
//!
//! This is the workspace's one module with `unsafe` code: system calls that neither std nor
//! any safe crate offers (seccomp, its user-notification ioctls, `fork`, `SCM_RIGHTS`).
//! Each `unsafe` block says why it is sound.
//!
//! # How it works (ARCHITECTURE.md, "The OS seal", says why this combination)
//!
//! [`engage`] runs at the top of `main`, before the program starts threads of its own:
//! 1. It checks that no internet socket is open (an inherited or early socket would escape
//!    any filter installed after it was made), and checks again once the filter is in.
//! 2. It forks the **supervisor**, which is not under the filter. The supervisor dies with
//!    the process (`PR_SET_PDEATHSIG`), is not dumpable, and only ever makes sockets tied to
//!    the loopback interface.
//! 3. It installs the **filter** (`PR_SET_NO_NEW_PRIVS`, seccomp with `TSYNC`), inherited by
//!    every thread and child process (WebKit's web and network processes included):
//!    - `socket()`: `AF_UNIX` is allowed; every other family goes to the supervisor, which
//!      answers a TCP request with a socket bound to the `lo` device (`SO_BINDTODEVICE`,
//!      injected with `SECCOMP_IOCTL_NOTIF_ADDFD`) and refuses everything else (UDP, raw,
//!      packet, netlink…) with `EACCES`, counting it.
//!    - `setsockopt()` cannot change a socket's device (`SO_BINDTODEVICE`,
//!      `SO_BINDTOIFINDEX`, `IP(V6)_UNICAST_IF`) or its routing mark (`SO_MARK`).
//!    - `socketpair()` only for `AF_UNIX`; io_uring (which bypasses seccomp for socket
//!      operations) is `ENOSYS`; `ptrace`, `process_vm_readv/writev`, `pidfd_getfd` and
//!      `bpf` (ways into the supervisor or around the stack) are `EPERM`; any other
//!      architecture's system calls kill the process.
//! 4. UDP vehicle links and forwards get a **relay**: the supervisor binds a UDP socket to a
//!    loopback address and passes datagrams over a Unix `SOCK_SEQPACKET` pair (`relay.rs`),
//!    sending only to loopback peers. A UDP socket cannot be handed over like a TCP one:
//!    measured here, a datagram sent with an `IP_PKTINFO` control message leaves through any
//!    interface even from a socket bound to 127.0.0.1 and to `lo`.
//!
//! Why TCP on `lo` is safe: a socket bound to the loopback device routes everything through
//! it (a SYN to another host goes out on `lo` and is dropped there), the binding cannot be
//! undone under the filter, and TCP ignores `IP_PKTINFO` on send.

#![allow(
    unsafe_code,
    reason = "the one module with system calls std does not wrap; each block says why it is sound"
)]
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the seal's supervisor makes the loopback sockets of a sealed process, and its \
              self-test probes must try a real socket"
)]

use std::io;
use std::mem::size_of;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use super::relay;
use super::{Probe, SealError};
use crate::is_loopback;

// Linux ABI values (identical on x86_64 and aarch64), spelled out so that the filter reads
// as the table it is.
const SOL_SOCKET: u32 = 1;
const SO_BINDTODEVICE: u32 = 25;
const SO_MARK: u32 = 36;
const SO_DOMAIN: i32 = 39;
const SO_BINDTOIFINDEX: u32 = 62;
const IPPROTO_IP: u32 = 0;
const IP_UNICAST_IF: u32 = 50;
const IPPROTO_IPV6: u32 = 41;
const IPV6_UNICAST_IF: u32 = 76;
/// The type bits of `socket()`'s second argument (the rest are `SOCK_NONBLOCK`/`SOCK_CLOEXEC`).
const SOCK_TYPE_MASK: i32 = 0xf;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// How the sealed process reaches its supervisor once engaged.
struct Engaged {
    /// Requests and replies, one at a time (`SOCK_SEQPACKET`).
    control: Mutex<UnixDatagram>,
}

/// Process-wide by nature: the seal covers the whole process from `main` on, and the UDP
/// transports of any crate ask it for relays.
static ENGAGED: OnceLock<Engaged> = OnceLock::new();

/// True once [`engage`] succeeded in this process.
pub(super) fn is_engaged() -> bool {
    ENGAGED.get().is_some()
}

fn os_error(step: &'static str) -> SealError {
    SealError::Install {
        step,
        source: io::Error::last_os_error(),
    }
}

/// Seals this process and everything it will start.
pub(super) fn engage() -> Result<(), SealError> {
    if is_engaged() {
        return Ok(());
    }
    // Threads that exist already (libwebkit2gtk starts its allocator's scavenger from a
    // library constructor, before `main`) are covered by TSYNC; a socket one of them opened
    // is found by the scans before and after the filter.
    check_inherited_sockets(false)?;

    let (ours, theirs) = seqpacket_pair().map_err(|source| SealError::Install {
        step: "creating the supervisor's control socket",
        source,
    })?;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the child never returns into the caller's code. It uses the allocator, whose
    // locks glibc resets in a forked child, and nothing else another thread may hold: the
    // only threads that can exist this early are library constructors' (WebKit's allocator
    // scavenger), which share no lock with the supervisor's code.
    match unsafe { libc::fork() } {
        -1 => return Err(os_error("starting the seal supervisor (fork)")),
        0 => {
            drop(ours);
            supervise(theirs, parent)
        }
        _child => drop(theirs),
    }

    install_filter(&ours)?;
    // Anything opened between the first scan and the filter would be here now; from now on
    // every internet socket comes from the supervisor, tied to `lo`.
    check_inherited_sockets(true)?;
    ENGAGED
        .set(Engaged {
            control: Mutex::new(ours),
        })
        .map_err(|_| SealError::SelfCheck {
            what: "the seal was engaged twice at once".into(),
        })?;
    check_engaged()?;
    request(b"A").map_err(|source| SealError::Install {
        step: "arming the supervisor",
        source,
    })?;
    Ok(())
}

/// Fails on an open non-Unix socket; `allow_loopback_device` passes the supervisor's.
fn check_inherited_sockets(allow_loopback_device: bool) -> Result<(), SealError> {
    let entries = std::fs::read_dir("/proc/self/fd").map_err(|source| SealError::Install {
        step: "listing open files in /proc/self/fd",
        source,
    })?;
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        let mut domain: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `domain` and `len` are valid for writes of the sizes given; a stale fd
        // (closed since the listing) only makes the call fail.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                SO_DOMAIN,
                std::ptr::addr_of_mut!(domain).cast(),
                &mut len,
            )
        };
        if r == 0 && domain != libc::AF_UNIX && !(allow_loopback_device && on_loopback_device(fd)) {
            return Err(SealError::InheritedSocket {
                fd,
                family: family_name(domain),
            });
        }
    }
    Ok(())
}

/// The device a socket is bound to (`SO_BINDTODEVICE`), empty when none.
fn bound_device(fd: RawFd) -> io::Result<String> {
    let mut name = [0u8; 32];
    let mut len = name.len() as libc::socklen_t;
    // SAFETY: `name`/`len` are valid for writes of `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_BINDTODEVICE as i32,
            name.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let bytes = &name[..(len as usize).min(name.len())];
    let device = bytes.split(|b| *b == 0).next().unwrap_or_default();
    Ok(String::from_utf8_lossy(device).into_owned())
}

/// True when `fd` is a socket bound to the `lo` device.
fn on_loopback_device(fd: RawFd) -> bool {
    bound_device(fd).is_ok_and(|d| d == "lo")
}

/// The socket family, with its article, as said in an error.
fn family_name(domain: i32) -> &'static str {
    match domain {
        libc::AF_INET => "an IPv4",
        libc::AF_INET6 => "an IPv6",
        libc::AF_PACKET => "a packet",
        libc::AF_NETLINK => "a netlink",
        _ => "a non-Unix",
    }
}

fn seqpacket_pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((UnixDatagram::from(a), UnixDatagram::from(b)))
}

// ---- the filter ---------------------------------------------------------------------------

/// Jump targets in the filter.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Label {
    Allow,
    Notify,
    Eacces,
    Eperm,
    Enosys,
    Kill,
    Native,
    Socket,
    Socketpair,
    Setsockopt,
    SolSocket,
    NotSolSocket,
    IpOption,
    NotIpLevel,
    Ipv6Option,
}

/// One filter instruction, with symbolic forward jumps.
enum Op {
    Here(Label),
    /// Load the 32-bit word at this offset of `struct seccomp_data`.
    Load(u32),
    /// Jump to the label if the loaded word equals `k`, else to the second label, or to the
    /// next instruction when there is none.
    Jeq(u32, Label, Option<Label>),
    Jge(u32, Label, Option<Label>),
    Ret(u32),
}

/// `struct seccomp_data` offsets: `nr`, `arch`, and the low half of argument `i`
/// (little-endian on both supported architectures; every argument tested is an `int`).
const NR: u32 = 0;
const ARCH: u32 = 4;
const fn arg(i: u32) -> u32 {
    16 + 8 * i
}

fn errno(e: i32) -> Op {
    Op::Ret(libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA))
}

/// The filter as a table (see the module docs).
fn filter_ops() -> Vec<Op> {
    use Label::*;
    use Op::*;
    let mut p = vec![
        Load(ARCH),
        Jeq(AUDIT_ARCH, Native, Some(Kill)),
        Here(Native),
        Load(NR),
    ];
    // x32 system calls share x86_64's architecture value and carry this bit.
    #[cfg(target_arch = "x86_64")]
    p.push(Jge(0x4000_0000, Enosys, None));
    let sys = |n: libc::c_long| n as u32;
    for (n, target) in [
        (libc::SYS_socket, Socket),
        (libc::SYS_socketpair, Socketpair),
        (libc::SYS_setsockopt, Setsockopt),
        (libc::SYS_io_uring_setup, Enosys),
        (libc::SYS_io_uring_enter, Enosys),
        (libc::SYS_io_uring_register, Enosys),
        (libc::SYS_ptrace, Eperm),
        (libc::SYS_process_vm_readv, Eperm),
        (libc::SYS_process_vm_writev, Eperm),
        (libc::SYS_pidfd_getfd, Eperm),
        (libc::SYS_bpf, Eperm),
    ] {
        p.push(Jeq(sys(n), target, None));
    }
    p.extend([
        Ret(libc::SECCOMP_RET_ALLOW),
        // socket(domain, type, protocol): Unix sockets are the process's own business;
        // everything else is the supervisor's decision.
        Here(Socket),
        Load(arg(0)),
        Jeq(libc::AF_UNIX as u32, Allow, Some(Notify)),
        Here(Socketpair),
        Load(arg(0)),
        Jeq(libc::AF_UNIX as u32, Allow, Some(Eacces)),
        // setsockopt(fd, level, name, ...): no way to move a socket off `lo`.
        Here(Setsockopt),
        Load(arg(1)),
        Jeq(SOL_SOCKET, SolSocket, Some(NotSolSocket)),
        Here(SolSocket),
        Load(arg(2)),
        Jeq(SO_BINDTODEVICE, Eperm, None),
        Jeq(SO_BINDTOIFINDEX, Eperm, None),
        Jeq(SO_MARK, Eperm, Some(Allow)),
        Here(NotSolSocket),
        Jeq(IPPROTO_IP, IpOption, Some(NotIpLevel)),
        Here(IpOption),
        Load(arg(2)),
        Jeq(IP_UNICAST_IF, Eperm, Some(Allow)),
        Here(NotIpLevel),
        Jeq(IPPROTO_IPV6, Ipv6Option, Some(Allow)),
        Here(Ipv6Option),
        Load(arg(2)),
        Jeq(IPV6_UNICAST_IF, Eperm, Some(Allow)),
        Here(Allow),
        Ret(libc::SECCOMP_RET_ALLOW),
        Here(Notify),
        Ret(libc::SECCOMP_RET_USER_NOTIF),
        Here(Eacces),
        errno(libc::EACCES),
        Here(Eperm),
        errno(libc::EPERM),
        Here(Enosys),
        errno(libc::ENOSYS),
        Here(Kill),
        Ret(libc::SECCOMP_RET_KILL_PROCESS),
    ]);
    p
}

/// Resolves the labels into classic BPF.
fn assemble(ops: &[Op]) -> Result<Vec<libc::sock_filter>, String> {
    let mut at = std::collections::HashMap::new();
    let mut n = 0usize;
    for op in ops {
        match op {
            Op::Here(l) => {
                if at.insert(*l, n).is_some() {
                    return Err(format!("label {l:?} placed twice"));
                }
            }
            _ => n += 1,
        }
    }
    let mut out = Vec::with_capacity(n);
    for op in ops {
        let pc = out.len();
        let rel = |l: Option<Label>| -> Result<u8, String> {
            let Some(l) = l else { return Ok(0) };
            let target = *at.get(&l).ok_or(format!("label {l:?} is never placed"))?;
            let off = target
                .checked_sub(pc + 1)
                .ok_or(format!("a backward jump to {l:?}"))?;
            u8::try_from(off).map_err(|_| format!("a jump to {l:?} longer than 255"))
        };
        let ins = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        };
        let jump = |code: u32, k: u32, yes: Label, no: Option<Label>| {
            Ok::<_, String>(ins(
                libc::BPF_JMP | code | libc::BPF_K,
                rel(Some(yes))?,
                rel(no)?,
                k,
            ))
        };
        match op {
            Op::Here(_) => continue,
            Op::Load(off) => out.push(ins(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, *off)),
            Op::Jeq(k, yes, no) => out.push(jump(libc::BPF_JEQ, *k, *yes, *no)?),
            Op::Jge(k, yes, no) => out.push(jump(libc::BPF_JGE, *k, *yes, *no)?),
            Op::Ret(k) => out.push(ins(libc::BPF_RET | libc::BPF_K, 0, 0, *k)),
        }
    }
    Ok(out)
}

fn install_filter(control: &UnixDatagram) -> Result<(), SealError> {
    let filter = assemble(&filter_ops()).map_err(|what| SealError::SelfCheck {
        what: format!("the seal's filter does not assemble: {what}"),
    })?;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(os_error("setting no_new_privs"));
    }
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(|_| SealError::SelfCheck {
            what: "the seal's filter is too long".into(),
        })?,
        filter: filter.as_ptr().cast_mut(),
    };
    let flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
        | libc::SECCOMP_FILTER_FLAG_TSYNC
        | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    // SAFETY: `prog` points at `filter`, which outlives the call; the kernel copies both.
    let listener = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::addr_of!(prog),
        )
    };
    if listener < 0 {
        let source = io::Error::last_os_error();
        return Err(match source.raw_os_error() {
            Some(libc::EINVAL | libc::ENOSYS) => SealError::Unsupported {
                why: format!(
                    "this kernel cannot install the seal's filter ({source}); \
                     Linux 5.14 or later with seccomp user notification is needed"
                ),
            },
            _ => SealError::Install {
                step: "installing the seccomp filter",
                source,
            },
        });
    }
    let listener = RawFd::try_from(listener).map_err(|_| SealError::SelfCheck {
        what: "seccomp returned an impossible descriptor".into(),
    })?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    let listener = unsafe { OwnedFd::from_raw_fd(listener) };
    send_with_fd(control, b"L", &listener).map_err(|source| SealError::Install {
        step: "handing the filter's listener to the supervisor",
        source,
    })
}

// ---- descriptors over Unix sockets ----------------------------------------------------------

/// Room for one `SCM_RIGHTS` message with one descriptor, suitably aligned.
#[repr(C, align(8))]
struct CmsgSpace([u8; 64]);

/// Sends `bytes` with `fd` attached (`SCM_RIGHTS`).
fn send_with_fd(socket: &UnixDatagram, bytes: &[u8], fd: &OwnedFd) -> io::Result<()> {
    let mut space = CmsgSpace([0; 64]);
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: a zeroed msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes a size.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as _;
    // SAFETY: `msg` describes `space`, which is large enough for one descriptor (checked by
    // CMSG_FIRSTHDR returning non-null); the pointers written stay inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(io::Error::other("no room for the descriptor"));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd.as_raw_fd());
    }
    // SAFETY: `msg` and everything it points to are alive for the call.
    let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one message into `buf`, and the descriptor attached to it, if any.
fn recv_with_fd(socket: &UnixDatagram, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut space = CmsgSpace([0; 64]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: a zeroed msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.0.as_mut_ptr().cast();
    msg.msg_controllen = space.0.len() as _;
    // SAFETY: `msg` points at `buf` and `space`, both alive and writable for the call;
    // MSG_CMSG_CLOEXEC keeps received descriptors out of child processes.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fd = None;
    // SAFETY: the kernel filled `msg_control` with well-formed control messages within
    // `msg_controllen`; the CMSG_* macros walk exactly those.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                // The kernel installed this descriptor for us; we own it.
                fd = Some(OwnedFd::from_raw_fd(raw));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, fd))
}

// ---- the sealed side -------------------------------------------------------------------------

/// One request to the supervisor and its reply (with a descriptor, for a relay).
fn request_with_fd(req: &[u8]) -> io::Result<(Vec<u8>, Option<OwnedFd>)> {
    let engaged = ENGAGED
        .get()
        .ok_or_else(|| io::Error::other("the OS seal is not engaged"))?;
    let control = engaged
        .control
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    control.send(req)?;
    let mut buf = [0u8; 512];
    let (n, fd) = recv_with_fd(&control, &mut buf)?;
    if n == 0 {
        return Err(io::Error::other("the seal supervisor has gone"));
    }
    Ok((buf[..n].to_vec(), fd))
}

fn request(req: &[u8]) -> io::Result<Vec<u8>> {
    request_with_fd(req).map(|(reply, _)| reply)
}

/// A UDP socket bound to `bind` (a loopback address) in the supervisor, relayed over the
/// returned Unix socket (frames as in `relay.rs`), and the address it is bound to.
pub(super) fn udp_relay(bind: SocketAddr) -> io::Result<(UnixDatagram, SocketAddr)> {
    let mut req = vec![b'U'; 1 + relay::HEADER_LEN];
    relay::put_addr(bind, &mut req[1..]);
    let (reply, fd) = request_with_fd(&req)?;
    match (reply.first(), fd) {
        (Some(b'O'), Some(fd)) => {
            let (local, _) = relay::decode(&reply[1..])
                .ok_or_else(|| io::Error::other("the seal supervisor sent a bad address"))?;
            Ok((UnixDatagram::from(fd), local))
        }
        (Some(b'E'), _) => {
            let why = String::from_utf8_lossy(&reply[2..]).into_owned();
            let kind = match reply.get(1) {
                Some(b'P') => io::ErrorKind::PermissionDenied,
                Some(b'A') => io::ErrorKind::AddrInUse,
                _ => io::ErrorKind::Other,
            };
            Err(io::Error::new(kind, why))
        }
        _ => Err(io::Error::other(
            "the seal supervisor sent an unknown reply",
        )),
    }
}

/// Sockets the supervisor refused since the seal was armed (UDP, raw, netlink…, and relayed
/// datagrams to a non-loopback peer).
pub(super) fn refused_count() -> io::Result<u64> {
    let reply = request(b"C")?;
    match reply.as_slice() {
        [b'C', rest @ ..] if rest.len() == 8 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(rest);
            Ok(u64::from_le_bytes(n))
        }
        _ => Err(io::Error::other(
            "the seal supervisor sent an unknown reply",
        )),
    }
}

/// Proves the filter and the supervisor are in place from inside the sealed process.
fn check_engaged() -> Result<(), SealError> {
    let failed: Vec<String> = probes()
        .into_iter()
        .filter(|p| !p.passed)
        .map(|p| format!("{}: {}", p.what, p.detail))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(SealError::SelfCheck {
            what: failed.join("; "),
        })
    }
}

/// The self-test's checks of the OS layer, each run for real in this process.
pub(super) fn probes() -> Vec<Probe> {
    let mut out = Vec::new();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (mode, filters) = (field("Seccomp:"), field("Seccomp_filters:"));
    out.push(Probe {
        what: "seccomp filter in place",
        passed: mode == "2" && filters.parse::<u32>().is_ok_and(|n| n >= 1),
        detail: format!("Seccomp: {mode}, Seccomp_filters: {filters}"),
    });
    let udp = UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 0));
    out.push(Probe {
        what: "an internet datagram socket is refused",
        passed: udp
            .as_ref()
            .is_err_and(|e| e.raw_os_error() == Some(libc::EACCES)),
        detail: match &udp {
            Ok(_) => "a UDP socket was created".into(),
            Err(e) => format!("socket(AF_INET, SOCK_DGRAM): {e}"),
        },
    });
    drop(udp);
    out.push(tcp_probe());
    let count = refused_count();
    out.push(Probe {
        what: "the seal supervisor answers",
        passed: count.is_ok(),
        detail: match count {
            Ok(n) => format!("{n} sockets refused so far"),
            Err(e) => e.to_string(),
        },
    });
    out
}

fn tcp_probe() -> Probe {
    let what = "TCP sockets are tied to the loopback device";
    let socket = match std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)) {
        Ok(socket) => socket,
        Err(e) => {
            return Probe {
                what,
                passed: false,
                detail: format!("a loopback TCP listener: {e}"),
            }
        }
    };
    let device = bound_device(socket.as_raw_fd()).unwrap_or_else(|e| format!("(unreadable: {e})"));
    let unbind = b"\0";
    // SAFETY: `unbind` is valid for reads of its length.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_BINDTODEVICE as i32,
            unbind.as_ptr().cast(),
            unbind.len() as libc::socklen_t,
        )
    };
    let unbind_refused = r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    Probe {
        what,
        passed: device == "lo" && unbind_refused,
        detail: format!(
            "bound to device {device:?}; unbinding {}",
            if unbind_refused {
                "refused"
            } else {
                "was not refused"
            }
        ),
    }
}

// ---- escape attempts (the self-test's probe) --------------------------------------------------

fn last_error<T>() -> Result<T, String> {
    Err(io::Error::last_os_error().to_string())
}

/// An owned socket of this family, type and protocol, made by a raw `socket()` call (the
/// call a library would make).
fn raw_socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd, String> {
    // SAFETY: socket with integer arguments; the result is owned below.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return last_error();
    }
    // SAFETY: just created, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr_in(addr: std::net::SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

/// The other ways out of the machine a library could try, each for real: see
/// [`super::Reach::others`]. IPv4 targets only (the capture test's); an IPv6 target skips
/// the address-specific ones.
pub(super) fn escape_attempts(
    addr: SocketAddr,
    timeout: Duration,
) -> Vec<(&'static str, Result<(), String>)> {
    let mut out = Vec::new();
    if let SocketAddr::V4(v4) = addr {
        // A raw IP socket sending a UDP datagram (header + "airgap-raw") to the address.
        let raw = raw_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP).and_then(|fd| {
            let mut datagram = vec![0u8; 8];
            datagram[0..2].copy_from_slice(&40_000u16.to_be_bytes());
            datagram[2..4].copy_from_slice(&addr.port().to_be_bytes());
            datagram.extend_from_slice(b"airgap-raw");
            let len = datagram.len() as u16;
            datagram[4..6].copy_from_slice(&len.to_be_bytes());
            let to = sockaddr_in(v4);
            // SAFETY: `datagram` and `to` are valid for reads of the lengths given.
            let sent = unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    datagram.as_ptr().cast(),
                    datagram.len(),
                    0,
                    std::ptr::addr_of!(to).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            if sent < 0 {
                last_error()
            } else {
                Ok(())
            }
        });
        out.push(("raw IP datagram", raw));

        // A TCP socket moved off the loopback device, then connected.
        let unbound = raw_socket(libc::AF_INET, libc::SOCK_STREAM, 0).and_then(|fd| {
            let none = b"\0";
            // SAFETY: `none` is valid for reads of its length. Failure is fine: the connect
            // below then shows where the socket can go.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    SO_BINDTODEVICE as i32,
                    none.as_ptr().cast(),
                    none.len() as libc::socklen_t,
                );
            }
            let stream = std::net::TcpStream::from(fd);
            stream
                .set_write_timeout(Some(timeout))
                .map_err(|e| e.to_string())?;
            connect_within(&stream, v4, timeout)
        });
        out.push(("TCP after unbinding the device", unbound));
    }
    let packet = raw_socket(
        libc::AF_PACKET,
        libc::SOCK_DGRAM,
        i32::from(0x0800u16.to_be()),
    );
    out.push(("packet socket", packet.map(drop)));
    let netlink = raw_socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE);
    out.push(("netlink socket", netlink.map(drop)));
    let mut params = [0u8; 120]; // struct io_uring_params
                                 // SAFETY: `params` is a zeroed io_uring_params (120 bytes), valid for the kernel's writes.
    let ring = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    out.push((
        "io_uring",
        if ring < 0 {
            last_error()
        } else {
            // SAFETY: the kernel returned this descriptor; closing it is ours to do.
            drop(unsafe { OwnedFd::from_raw_fd(ring as RawFd) });
            Ok(())
        },
    ));
    out
}

/// Connects `stream`'s socket to `to`, giving up after `timeout`.
fn connect_within(
    stream: &std::net::TcpStream,
    to: std::net::SocketAddrV4,
    timeout: Duration,
) -> Result<(), String> {
    stream.set_nonblocking(true).map_err(|e| e.to_string())?;
    let sa = sockaddr_in(to);
    // SAFETY: `sa` is valid for reads of its length.
    let r = unsafe {
        libc::connect(
            stream.as_raw_fd(),
            std::ptr::addr_of!(sa).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EINPROGRESS) {
        return Err(e.to_string());
    }
    let mut pfd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
    if ready <= 0 {
        return Err("connection timed out".into());
    }
    match stream.take_error() {
        Ok(None) => Ok(()),
        Ok(Some(e)) | Err(e) => Err(e.to_string()),
    }
}

// ---- the supervisor ---------------------------------------------------------------------------

/// What the supervisor's threads share.
struct Supervisor {
    /// Refusals are counted once the sealed process has passed its own check.
    armed: AtomicBool,
    refused: AtomicU64,
    /// Refusals logged so far (the first few are said on stderr, then only counted).
    logged: AtomicU64,
}

const LOGGED_REFUSALS: u64 = 20;

impl Supervisor {
    fn refuse(&self, what: &str, pid: u32) {
        if !self.armed.load(Ordering::Relaxed) {
            return;
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        if self.logged.fetch_add(1, Ordering::Relaxed) < LOGGED_REFUSALS {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            eprintln!(
                "airgap seal: refused {what} for {} (pid {pid})",
                comm.trim()
            );
        }
    }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process without running the sealed process's exit handlers,
    // which are not the supervisor's to run.
    unsafe { libc::_exit(code) }
}

/// The supervisor's body; never returns.
fn supervise(control: UnixDatagram, parent: libc::pid_t) -> ! {
    // SAFETY: prctl and getppid with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != parent {
            exit_now(0);
        }
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_NAME, c"airgap-seal".as_ptr(), 0, 0, 0);
    }
    let mut first = [0u8; 8];
    let listener = match recv_with_fd(&control, &mut first) {
        Ok((_, Some(fd))) => fd,
        _ => exit_now(1),
    };
    let state = Arc::new(Supervisor {
        armed: AtomicBool::new(false),
        refused: AtomicU64::new(0),
        logged: AtomicU64::new(0),
    });
    let for_control = Arc::clone(&state);
    if std::thread::Builder::new()
        .name("seal-control".into())
        .spawn(move || serve_control(&control, &for_control))
        .is_err()
    {
        exit_now(1);
    }
    serve_notifications(&listener, &state)
}

fn serve_notifications(listener: &OwnedFd, state: &Supervisor) -> ! {
    loop {
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            exit_now(1);
        }
        if pfd.revents & libc::POLLHUP != 0 {
            // Every sealed task has exited.
            exit_now(0);
        }
        // SAFETY: the kernel requires a zeroed buffer of exactly this struct.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: `req` is valid for writes of the struct the ioctl fills.
        if unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut req,
            )
        } < 0
        {
            // The task died before we read it (ENOENT), or a signal: nothing to answer.
            continue;
        }
        answer(listener, &req, state);
    }
}

fn answer(listener: &OwnedFd, req: &libc::seccomp_notif, state: &Supervisor) {
    let args = req.data.args;
    let (domain, ty, proto) = (args[0] as i32, args[1] as i32, args[2] as i32);
    let tcp = matches!(domain, libc::AF_INET | libc::AF_INET6)
        && ty & SOCK_TYPE_MASK == libc::SOCK_STREAM
        && matches!(proto, 0 | libc::IPPROTO_TCP);
    if libc::c_long::from(req.data.nr) == libc::SYS_socket && tcp {
        match loopback_tcp_socket(domain, ty) {
            Ok(fd) => {
                let addfd = libc::seccomp_notif_addfd {
                    id: req.id,
                    flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
                    srcfd: fd.as_raw_fd() as u32,
                    newfd: 0,
                    newfd_flags: if ty & libc::SOCK_CLOEXEC != 0 {
                        libc::O_CLOEXEC as u32
                    } else {
                        0
                    },
                };
                // SAFETY: `addfd` is a valid request; with FLAG_SEND the kernel completes the
                // system call with the new descriptor's number. Failure means the task died
                // (or, on an old kernel, no FLAG_SEND: answered below).
                let r = unsafe {
                    libc::ioctl(
                        listener.as_raw_fd(),
                        libc::SECCOMP_IOCTL_NOTIF_ADDFD,
                        &addfd,
                    )
                };
                if r < 0 {
                    let e = io::Error::last_os_error()
                        .raw_os_error()
                        .unwrap_or(libc::EIO);
                    respond(listener, req.id, e);
                }
            }
            Err(e) => respond(listener, req.id, e.raw_os_error().unwrap_or(libc::EIO)),
        }
        return;
    }
    let kind = match (domain, ty & SOCK_TYPE_MASK) {
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM) => "a UDP socket",
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_RAW) => "a raw IP socket",
        (libc::AF_INET | libc::AF_INET6, _) => "an internet socket",
        (libc::AF_NETLINK, _) => "a netlink socket",
        (libc::AF_PACKET, _) => "a packet socket",
        _ => "a non-Unix socket",
    };
    state.refuse(kind, req.pid);
    respond(listener, req.id, libc::EACCES);
}

/// Fails the notified system call with `errno`.
fn respond(listener: &OwnedFd, id: u64, errno: i32) {
    let resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    // SAFETY: `resp` is a valid response; a failure means the task has gone.
    unsafe {
        libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}

/// A TCP socket of `domain` bound to the loopback device, non-blocking if `ty` asks.
fn loopback_tcp_socket(domain: i32, ty: i32) -> io::Result<OwnedFd> {
    let flags = libc::SOCK_CLOEXEC | (ty & libc::SOCK_NONBLOCK);
    // SAFETY: socket with integer arguments; the result is owned below.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just created, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    bind_to_loopback_device(fd.as_raw_fd())?;
    Ok(fd)
}

fn bind_to_loopback_device(fd: RawFd) -> io::Result<()> {
    let device = b"lo\0";
    // SAFETY: `device` is valid for reads of its length.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_BINDTODEVICE as i32,
            device.as_ptr().cast(),
            device.len() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn serve_control(control: &UnixDatagram, state: &Arc<Supervisor>) {
    let mut buf = [0u8; 64];
    loop {
        let n = match control.recv(&mut buf) {
            Ok(0) | Err(_) => exit_now(0), // the sealed process has gone
            Ok(n) => n,
        };
        let reply: io::Result<()> = match buf[0] {
            b'A' => {
                state.armed.store(true, Ordering::Relaxed);
                control.send(b"A").map(drop)
            }
            b'C' => {
                let mut reply = vec![b'C'];
                reply.extend_from_slice(&state.refused.load(Ordering::Relaxed).to_le_bytes());
                control.send(&reply).map(drop)
            }
            b'U' => match relay::decode(&buf[1..n]) {
                Some((bind, _)) => match start_relay(bind, state) {
                    Ok((fd, local)) => {
                        let mut reply = vec![b'O'; 1 + relay::HEADER_LEN];
                        relay::put_addr(local, &mut reply[1..]);
                        send_with_fd(control, &reply, &fd)
                    }
                    Err((code, why)) => {
                        let mut reply = vec![b'E', code];
                        reply.extend_from_slice(why.as_bytes());
                        control.send(&reply).map(drop)
                    }
                },
                None => control.send(b"E?a malformed relay request").map(drop),
            },
            _ => control.send(b"E?an unknown request").map(drop),
        };
        if reply.is_err() {
            exit_now(0);
        }
    }
}

/// Binds a loopback UDP socket and relays it; the sealed process gets the other end.
fn start_relay(
    bind: SocketAddr,
    state: &Arc<Supervisor>,
) -> Result<(OwnedFd, SocketAddr), (u8, String)> {
    if !is_loopback(bind.ip()) {
        state.refuse("a UDP socket on a non-loopback address", 0);
        return Err((
            b'P',
            format!("{bind} is not a loopback address; sealed, UDP is relayed on loopback only"),
        ));
    }
    let udp = UdpSocket::bind(bind).map_err(|e| {
        let code = if e.kind() == io::ErrorKind::AddrInUse {
            b'A'
        } else {
            b'?'
        };
        (code, format!("cannot bind {bind}: {e}"))
    })?;
    bind_to_loopback_device(udp.as_raw_fd())
        .map_err(|e| (b'?', format!("cannot tie {bind} to lo: {e}")))?;
    let local = udp.local_addr().map_err(|e| (b'?', e.to_string()))?;
    let (ours, theirs) = seqpacket_pair().map_err(|e| (b'?', e.to_string()))?;
    let udp = Arc::new(udp);
    let ours = Arc::new(ours);
    let closed = Arc::new(AtomicBool::new(false));
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map(drop)
            .map_err(|e| (b'?', format!("cannot start a relay thread: {e}")))
    };
    {
        let (udp, ours, closed) = (Arc::clone(&udp), Arc::clone(&ours), Arc::clone(&closed));
        spawn("relay-in", Box::new(move || relay_in(&udp, &ours, &closed)))?;
    }
    {
        let state = Arc::clone(state);
        spawn(
            "relay-out",
            Box::new(move || relay_out(&udp, &ours, &closed, &state)),
        )?;
    }
    Ok((OwnedFd::from(theirs), local))
}

/// How often the inbound half looks whether the sealed process closed its end.
const RELAY_POLL: Duration = Duration::from_millis(250);

fn relay_in(udp: &UdpSocket, to: &UnixDatagram, closed: &AtomicBool) {
    if udp.set_read_timeout(Some(RELAY_POLL)).is_err() {
        return;
    }
    let mut buf = vec![0u8; relay::HEADER_LEN + 65_536];
    while !closed.load(Ordering::Relaxed) {
        // An error is a time-out, or an ICMP error from an earlier send: keep listening.
        if let Ok((n, from)) = udp.recv_from(&mut buf[relay::HEADER_LEN..]) {
            relay::put_addr(from, &mut buf);
            if to.send(&buf[..relay::HEADER_LEN + n]).is_err() {
                return;
            }
        }
    }
}

fn relay_out(udp: &UdpSocket, from: &UnixDatagram, closed: &AtomicBool, state: &Supervisor) {
    let mut buf = vec![0u8; relay::HEADER_LEN + 65_536];
    loop {
        let n = match from.recv(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Some((to, payload)) = relay::decode(&buf[..n]) else {
            continue;
        };
        if !is_loopback(to.ip()) {
            state.refuse("a relayed datagram to a non-loopback address", 0);
            continue;
        }
        // Nobody listening there yet is not the relay's concern; the link counts drops.
        let _ = udp.send_to(payload, to);
    }
    closed.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_assembles_with_every_jump_forward_and_short() {
        let prog = assemble(&filter_ops()).expect("the filter assembles");
        assert!(prog.len() < 100, "{} instructions", prog.len());
        let last = prog.last().expect("not empty");
        assert_eq!(last.k, libc::SECCOMP_RET_KILL_PROCESS);
    }
}
