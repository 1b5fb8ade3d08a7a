//! The worker: the fourth process, consuming server3's `order.placed` events from RabbitMQ
//! (the queues of [`order_events`]).
//!
//! | queue | what the worker does | span |
//! |---|---|---|
//! | `{exchange}.loyalty` | one message at a time (prefetch 1): asks server1 for the customer's discount (`GET /customers/{name}`, the call-back) and adds loyalty points in Redis (`HINCRBY`) | `process {exchange}.loyalty`, child of server3's `send` span |
//! | `{exchange}.loyalty.dead` | parks what the loyalty queue rejected: counts it in Redis and acks | `process {exchange}.loyalty.dead`, child of the same `send` span |
//! | `{exchange}.invoices` | batches of up to [`BATCH_SIZE`] orders (or what came within [`BATCH_WINDOW`] of the first): adds each customer's total in Redis, acks the batch at once | `process {exchange}.invoices`, a trace of its own linked to each order's `send` span |
//!
//! **Failures.** A loyalty message that cannot be handled (its body is not an event, server1 or
//! Redis fails) makes its consumer span red (`error.type`). The first time it is nacked and
//! requeued (the failure may pass); when the redelivery fails too it is poison: nacked without
//! requeue, and RabbitMQ dead-letters it. Both settlements are events on the spans, and the
//! delivery count (`tracer.messaging.delivery_count`) says which delivery each span handled.
//!
//! **Directives.** The message carries the order's trace context and baggage, so the worker reads
//! the request's directive: `fault.slow=worker:{ms}` makes it sleep before handling the message.
//!
//! **Admin routes** (untraced, on `--admin-listen`): those of every service (`GET /admin/stats`,
//! `PUT /admin/tracing`), `PUT /admin/consuming` with `on` or `off` (off: the loyalty consumer
//! holds the message it has and takes no more, so a backlog builds in the broker), and `GET
//! /admin/queues`, each queue's ready messages and consumers as RabbitMQ counts them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, Consumer};
use opentelemetry::context::FutureExt as _;
use redis::AsyncCommands as _;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracer::Tracer;
use tracer::redis::InstrumentedConnection;

use crate::faults::directive::{Directive, Service};
use crate::http_forwarding;
use crate::order_events::{self, OrderPlaced, Topology};
use crate::shop_data::{Cache, StoreError};

/// Most orders in one invoice batch.
pub const BATCH_SIZE: usize = 3;
/// How long a batch waits for more orders after its first.
pub const BATCH_WINDOW: Duration = Duration::from_secs(5);

/// The worker's settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// RabbitMQ, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub amqp_url: String,
    /// The exchange server3 publishes to.
    pub exchange: String,
    /// Redis, e.g. `redis://127.0.0.1:6379/0`.
    pub redis_url: String,
    /// Base URL of server1 (the call-back).
    pub server1: String,
    /// Timeout of each request to server1.
    pub timeout: Duration,
}

/// Why a loyalty message could not be handled; its name is the span's `error.type`.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the message is not an order.placed event: {0}")]
    InvalidEvent(serde_json::Error),
    #[error("server1 did not answer: {0}")]
    Server1(String),
    #[error("redis failed: {0}")]
    Redis(redis::RedisError),
}

impl Failure {
    fn kind(&self) -> &'static str {
        match self {
            Failure::InvalidEvent(_) => "invalid_event",
            Failure::Server1(_) => "server1",
            Failure::Redis(_) => "redis",
        }
    }
}

/// A connected worker; [`serve`] runs it.
pub struct Worker {
    options: Options,
    tracer: Tracer,
    topology: Topology,
    connection: Connection,
    http: ClientWithMiddleware,
    cache: Cache,
    namespace: String,
    consuming: watch::Sender<bool>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("topology", &self.topology)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Connects to RabbitMQ and Redis, and declares the exchange, the queues and their
    /// bindings; spans are recorded with `tracer`.
    pub async fn connect(options: Options, tracer: &Tracer) -> anyhow::Result<Worker> {
        let connection = order_events::connect(&options.amqp_url).await?;
        let topology = Topology::new(options.exchange.clone());
        let channel = connection.create_channel().await?;
        topology
            .declare(&channel)
            .await
            .map_err(|e| anyhow!("cannot declare the queues of {}: {e}", topology.exchange()))?;
        let redis_err = |source| StoreError::Redis {
            url: options.redis_url.clone(),
            source,
        };
        let client = redis::Client::open(options.redis_url.as_str()).map_err(redis_err)?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(redis_err)?;
        conn.set_response_timeout(Duration::from_secs(2));
        Ok(Worker {
            http: http_forwarding::traced_client(tracer, options.timeout),
            cache: InstrumentedConnection::new(conn, &client).with_tracer(tracer.clone()),
            namespace: format!("demo:worker:{}", order_events::run_id()),
            tracer: tracer.clone(),
            topology,
            connection,
            options,
            consuming: watch::Sender::new(true),
        })
    }

