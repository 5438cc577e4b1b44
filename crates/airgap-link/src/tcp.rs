//! TCP transports: a client that reconnects forever (`tcp:`/`tcpout:`), and a server
//! that serves several clients at once (`tcpin:`).

#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the TCP transport makes vehicle links' sockets and resolves their host names; \
              the engine asks the egress gate first"
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use airgap_core::frame::FrameParser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::link::{LinkError, LinkEvent, LinkIo};
use crate::stream::{run_session, wait_retry, SessionEnd, IDLE_FLUSH, WRITE_STALL};

/// A connect that has not completed by then is treated as failed (and retried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames queued for one server-side client before it counts as too slow.
const CLIENT_QUEUE: usize = 256;

/// Resolve `host` now, so that a bad name fails [`Link::open`](crate::Link::open),
/// then connect in the background; every attempt resolves again.
pub(crate) async fn spawn_out(host: String, port: u16, mut io: LinkIo) -> Result<(), LinkError> {
    let resolved = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map(|mut addrs| addrs.next().is_some());
    match resolved {
        Ok(true) => {}
        Ok(false) => {
            return Err(LinkError::Resolve {
                host,
                reason: "no addresses".into(),
            })
        }
        Err(e) => {
            return Err(LinkError::Resolve {
                host,
                reason: e.to_string(),
            })
        }
    }
    tokio::spawn(async move {
        let reason = run_out(&host, port, &mut io).await;
        io.finish(reason).await;
    });
    Ok(())
}

async fn run_out(host: &str, port: u16, io: &mut LinkIo) -> String {
    let peer = format!("{host}:{port}");
    // Report an outage once, not on every retry.
    let mut down_reported = false;
    loop {
        let attempt = tokio::select! {
            () = io.cancel.cancelled() => return "cancelled".into(),
            attempt = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))) => attempt,
        };
        let reason = match attempt {
            Ok(Ok(stream)) => {
                // MAVLink frames are small and latency matters more than packing.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!("set_nodelay failed: {e}");
                }
                let peer = stream.peer_addr().map_or(peer.clone(), |a| a.to_string());
                if io
                    .rx
                    .emit(LinkEvent::Up { peer: peer.clone() })
                    .await
                    .is_err()
                {
                    return "cancelled".into();
                }
                down_reported = false;
                match run_session(stream, io, WRITE_STALL, || {}).await {
                    SessionEnd::Stopped => return "cancelled".into(),
                    SessionEnd::Lost(reason) => Some(format!("{peer}: {reason}")),
                }
            }
            Ok(Err(e)) => Some(format!("cannot connect to {peer}: {e}")),
            Err(_) => Some(format!("cannot connect to {peer}: timed out")),
        };
        if let Some(reason) = reason.filter(|_| !down_reported) {
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

pub(crate) async fn spawn_in(addr: SocketAddr, mut io: LinkIo) -> Result<SocketAddr, LinkError> {
    let bind_error = |source| LinkError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    tokio::spawn(async move {
        let reason = run_in(listener, &mut io).await;
        io.finish(reason).await;
    });
    Ok(local)
}

enum ClientEvent {
    Data(u64, Vec<u8>),
    Closed(u64, String),
}

struct Client {
    peer: SocketAddr,
    queue: mpsc::Sender<Vec<u8>>,
    parser: FrameParser,
}

async fn run_in(listener: TcpListener, io: &mut LinkIo) -> String {
    let (to_server, mut from_clients) = mpsc::channel::<ClientEvent>(256);
    let mut clients: HashMap<u64, Client> = HashMap::new();
    let mut next_id = 0u64;
    loop {
        let any_buffered = clients.values().any(|c| c.parser.buffered() > 0);
        tokio::select! {
            biased;
            () = io.cancel.cancelled() => return "cancelled".into(),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!("set_nodelay failed: {e}");
                    }
                    let (queue, outgoing) = mpsc::channel(CLIENT_QUEUE);
                    let id = next_id;
                    next_id += 1;
                    tokio::spawn(serve_client(
                        id,
                        stream,
                        outgoing,
                        to_server.clone(),
                        io.cancel.clone(),
                    ));
                    clients.insert(id, Client { peer, queue, parser: FrameParser::new() });
                    if io.rx.emit(LinkEvent::Up { peer: peer.to_string() }).await.is_err() {
                        return "cancelled".into();
                    }
                }
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(event) = from_clients.recv() => match event {
                ClientEvent::Data(id, bytes) => {
                    if let Some(client) = clients.get_mut(&id) {
                        if io.rx.stream_bytes(&mut client.parser, &bytes).await.is_err() {
                            return "cancelled".into();
                        }
                    }
                }
                ClientEvent::Closed(id, reason) => {
                    if let Some(client) = clients.remove(&id) {
                        let reason = format!("client {}: {reason}", client.peer);
                        if io.rx.emit(LinkEvent::Down { reason }).await.is_err() {
                            return "cancelled".into();
                        }
                    }
                }
            },
            raw = io.outgoing.recv() => {
                let Some(raw) = raw else { return "cancelled".into() };
                for copy in io.tx.prepare(raw) {
                    if clients.is_empty() {
                        io.tx.dropped(1);
                    }
                    for client in clients.values() {
                        match client.queue.try_send(copy.clone()) {
                            Ok(()) => io.tx.sent(copy.len()),
                            Err(_) => io.tx.dropped(1),
                        }
                    }
                }
            }
            () = tokio::time::sleep(IDLE_FLUSH), if any_buffered => {
                for client in clients.values_mut() {
                    client.parser.flush();
                    if io.rx.drain(&mut client.parser).await.is_err() {
                        return "cancelled".into();
                    }
                }
            }
        }
    }
}

/// One accepted client: forwards what it reads to the server task and writes what
/// the server queues for it.
async fn serve_client(
    id: u64,
    stream: TcpStream,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
    to_server: mpsc::Sender<ClientEvent>,
    cancel: CancellationToken,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = vec![0u8; 4096];
    let reason = loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            read = reader.read(&mut buf) => match read {
                Ok(0) => break "disconnected".to_string(),
                Ok(n) => {
                    if to_server.send(ClientEvent::Data(id, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
                Err(e) => break format!("read failed: {e}"),
            },
            raw = outgoing.recv() => {
                let Some(raw) = raw else { return };
                match tokio::time::timeout(WRITE_STALL, writer.write_all(&raw)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => break format!("write failed: {e}"),
                    Err(_) => tracing::debug!("client {id} stalled: frame dropped"),
                }
            }
        }
    };
    let _ = to_server.send(ClientEvent::Closed(id, reason)).await;
}
