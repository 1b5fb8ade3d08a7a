//! The Jaeger agent's UDP ports: 6831 (thrift compact) and 6832 (thrift binary), each datagram
//! one `Agent.emitBatch` oneway message (jaegertracing/jaeger-idl `thrift/agent.thrift`), as
//! Jaeger clients send them to `jaeger-agent`; and 5775, where legacy Zipkin-model clients send
//! `Agent.emitZipkinBatch` in thrift compact (see `ingest::zipkin`).
//!
//! A datagram is at most [`MAX_DATAGRAM`] bytes (the agent's own default packet size). The socket
//! is read by one task that does nothing but copy datagrams into a bounded queue; a second task
//! decodes and stores them. So a datagram that is too large, truncated, garbage or not an
//! `emitBatch` (`emitZipkinBatch` on 5775) is dropped and counted (`droppedDatagrams` in the receiver stats) without ever
//! stopping the socket, and when decoding falls behind, datagrams are dropped and counted rather
//! than queued without bound. Read errors on the socket are logged and reading goes on.
//! Datagrams the kernel drops because the socket's receive buffer is full never reach the
//! collector; on Linux their count is read from `/proc/net/udp` (the socket's `drops` column)
//! and served as `kernelDroppedDatagrams` beside the collector's own `droppedDatagrams`, so
//! every datagram sent is accounted for.
//!
//! UDP carries no credentials, so the access token of the TCP ports cannot apply here: bound
//! beyond loopback, these ports take datagrams from anyone who can reach them (disable them with
//! port 0 where that matters).
//!
//! ```no_run
//! # async fn demo(receivers: tracer_collector::ingest::receiver::Receivers) -> std::io::Result<()> {
//! use tracer_collector::ingest::udp::{self, AgentProtocol};
//! let socket = tokio::net::UdpSocket::bind("127.0.0.1:6831").await?;
//! udp::serve(socket, AgentProtocol::Compact, receivers, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

use std::future::Future;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::receiver::Format;
use super::receiver::{Convert, FormatCounters, Receivers, submit};

/// Largest datagram decoded, in bytes (jaeger-agent's default `--processor.*.server-max-packet-size`).
pub const MAX_DATAGRAM: usize = 65_000;

/// Datagrams waiting to be decoded; more are dropped and counted.
pub const QUEUE_DATAGRAMS: usize = 256;

/// Which thrift protocol a UDP port speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentProtocol {
    /// Thrift compact (port 6831, what most Jaeger clients use).
    Compact,
    /// Thrift binary (port 6832).
    Binary,
    /// Zipkin spans in thrift compact, `emitZipkinBatch` (port 5775).
    ZipkinCompact,
}

impl AgentProtocol {
    fn name(self) -> &'static str {
        match self {
            AgentProtocol::Compact => "jaeger-compact",
            AgentProtocol::Binary => "jaeger-binary",
            AgentProtocol::ZipkinCompact => "zipkin-compact",
        }
    }

    fn convert(self) -> Convert {
        match self {
            AgentProtocol::Compact => Format::JaegerAgentCompact.converter(),
            AgentProtocol::Binary => Format::JaegerAgentBinary.converter(),
            AgentProtocol::ZipkinCompact => Format::ZipkinAgentCompact.converter(),
        }
    }

    fn counters(self, receivers: &Receivers) -> &FormatCounters {
        match self {
            AgentProtocol::Compact => &receivers.stats.jaeger_agent_compact,
            AgentProtocol::Binary => &receivers.stats.jaeger_agent_binary,
            AgentProtocol::ZipkinCompact => &receivers.stats.zipkin_agent_compact,
        }
    }
}

