//! Quick start: two services traced end to end, in one program so it runs with one command.
//!
//! `frontend` (axum) answers `GET /checkout` by calling `backend` over HTTP (reqwest) and over
//! gRPC (tonic); `backend` serves both. Every hop is a span of one trace:
//!
//! ```text
//! frontend server GET /checkout
//!   frontend client GET
//!     backend server GET /stock
//!   frontend client grpc.health.v1.Health/Check
//!     backend server grpc.health.v1.Health/Check
//! ```
//!
//! Run it next to a collector (`cargo run --release -p tracer-collector`, then open
//! http://127.0.0.1:16686 and pick service `frontend`), or print the spans instead:
//! `OTEL_TRACES_EXPORTER=console cargo run -p tracer --example quickstart -- --once`.
//! Without `--once` it keeps serving on http://127.0.0.1:3000 until Ctrl-C; either way it stops
//! gracefully and `guard.shutdown()` exports every span before the program exits.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tracer::grpc::{CallInfo, GrpcClientLayer, GrpcClientService, GrpcServerLayer};
use tracer::http::client::TraceMiddleware;
use tracer::http::server::TraceLayer;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let once = std::env::args().any(|a| a == "--once");
    // One tracer per service. A real service is one process and calls `tracer::init()` (or
    // `tracer::builder().service_name(..).init()`) once; OTEL_* variables configure the export.
    let frontend = tracer::builder().service_name("frontend").build()?;
    let backend = tracer::builder().service_name("backend").build()?;

    // Everything stops when `stop` is sent: the servers finish their requests, then return.
    let (stop, stopped) = watch::channel(());
    let mut servers = JoinSet::new();
    let backend_addr = serve_backend(backend.tracer(), stopped.clone(), &mut servers).await?;
    let port = if once { 0 } else { 3000 };
    let frontend_addr =
        serve_frontend(frontend.tracer(), backend_addr, port, stopped, &mut servers).await?;

    let answer = reqwest::get(format!("http://{frontend_addr}/checkout"))
        .await?
        .text()
        .await?;
    println!("GET /checkout -> {answer}");
    if !once {
        println!("serving on http://{frontend_addr}/checkout; Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
    }

    stop.send(())?;
    while let Some(server) = servers.join_next().await {
        server??; // each server has finished its requests and returned
    }
    // Reached because the servers shut down gracefully: export every finished span.
    backend.shutdown()?;
    frontend.shutdown()?;
    println!("spans exported; see http://127.0.0.1:16686 (service frontend)");
    Ok(())
}

/// A future that resolves when `stop` is sent (or dropped).
async fn stopped(mut stopped: watch::Receiver<()>) {
    let _ = stopped.changed().await;
}

/// `backend`: `GET /stock` over HTTP and the standard gRPC health service, on one port each.
async fn serve_backend(
    tracer: &tracer::Tracer,
    shutdown: watch::Receiver<()>,
    servers: &mut JoinSet<Result<(), Error>>,
) -> Result<(SocketAddr, SocketAddr), Error> {
    let http = TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = http.local_addr()?;
    let app = Router::new()
        .route("/stock", get(|| async { "7 in stock" }))
        .layer(TraceLayer::new().with_tracer(tracer.clone()));
    let serve = axum::serve(http, app).with_graceful_shutdown(stopped(shutdown.clone()));
    servers.spawn(async move { Ok(serve.await?) });

    let grpc = TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc.local_addr()?;
    // tonic-health's service stands in for your generated one. Health checks are not traced by
    // default (load balancers send them all the time): here the filter lets them through.
    let every_call = |_: &CallInfo<'_>| true;
    let (_reporter, health) = tonic_health::server::health_reporter();
    let serve = Server::builder()
        .layer(
            GrpcServerLayer::new()
                .with_tracer(tracer.clone())
                .filter(every_call),
        )
        .add_service(health)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(grpc),
            stopped(shutdown),
        );
    servers.spawn(async move { Ok(serve.await?) });
    Ok((http_addr, grpc_addr))
}

/// What the frontend's handlers use.
#[derive(Clone)]
struct Backend {
    base: String,
    http: ClientWithMiddleware,
    grpc: HealthClient<GrpcClientService<Channel>>,
}

/// `frontend`: `GET /checkout`, which calls the backend over HTTP and gRPC.
async fn serve_frontend(
    tracer: &tracer::Tracer,
    (backend_http, backend_grpc): (SocketAddr, SocketAddr),
    port: u16,
    shutdown: watch::Receiver<()>,
    servers: &mut JoinSet<Result<(), Error>>,
) -> Result<SocketAddr, Error> {
    let http = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().with_tracer(tracer.clone()))
        .build();
    let channel = Endpoint::from_shared(format!("http://{backend_grpc}"))?.connect_lazy();
    let grpc = HealthClient::new(
        tower::ServiceBuilder::new()
            .layer(
                GrpcClientLayer::new()
                    .with_tracer(tracer.clone())
                    .filter(|_: &CallInfo<'_>| true),
            )
            .service(channel),
    );
    let backend = Backend {
        base: format!("http://{backend_http}"),
        http,
        grpc,
    };
    let app = Router::new()
        .route("/checkout", get(checkout))
        .with_state(backend)
        // After the routes, so that spans are named after the route template.
        .layer(TraceLayer::new().with_tracer(tracer.clone()));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let serve = axum::serve(listener, app).with_graceful_shutdown(stopped(shutdown));
    servers.spawn(async move { Ok(serve.await?) });
    Ok(addr)
}

async fn checkout(State(mut backend): State<Backend>) -> Result<String, StatusCode> {
    let bad_gateway = |_| StatusCode::BAD_GATEWAY;
    let stock = backend
        .http
        .get(format!("{}/stock", backend.base))
        .send()
        .await
        .map_err(bad_gateway)?
        .text()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    let health = backend
        .grpc
        .check(HealthCheckRequest::default())
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(format!(
        "{stock}, backend {:?}",
        health.into_inner().status()
    ))
}
