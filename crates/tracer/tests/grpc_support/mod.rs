//! Shared by the gRPC tests: the `test.v1.Echo` service (real tonic server on 127.0.0.1:0) whose
//! behaviour each request chooses, and clients with and without the tracer's client layer.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part of this module

#[allow(clippy::all, missing_docs, unreachable_pub)]
#[path = "echo.rs"]
pub mod echo;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status, Streaming};
use tracer::Tracer;
use tracer::grpc::{GrpcClientLayer, GrpcClientService, GrpcServerLayer};

pub use echo::echo_client::EchoClient;
use echo::echo_server::{Echo, EchoServer};
pub use echo::{EchoRequest, EchoResponse};

/// A client whose channel goes through the tracer's client layer.
pub type TracedClient = EchoClient<GrpcClientService<Channel>>;

/// What the server did, for assertions on work done (or not done) by handlers.
#[derive(Debug, Default)]
pub struct State {
    /// Handlers that ran to their end (after any requested sleep).
    pub completed: AtomicUsize,
    /// Stream messages produced by server-streaming and bidi handlers.
    pub produced: AtomicUsize,
    /// The metadata of the last request, as `key: value` lines.
    pub last_metadata: std::sync::Mutex<Vec<(String, String)>>,
}

/// The Echo implementation.
pub struct EchoService {
    state: Arc<State>,
    /// When set, Unary forwards each request here before answering (a second hop).
    downstream: Option<TracedClient>,
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

fn requested_failure(code: i32) -> Status {
    Status::new(
        Code::from_i32(code),
        format!("requested {:?}", Code::from_i32(code)),
    )
}

/// The server-stream behaviour: `count` messages, each after a `sleep_ms` pause; with `fail_after` > 0 the
/// stream fails with `code` (or panics, with `panic`) after that many messages; otherwise a
/// non-zero `code` fails the stream at its end.
fn reply_stream(req: EchoRequest, state: Arc<State>) -> ResponseStream {
    let stream = futures_util::stream::unfold(0u32, move |sent| {
        let req = req.clone();
        let state = state.clone();
        async move {
            if sent == u32::MAX {
                return None; // after an error item
            }
            if req.sleep_ms > 0 {
                tokio::time::sleep(Duration::from_millis(req.sleep_ms)).await;
            }
            let fail_here = (req.fail_after > 0 && sent == req.fail_after)
                || (req.fail_after == 0 && sent == req.count && req.code != 0);
            if fail_here {
                if req.panic {
                    panic!("stream handler panicked after {sent} messages");
                }
                return Some((Err(requested_failure(req.code)), u32::MAX));
            }
            if sent >= req.count {
                state.completed.fetch_add(1, Ordering::SeqCst);
                return None;
            }
            state.produced.fetch_add(1, Ordering::SeqCst);
            let reply = EchoResponse {
                message: req.message.clone(),
                seq: sent + 1,
            };
            Some((Ok(reply), sent + 1))
        }
    });
    Box::pin(stream)
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let metadata = request
            .metadata()
            .as_ref()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
            .collect();
        *self.state.last_metadata.lock().unwrap() = metadata;
        let req = request.into_inner();
        if req.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(req.sleep_ms)).await;
        }
        if req.panic {
            panic!("unary handler panicked on purpose");
        }
        if let Some(downstream) = &self.downstream {
            let mut downstream = downstream.clone();
            downstream.unary(req.clone()).await?;
        }
        self.state.completed.fetch_add(1, Ordering::SeqCst);
        if req.code != 0 {
            return Err(requested_failure(req.code));
        }
        Ok(Response::new(EchoResponse {
            message: req.message,
            seq: 1,
        }))
    }

    type ServerStreamStream = ResponseStream;

    async fn server_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Self::ServerStreamStream>, Status> {
        Ok(Response::new(reply_stream(
            request.into_inner(),
            self.state.clone(),
        )))
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let mut incoming = request.into_inner();
        let mut received = 0u32;
        while let Some(req) = incoming.message().await? {
            received += 1;
            if req.code != 0 {
                return Err(requested_failure(req.code));
            }
        }
        self.state.completed.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(EchoResponse {
            message: format!("received {received}"),
            seq: received,
        }))
    }

    type BidiStreamStream = ResponseStream;

    async fn bidi_stream(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Self::BidiStreamStream>, Status> {
        let incoming = request.into_inner();
        let state = self.state.clone();
        let replies = incoming.enumerate().map(move |(i, req)| {
            let req = req?;
            if req.code != 0 {
                return Err(requested_failure(req.code));
            }
            state.produced.fetch_add(1, Ordering::SeqCst);
            Ok(EchoResponse {
                message: req.message,
                seq: i as u32 + 1,
            })
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

/// An Echo service with fresh state and no downstream, for servers built by hand.
pub fn echo_server() -> EchoServer<EchoService> {
    EchoServer::new(EchoService {
        state: Arc::default(),
        downstream: None,
    })
}

/// A running Echo server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestServer {
    /// A lazily connecting channel to this server.
    pub fn channel(&self) -> Channel {
        channel(self.addr)
    }

    /// A client through the tracer's client layer recording with `tracer`.
    pub fn client(&self, tracer: &Tracer) -> TracedClient {
        traced_client(self.addr, tracer)
    }

    /// A client with no tracing at all.
    pub fn plain_client(&self) -> EchoClient<Channel> {
        EchoClient::new(self.channel())
    }
}

/// A lazily connecting channel to `addr`.
pub fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("a valid endpoint")
        .connect_lazy()
}

/// A client to `addr` through the tracer's client layer recording with `tracer`.
pub fn traced_client(addr: SocketAddr, tracer: &Tracer) -> TracedClient {
    let layer = GrpcClientLayer::new()
        .with_tracer(tracer.clone())
        .server_address(addr.ip().to_string(), Some(addr.port()));
    EchoClient::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(channel(addr)),
    )
}

/// Starts an Echo server on 127.0.0.1:0 behind `layer`.
pub async fn start(layer: GrpcServerLayer) -> TestServer {
    start_with(layer, None).await
}

/// Starts an Echo server whose Unary handler first calls `downstream`.
pub async fn start_with(layer: GrpcServerLayer, downstream: Option<TracedClient>) -> TestServer {
    let state = Arc::new(State::default());
    let service = EchoService {
        state: state.clone(),
        downstream,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (_health_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(EchoServer::new(service))
            .add_service(health)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .expect("the test server runs");
    });
    TestServer {
        addr,
        state,
        _stop: stop,
    }
}

/// A plain request.
pub fn request(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        ..EchoRequest::default()
    }
}

/// How long tests wait for spans that end asynchronously (server spans end after the client
/// has its response).
pub const WAIT: Duration = Duration::from_secs(5);
