//! A fault-injecting TCP proxy.
//!
//! The proxy listens on 127.0.0.1 and forwards every connection to a real upstream server (Redis,
//! MariaDB). Switching its [`Fault`] changes what clients see on the wire, so the instrumented
//! client reports the fault exactly as it would against a sick network:
//!
//! | fault | what the client sees |
//! |---|---|
//! | [`Fault::Pass`] | the real server |
//! | [`Fault::Latency`] | the real server, each chunk delayed in both directions |
//! | [`Fault::Refuse`] | open connections reset, new ones refused (`ECONNREFUSED`) |
//! | [`Fault::ResetAfter`] | the connection reset once that many response bytes went through |
//! | [`Fault::Blackhole`] | connections accepted, requests swallowed, nothing ever answered |
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use tracer_demo::faults::proxy::{Fault, FaultProxy};
//!
//! let proxy = FaultProxy::start("127.0.0.1:6379".parse().unwrap()).await?;
//! // point the Redis client at proxy.addr() ...
//! proxy.set(Fault::Refuse).await?;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// What the proxy does to traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward unchanged.
    Pass,
    /// Forward, delaying every chunk in each direction by this much.
    Latency(Duration),
    /// Reset open connections and refuse new ones.
    Refuse,
    /// Forward, but reset each connection after this many bytes came back from the server.
    ResetAfter(usize),
    /// Accept and read, never forward or answer.
    Blackhole,
}

/// A running proxy; dropping it stops it and closes every connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    fault: watch::Sender<Fault>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

fn bind_reusable(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (an ephemeral port) in front of `upstream`, passing traffic.
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = bind_reusable("127.0.0.1:0".parse().expect("a valid literal address"))?;
        let addr = listener.local_addr()?;
        let (fault, _) = watch::channel(Fault::Pass);
        let proxy = Self {
            addr,
            upstream,
            fault,
            acceptor: Mutex::new(None),
        };
        *proxy.acceptor.lock().await = Some(proxy.spawn_acceptor(listener));
        Ok(proxy)
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server behind the proxy.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// The current fault.
    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }

    /// Switches the fault; takes effect on open connections too.
    pub async fn set(&self, fault: Fault) -> io::Result<()> {
        let was = self.fault.send_replace(fault);
        let mut acceptor = self.acceptor.lock().await;
        match (was == Fault::Refuse, fault == Fault::Refuse) {
            (false, true) => {
                // Closing the listening socket makes the kernel refuse new connections.
                if let Some(task) = acceptor.take() {
                    task.abort();
                    let _ = task.await;
                }
            }
            (true, false) => {
                let listener = bind_reusable(self.addr)?;
                *acceptor = Some(self.spawn_acceptor(listener));
            }
            _ => {}
        }
        Ok(())
    }

    fn spawn_acceptor(&self, listener: TcpListener) -> JoinHandle<()> {
        let upstream = self.upstream;
        let faults = self.fault.subscribe();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let faults = faults.clone();
                tokio::spawn(async move {
                    let _ = serve(client, upstream, faults).await;
                });
            }
        })
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Ok(mut acceptor) = self.acceptor.try_lock()
            && let Some(task) = acceptor.take()
        {
            task.abort();
        }
        // Open connections watch the fault channel and end when its sender is gone.
    }
}

/// Closes `stream` with a TCP reset rather than an orderly FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    mut faults: watch::Receiver<Fault>,
) -> io::Result<()> {
    let fault = *faults.borrow_and_update();
    if fault == Fault::Refuse {
        reset(client);
        return Ok(());
    }
    if fault == Fault::Blackhole {
        return blackhole(client, faults).await;
    }
    let server = TcpStream::connect(upstream).await?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mut up_faults = faults.clone();
    let upstream_dir = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return io::Result::Ok(());
            }
            let fault = *up_faults.borrow_and_update();
            match fault {
                Fault::Latency(d) => tokio::time::sleep(d).await,
                Fault::Blackhole => std::future::pending::<()>().await,
                Fault::Refuse => return Err(io::ErrorKind::ConnectionReset.into()),
                Fault::Pass | Fault::ResetAfter(_) => {}
            }
            server_write.write_all(&buf[..n]).await?;
        }
    };
    let down_faults = faults.clone();
    let downstream_dir = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                return io::Result::Ok(());
            }
            let fault = *down_faults.borrow();
            let n = match fault {
                Fault::Latency(d) => {
                    tokio::time::sleep(d).await;
                    n
                }
                Fault::ResetAfter(limit) if sent + n > limit => {
                    let keep = limit.saturating_sub(sent);
                    client_write.write_all(&buf[..keep]).await?;
                    return Err(io::ErrorKind::ConnectionReset.into());
                }
                Fault::Blackhole => std::future::pending::<usize>().await,
                Fault::Refuse => return Err(io::ErrorKind::ConnectionReset.into()),
                _ => n,
            };
            client_write.write_all(&buf[..n]).await?;
            sent += n;
        }
    };
    let refused = async move {
        loop {
            if faults.changed().await.is_err() {
                return;
            }
            if *faults.borrow() == Fault::Refuse {
                return;
            }
        }
    };
    tokio::select! {
        _ = upstream_dir => {}
        _ = downstream_dir => {}
        _ = refused => {}
    }
    // Dropping both halves closes the connection; for `ResetAfter` and `Refuse` that happens
    // mid-response, which clients report as an unexpected end of stream.
    Ok(())
}

async fn blackhole(mut client: TcpStream, mut faults: watch::Receiver<Fault>) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            n = client.read(&mut buf) => if n? == 0 { return Ok(()) },
            changed = faults.changed() => {
                if changed.is_err() || *faults.borrow() == Fault::Refuse {
                    reset(client);
                    return Ok(());
                }
            }
        }
    }
}

/// Shared handle type for services that switch faults from request handlers.
pub type SharedProxy = Arc<FaultProxy>;
