//! Two HTTP services: `frontend` (axum) answers `GET /hello` by calling `backend` over reqwest.
//!
//! ```text
//! frontend server GET /hello
//!   frontend client GET
//!     backend server GET /greeting/{name}
//! ```
//!
//! Run it next to a collector (`cargo run --release -p tracer-collector`, then
//! http://127.0.0.1:16686, service `frontend`), or print the spans:
//! `OTEL_TRACES_EXPORTER=console cargo run -p tracer --example http --features axum,reqwest`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracer::http::client::TraceMiddleware;
use tracer::http::server::TraceLayer;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Two services in one program; each real service calls `tracer::init()` once instead.
    let frontend = tracer::builder().service_name("frontend").build()?;
    let backend = tracer::builder().service_name("backend").build()?;
    let (stop, stopped) = watch::channel(());
    let shutdown = |mut rx: watch::Receiver<()>| async move {
        let _ = rx.changed().await;
    };

    let backend_app = Router::new()
        .route(
            "/greeting/{name}",
            get(|Path(name): Path<String>| async move { format!("hello, {name}") }),
        )
        .layer(TraceLayer::new().with_tracer(backend.tracer().clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let backend_url = format!("http://{}", listener.local_addr()?);
    let backend_server = tokio::spawn(
        axum::serve(listener, backend_app)
            .with_graceful_shutdown(shutdown(stopped.clone()))
            .into_future(),
    );

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().with_tracer(frontend.tracer().clone()))
        .build();
    let frontend_app = Router::new()
        .route("/hello", get(hello))
        .with_state((client, backend_url))
        .layer(TraceLayer::new().with_tracer(frontend.tracer().clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let frontend_url = format!("http://{}", listener.local_addr()?);
    let frontend_server = tokio::spawn(
        axum::serve(listener, frontend_app)
            .with_graceful_shutdown(shutdown(stopped))
            .into_future(),
    );

    let answer = reqwest::get(format!("{frontend_url}/hello"))
        .await?
        .text()
        .await?;
    println!("GET /hello -> {answer}");

    stop.send(())?;
    frontend_server.await??;
    backend_server.await??;
    frontend.shutdown()?; // after the servers stopped: every span is exported
    backend.shutdown()?;
    println!("spans exported; see http://127.0.0.1:16686 (service frontend)");
    Ok(())
}

async fn hello(State((client, backend)): State<(ClientWithMiddleware, String)>) -> String {
    match client.get(format!("{backend}/greeting/world")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => format!("backend unreachable: {error}"),
    }
}
