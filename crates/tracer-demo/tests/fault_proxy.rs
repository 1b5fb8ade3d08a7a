//! The fault proxy in front of a real TCP echo server: each fault shows on the wire as the
//! client would see it from a sick network.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracer_demo::faults::proxy::{Fault, FaultProxy};

async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if s.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(msg).await?;
    let mut out = vec![0u8; msg.len()];
    stream.read_exact(&mut out).await?;
    Ok(out)
}

#[tokio::test]
async fn pass_forwards_both_ways() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut s, b"ping").await.unwrap(), b"ping");
}

#[tokio::test]
async fn latency_delays_each_direction() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy
        .set(Fault::Latency(Duration::from_millis(100)))
        .await
        .unwrap();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let started = Instant::now();
    assert_eq!(round_trip(&mut s, b"slow").await.unwrap(), b"slow");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn refuse_resets_open_connections_and_refuses_new_ones_until_passing_again() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut open, b"a").await.unwrap(), b"a");
    proxy.set(Fault::Refuse).await.unwrap();
    let err = TcpStream::connect(proxy.addr()).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(
        round_trip(&mut open, b"b").await.is_err(),
        "the open connection is gone"
    );
    proxy.set(Fault::Pass).await.unwrap();
    let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut again, b"c").await.unwrap(), b"c");
}

#[tokio::test]
async fn reset_after_cuts_the_response_mid_stream() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.set(Fault::ResetAfter(3)).await.unwrap();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    s.write_all(b"hello world").await.unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got).await;
    assert_eq!(got, b"hel", "only the first 3 bytes came through");
}

#[tokio::test]
async fn blackhole_accepts_and_never_answers() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.set(Fault::Blackhole).await.unwrap();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let answered =
        tokio::time::timeout(Duration::from_millis(300), round_trip(&mut s, b"anyone?")).await;
    assert!(answered.is_err(), "no answer within 300 ms");
}
