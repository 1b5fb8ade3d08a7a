//! Two gRPC services: `gateway` serves the standard health service by asking `backend`'s, so
//! one call crosses both over tonic.
//!
//! ```text
//! gateway server grpc.health.v1.Health/Check
//!   gateway client grpc.health.v1.Health/Check
//!     backend server grpc.health.v1.Health/Check
//! ```
//!
//! The health service stands in for your generated one; health checks are not traced by default
//! (load balancers send them all the time), so both layers widen the filter here. Run it next to
//! a collector (`cargo run --release -p tracer-collector`, then http://127.0.0.1:16686, service
//! `gateway`), or print the spans:
//! `OTEL_TRACES_EXPORTER=console cargo run -p tracer --example grpc --features tonic`.

use std::pin::Pin;

use futures_util::Stream;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tracer::grpc::{CallInfo, GrpcClientLayer, GrpcClientService, GrpcServerLayer};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Every call, health checks included.
fn every_call(_: &CallInfo<'_>) -> bool {
    true
}

/// The gateway's health: whatever the backend says.
struct Gateway {
    backend: HealthClient<GrpcClientService<Channel>>,
}

#[tonic::async_trait]
impl Health for Gateway {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.backend.clone().check(request.into_inner()).await
    }

    type WatchStream =
        Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch is not part of this example"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Two services in one program; each real service calls `tracer::init()` once instead.
    let gateway = tracer::builder().service_name("gateway").build()?;
    let backend = tracer::builder().service_name("backend").build()?;
    let (stop, stopped) = watch::channel(());
    let shutdown = |mut rx: watch::Receiver<()>| async move {
        let _ = rx.changed().await;
    };

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let backend_addr = listener.local_addr()?;
    let (_reporter, health) = tonic_health::server::health_reporter();
    let backend_server = tokio::spawn(
        Server::builder()
            .layer(
                GrpcServerLayer::new()
                    .with_tracer(backend.tracer().clone())
                    .filter(every_call),
            )
            .add_service(health)
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(listener),
                shutdown(stopped.clone()),
            ),
    );

    let channel = Endpoint::from_shared(format!("http://{backend_addr}"))?.connect_lazy();
    let to_backend = tower::ServiceBuilder::new()
        .layer(
            GrpcClientLayer::new()
                .with_tracer(gateway.tracer().clone())
                .filter(every_call),
        )
        .service(channel);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let gateway_addr = listener.local_addr()?;
    let gateway_server = tokio::spawn(
        Server::builder()
            .layer(
                GrpcServerLayer::new()
                    .with_tracer(gateway.tracer().clone())
                    .filter(every_call),
            )
            .add_service(HealthServer::new(Gateway {
                backend: HealthClient::new(to_backend),
            }))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown(stopped)),
    );

    // An untraced caller, like grpcurl: the trace starts at the gateway.
    let channel = Endpoint::from_shared(format!("http://{gateway_addr}"))?.connect_lazy();
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await?;
    println!("Check -> {:?}", answer.into_inner().status());

    stop.send(())?;
    gateway_server.await??;
    backend_server.await??;
    gateway.shutdown()?; // after the servers stopped: every span is exported
    backend.shutdown()?;
    println!("spans exported; see http://127.0.0.1:16686 (service gateway)");
    Ok(())
}