    async fn consumer(&self, queue: &str, prefetch: u16) -> anyhow::Result<Consumer> {
        let channel = self.connection.create_channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                format!("worker-{queue}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| anyhow!("cannot consume from {queue}: {e}"))?;
        Ok(consumer)
    }

    /// The loyalty queue, one message at a time; while consuming is off, the message received
    /// waits.
    async fn loyalty(self: Arc<Self>) -> anyhow::Result<()> {
        let queue = self.topology.loyalty_queue();
        let mut consumer = self.consumer(&queue, 1).await?;
        let mut consuming = self.consuming.subscribe();
        while let Some(delivery) = consumer.next().await {
            let delivery = delivery?;
            consuming.wait_for(|on| *on).await?;
            self.award_points(&delivery, &queue).await;
        }
        bail!("the broker cancelled the consumer of {queue}")
    }

    async fn award_points(&self, delivery: &Delivery, queue: &str) {
        let span = tracer::lapin::process(&self.tracer, delivery, queue);
        let handled = self
            .points(delivery)
            .with_context(span.context().clone())
            .await;
        let settled = match handled {
            Ok(()) => tracer::lapin::ack(&span, delivery, BasicAckOptions::default()).await,
            Err(failure) => {
                span.fail(failure.kind());
                // A first failure may pass; a redelivery that fails again is poison and goes to
                // the dead-letter queue.
                let requeue = !delivery.redelivered;
                tracing::warn!(%queue, %failure, requeue, "a loyalty message failed");
                let options = BasicNackOptions {
                    requeue,
                    ..BasicNackOptions::default()
                };
                tracer::lapin::nack(&span, delivery, options).await
            }
        };
        if let Err(e) = settled {
            tracing::warn!(%queue, error = %e, "cannot settle a message");
        }
    }

    async fn points(&self, delivery: &Delivery) -> Result<(), Failure> {
        let directive = Directive::current();
        http_forwarding::record_customer(&directive);
        if let Some(delay) = directive.delay(Service::Worker) {
            tokio::time::sleep(delay).await;
        }
        let event: OrderPlaced =
            serde_json::from_slice(&delivery.data).map_err(Failure::InvalidEvent)?;
        let discount = self.discount(&event.customer).await?;
        let points = event.total_cents / 100 * (100 + discount) / 100;
        let mut cache = self.cache.clone();
        let _: i64 = cache
            .hincr(
                format!("{}:points", self.namespace),
                &event.customer,
                points,
            )
            .await
            .map_err(Failure::Redis)?;
        Ok(())
    }

    /// The customer's discount in percent, from server1; 0 for a customer server1 does not know.
    async fn discount(&self, customer: &str) -> Result<i64, Failure> {
        let url = format!("{}/customers/{customer}", self.options.server1);
        let sent = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| Failure::Server1(http_forwarding::error_chain(&e)))?;
        match sent.status() {
            s if s.is_success() => {
                let body: Value = sent
                    .json()
                    .await
                    .map_err(|e| Failure::Server1(e.to_string()))?;
                Ok(body["discount_percent"].as_i64().unwrap_or(0))
            }
            StatusCode::NOT_FOUND => Ok(0),
            s => Err(Failure::Server1(format!("GET {url} answered {s}"))),
        }
    }

    /// The dead-letter queue: each message is counted and acked.
    async fn dead_letters(self: Arc<Self>) -> anyhow::Result<()> {
        let queue = self.topology.dead_letter_queue();
        let mut consumer = self.consumer(&queue, 10).await?;
        while let Some(delivery) = consumer.next().await {
            let delivery = delivery?;
            let span = tracer::lapin::process(&self.tracer, &delivery, &queue);
            let mut cache = self.cache.clone();
            let key = format!("{}:dead-letters", self.namespace);
            let counted: redis::RedisResult<i64> = cache
                .incr(key, 1)
                .with_context(span.context().clone())
                .await;
            if let Err(e) = counted {
                span.fail("redis");
                tracing::warn!(%queue, error = %e, "cannot count a dead letter");
            }
            if let Err(e) = tracer::lapin::ack(&span, &delivery, BasicAckOptions::default()).await {
                tracing::warn!(%queue, error = %e, "cannot ack a dead letter");
            }
        }
        bail!("the broker cancelled the consumer of {queue}")
    }