/// Makes the ingest stats of `protocol` read the kernel's drop count of `socket`.
/// [`serve`] does this too; the collector calls it before it starts serving queries, so the
/// stats show the count from the first request on.
pub fn register(socket: &UdpSocket, protocol: AgentProtocol, receivers: &Receivers) {
    let counters = protocol.counters(receivers);
    if let Some(inode) = socket_inode(socket) {
        counters
            .socket_inode
            .store(inode, std::sync::atomic::Ordering::Relaxed);
    }
    if let Ok(bytes) = socket2::SockRef::from(socket).recv_buffer_size() {
        counters
            .socket_receive_buffer
            .store(bytes as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Asks the kernel for a receive buffer of `bytes` on `socket` (`SO_RCVBUF`), so a burst of
/// datagrams waits in the kernel instead of being dropped there while the collector is busy.
/// Returns the size the kernel then reports. Linux reports twice the size asked (the other half
/// is its bookkeeping) and caps the request at `net.core.rmem_max`, so a result below twice
/// `bytes` means the cap applied; raise it with `sysctl -w net.core.rmem_max=...`.
pub fn set_receive_buffer(socket: &UdpSocket, bytes: usize) -> std::io::Result<usize> {
    let socket = socket2::SockRef::from(socket);
    socket.set_recv_buffer_size(bytes)?;
    socket.recv_buffer_size()
}

/// Receives `emitBatch` datagrams on `socket` until `shutdown` completes; datagrams already
/// queued are still stored before it returns.
pub async fn serve(
    socket: UdpSocket,
    protocol: AgentProtocol,
    receivers: Receivers,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let addr = socket.local_addr()?;
    tracing::info!(server = protocol.name(), %addr, "listening (udp)");
    register(&socket, protocol, &receivers);
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE_DATAGRAMS);
    let worker_receivers = receivers.clone();
    let worker = tokio::spawn(async move {
        let counters = protocol.counters(&worker_receivers);
        while let Some(datagram) = rx.recv().await {
            let ingestor = &worker_receivers.ingestor;
            if let Err(e) = submit(
                ingestor,
                counters,
                datagram,
                false,
                ingestor.meter(),
                protocol.convert(),
            )
            .await
            {
                counters.dropped();
                tracing::debug!(server = protocol.name(), error = %e, "datagram dropped");
            }
        }
    });
    let counters = protocol.counters(&receivers);
    // One byte more than the limit tells a datagram that is too large from one that fits.
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    tokio::pin!(shutdown);
    loop {
        let received = tokio::select! {
            () = &mut shutdown => break,
            r = socket.recv_from(&mut buf) => r,
        };
        match received {
            Ok((n, _)) if n > MAX_DATAGRAM => {
                counters.dropped();
                tracing::debug!(
                    server = protocol.name(),
                    limit = MAX_DATAGRAM,
                    "datagram over the size limit dropped"
                );
            }
            Ok((n, _)) => {
                if tx.try_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                    counters.dropped();
                    tracing::debug!(
                        server = protocol.name(),
                        "decode queue full, datagram dropped"
                    );
                }
            }
            Err(e) => {
                // e.g. ICMP port-unreachable reported on the socket; nothing to do but go on.
                tracing::debug!(server = protocol.name(), error = %e, "udp receive failed");
            }
        }
    }
    drop(tx);
    let _ = worker.await;
    Ok(())
}

/// The inode that identifies `socket` in `/proc/net/udp` (Linux; `None` elsewhere).
fn socket_inode(socket: &UdpSocket) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let fd = socket.as_raw_fd();
        std::fs::metadata(format!("/proc/self/fd/{fd}"))
            .ok()
            .map(|m| m.ino())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// The kernel's count of datagrams dropped on the socket with `inode`, from `/proc/net/udp`
/// and `/proc/net/udp6`; `None` when neither lists it (or they cannot be read).
pub(crate) fn kernel_drops(inode: u64) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"].iter().find_map(|path| {
        let table = std::fs::read_to_string(path).ok()?;
        drops_in_table(&table, inode)
    })
}

/// Reads the `drops` column of the row for `inode` in a `/proc/net/udp`-format table:
/// `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
/// ref pointer drops`, one socket per line after the heading.
fn drops_in_table(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(9)?.parse::<u64>().ok()? != inode {
            return None;
        }
        fields.get(12)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::drops_in_table;

    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  310: 0100007F:1AAF 00000000:0000 07 00000000:00034100 00:00000000 00000000     0        0 41907 2 ffff8f0e0a4ec000 1766
  311: 0100007F:1AB0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41908 2 ffff8f0e0a4ec400 0
";

    #[test]
    fn the_drops_column_of_the_sockets_row_is_read() {
        assert_eq!(drops_in_table(TABLE, 41907), Some(1766));
        assert_eq!(drops_in_table(TABLE, 41908), Some(0));
    }

    #[test]
    fn an_unknown_socket_or_a_short_row_reads_as_none() {
        assert_eq!(drops_in_table(TABLE, 1), None);
        assert_eq!(
            drops_in_table("heading\n 1: 0 0 07 0 0 0 0 0 41907\n", 41907),
            None
        );
        assert_eq!(drops_in_table("", 41907), None);
    }
}
