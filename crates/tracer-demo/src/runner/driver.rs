//! What a scenario uses to play: a traced HTTP client acting as the demo's `client` service,
//! the fault directive as baggage, and the admin controls of the cluster.

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::Value;
use tracer::Tracer;

use super::cluster::Cluster;

/// An answer: status code and JSON body (`null` when the body was not JSON).
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status, or 0 when no answer came (timeout, connection failure).
    pub status: u16,
    /// The body.
    pub body: Value,
}

/// Plays scenarios against a running [`Cluster`].
pub struct Driver<'c> {
    /// The cluster played against.
    pub cluster: &'c Cluster,
    /// The `client` service's tracer.
    pub tracer: Tracer,
    traced: ClientWithMiddleware,
    /// An untraced client, for admin calls and hand-made headers.
    pub plain: reqwest::Client,
}

impl<'c> Driver<'c> {
    /// A driver recording its spans with `tracer`.
    pub fn new(cluster: &'c Cluster, tracer: Tracer) -> Self {
        Driver {
            cluster,
            traced: crate::http_forwarding::traced_client(&tracer, Duration::from_secs(10)),
            tracer,
            plain: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a plain reqwest client always builds"),
        }
    }

    /// Runs `body` inside a root span named `name` carrying `baggage` (the fault directive),
    /// ends the span, and returns the trace id (32 hex digits).
    pub async fn traced<F, Fut>(
        &self,
        name: &str,
        baggage: &[(&str, &str)],
        body: F,
    ) -> anyhow::Result<String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let span = self
            .tracer
            .span(
                name.to_owned(),
                SpanKind::Internal,
                vec![KeyValue::new("demo.scenario", name.to_owned())],
                &Context::new(),
            )
            .context("the client's tracer made no span: is it switched off?")?;
        let cx = Context::new().with_span(span);
        let trace_id = cx.span().span_context().trace_id().to_string();
        let cx = with_baggage(&cx, baggage);
        let result = body().with_context(cx.clone()).await;
        cx.span().end();
        result.map(|()| trace_id)
    }

    /// `GET {server1}{path}` with the current context (and its baggage).
    pub async fn get(&self, path: &str) -> Answer {
        let url = format!("{}{path}", self.cluster.server1);
        answer(self.traced.get(&url).send().await).await
    }

    /// `GET {server1}{path}`, giving up after `timeout` (the client cancels).
    pub async fn get_with_timeout(&self, path: &str, timeout: Duration) -> Answer {
        let url = format!("{}{path}", self.cluster.server1);
        answer(self.traced.get(&url).timeout(timeout).send().await).await
    }

    /// `POST {server1}{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        let url = format!("{}{path}", self.cluster.server1);
        answer(self.traced.post(&url).json(body).send().await).await
    }

    /// Switches tracing of the service at `base` on or off at run time.
    pub async fn set_tracing(&self, base: &str, on: bool) -> anyhow::Result<()> {
        let url = format!("{base}/admin/tracing");
        let r = self
            .plain
            .put(&url)
            .body(if on { "on" } else { "off" })
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("PUT {url}: {e}"))?;
        anyhow::ensure!(r.status().is_success(), "PUT {url} answered {}", r.status());
        Ok(())
    }

    /// Switches the worker's loyalty consumer on or off (off: a backlog builds in RabbitMQ).
    pub async fn set_consuming(&self, on: bool) -> anyhow::Result<()> {
        let url = format!("{}/admin/consuming", self.cluster.worker_admin);
        let r = self
            .plain
            .put(&url)
            .body(if on { "on" } else { "off" })
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("PUT {url}: {e}"))?;
        anyhow::ensure!(r.status().is_success(), "PUT {url} answered {}", r.status());
        Ok(())
    }

    /// The worker's queues as RabbitMQ counts them: `{"loyalty": {"ready": n, ...}, ...}`.
    pub async fn queues(&self) -> anyhow::Result<Value> {
        let url = format!("{}/admin/queues", self.cluster.worker_admin);
        let r = self
            .plain
            .get(&url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
        anyhow::ensure!(r.status().is_success(), "GET {url} answered {}", r.status());
        Ok(r.json().await?)
    }

    /// The export counters of the service at `base`.
    pub async fn stats(&self, base: &str) -> anyhow::Result<Value> {
        let url = format!("{base}/admin/stats");
        Ok(self
            .plain
            .get(&url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?
            .json()
            .await?)
    }
}

/// `cx` with `entries` added to its baggage.
pub fn with_baggage(cx: &Context, entries: &[(&str, &str)]) -> Context {
    if entries.is_empty() {
        return cx.clone();
    }
    let mut all: Vec<KeyValue> = cx
        .baggage()
        .iter()
        .map(|(k, (v, _))| KeyValue::new(k.clone(), v.as_str().to_owned()))
        .collect();
    all.extend(
        entries
            .iter()
            .map(|(k, v)| KeyValue::new((*k).to_owned(), (*v).to_owned())),
    );
    cx.with_baggage(all)
}

async fn answer(sent: Result<reqwest::Response, reqwest_middleware::Error>) -> Answer {
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.json().await.unwrap_or(Value::Null);
            Answer { status, body }
        }
        Err(e) => Answer {
            status: 0,
            body: Value::String(crate::http_forwarding::error_chain(&e)),
        },
    }
}