    /// The invoice queue, in batches.
    async fn invoices(self: Arc<Self>) -> anyhow::Result<()> {
        let queue = self.topology.invoice_queue();
        let prefetch = u16::try_from(BATCH_SIZE * 4).unwrap_or(u16::MAX);
        let mut consumer = self.consumer(&queue, prefetch).await?;
        while let Some(first) = consumer.next().await {
            let mut batch = vec![first?];
            let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
            while batch.len() < BATCH_SIZE {
                match tokio::time::timeout_at(deadline, consumer.next()).await {
                    Ok(Some(delivery)) => batch.push(delivery?),
                    Ok(None) => bail!("the broker cancelled the consumer of {queue}"),
                    Err(_) => break,
                }
            }
            self.invoice(&batch, &queue).await;
        }
        bail!("the broker cancelled the consumer of {queue}")
    }

    async fn invoice(&self, batch: &[Delivery], queue: &str) {
        let span = tracer::lapin::process_batch(&self.tracer, batch, queue);
        let mut totals: BTreeMap<String, i64> = BTreeMap::new();
        for delivery in batch {
            match serde_json::from_slice::<OrderPlaced>(&delivery.data) {
                Ok(event) => *totals.entry(event.customer).or_default() += event.total_cents,
                Err(e) => tracing::warn!(%queue, error = %e, "an invoice message is no event"),
            }
        }
        let key = format!("{}:invoiced", self.namespace);
        let mut cache = self.cache.clone();
        for (customer, total) in totals {
            let added: redis::RedisResult<i64> = cache
                .hincr(&key, customer, total)
                .with_context(span.context().clone())
                .await;
            if let Err(e) = added {
                span.fail("redis");
                tracing::warn!(%queue, error = %e, "cannot add an invoice total");
            }
        }
        let Some(last) = batch.last() else { return };
        let all = BasicAckOptions { multiple: true };
        if let Err(e) = tracer::lapin::ack(&span, last, all).await {
            tracing::warn!(%queue, error = %e, "cannot ack an invoice batch");
        }
    }

    /// Each queue's ready messages and consumers.
    async fn queue_counts(&self) -> anyhow::Result<Value> {
        let channel = self.connection.create_channel().await?;
        let mut out = serde_json::Map::new();
        for (name, queue) in [
            ("loyalty", self.topology.loyalty_queue()),
            ("dead_letters", self.topology.dead_letter_queue()),
            ("invoices", self.topology.invoice_queue()),
        ] {
            let q = channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(|e| anyhow!("cannot read queue {queue}: {e}"))?;
            out.insert(
                name.to_owned(),
                json!({ "queue": queue, "ready": q.message_count(), "consumers": q.consumer_count() }),
            );
        }
        let _ = channel.close(200, "done".into()).await;
        Ok(Value::Object(out))
    }
}

/// Runs the worker's consumers, and its admin routes on `admin`, until one of them fails.
pub async fn serve(admin: TcpListener, worker: Worker) -> anyhow::Result<()> {
    let worker = Arc::new(worker);
    let routes = Router::new()
        .route("/admin/consuming", put(switch_consuming))
        .route("/admin/queues", get(queues))
        .with_state(worker.clone())
        .merge(http_forwarding::admin_router(worker.tracer.clone()));
    tokio::try_join!(
        worker.clone().loyalty(),
        worker.clone().dead_letters(),
        worker.clone().invoices(),
        async {
            axum::serve(admin, routes)
                .await
                .map_err(anyhow::Error::from)
        },
    )?;
    Ok(())
}

async fn switch_consuming(State(worker): State<Arc<Worker>>, body: String) -> Response {
    let on = match body.trim() {
        "on" => true,
        "off" => false,
        other => {
            return http_forwarding::error(
                StatusCode::BAD_REQUEST,
                format!("consuming must be switched `on` or `off`, not {other:?}"),
            );
        }
    };
    worker.consuming.send_replace(on);
    Json(json!({ "consuming": on })).into_response()
}

async fn queues(State(worker): State<Arc<Worker>>) -> Response {
    match worker.queue_counts().await {
        Ok(counts) => Json(counts).into_response(),
        Err(e) => http_forwarding::error(StatusCode::BAD_GATEWAY, format!("{e:#}")),
    }
}
