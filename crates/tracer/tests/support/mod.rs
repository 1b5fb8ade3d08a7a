//! Shared helpers for the core tests: a real OTLP receiver (gRPC and HTTP) on 127.0.0.1:0.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part of this module

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

/// Names of the spans received, in arrival order, and the service names seen.
#[derive(Clone, Default)]
pub struct Received {
    inner: Arc<Mutex<Vec<(String, String)>>>,
}

impl Received {
    fn record(&self, request: &ExportTraceServiceRequest) {
        let mut out = self.inner.lock().unwrap();
        for rs in &request.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                .and_then(|kv| kv.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    out.push((service.clone(), span.name.clone()));
                }
            }
        }
    }

    /// Span names received so far.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap()
            .iter()
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// `(service, span name)` pairs received so far.
    pub fn entries(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().clone()
    }

    /// Polls until `count` spans arrived or `timeout` passed.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let names = self.names();
            if names.len() >= count || Instant::now() > deadline {
                return names;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

struct Grpc(Received);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.record(request.get_ref());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP receiver running on its own thread and runtime, independent of the test's runtime.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Received,
    _stop: std::sync::mpsc::Sender<()>,
}

/// Runs `serve` with a listener on 127.0.0.1:0 on its own thread and current-thread runtime;
/// returns the address and a sender whose drop (or send) resolves `serve`'s shutdown signal.
pub fn spawn_server<F, Fut>(serve: F) -> (SocketAddr, std::sync::mpsc::Sender<()>)
where
    F: FnOnce(tokio::net::TcpListener, tokio::sync::oneshot::Receiver<()>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let _ = stop_rx.recv();
                let _ = shutdown_tx.send(());
            });
            serve(listener, shutdown_rx).await;
        });
    });
    (addr_rx.recv().unwrap(), stop_tx)
}

/// OTLP/gRPC receiver.
pub fn grpc_receiver() -> Receiver {
    let received = Received::default();
    let service = TraceServiceServer::new(Grpc(received.clone()));
    let (addr, stop) = spawn_server(move |listener, shutdown| async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = shutdown.await;
            })
            .await
            .unwrap();
    });
    Receiver {
        addr,
        received,
        _stop: stop,
    }
}

/// OTLP/HTTP receiver (protobuf and JSON bodies on `/v1/traces`).
pub fn http_receiver() -> Receiver {
    let received = Received::default();
    let state = received.clone();
    let (addr, stop) = spawn_server(move |listener, shutdown| async move {
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
                let state = state.clone();
                async move {
                    let json = headers
                        .get("content-type")
                        .is_some_and(|v| v.to_str().unwrap_or("").contains("json"));
                    let request = if json {
                        serde_json::from_slice::<ExportTraceServiceRequest>(&body).unwrap()
                    } else {
                        ExportTraceServiceRequest::decode(body).unwrap()
                    };
                    state.record(&request);
                    let mut out = Vec::new();
                    ExportTraceServiceResponse::default()
                        .encode(&mut out)
                        .unwrap();
                    ([("content-type", "application/x-protobuf")], out)
                }
            }),
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = shutdown.await;
            })
            .await
            .unwrap();
    });
    Receiver {
        addr,
        received,
        _stop: stop,
    }
}
