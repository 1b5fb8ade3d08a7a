//! The `order.placed` event and its way through RabbitMQ: what server3 publishes once an order is
//! stored, the exchange and queues the [`worker`](crate::worker) consumes it from, and the names
//! that make each run's exchange and queues its own.
//!
//! ```text
//! server3 ──publish order.placed.{customer}──> exchange {exchange} (topic)
//!     ├── order.placed.*      ──> {exchange}.loyalty ──nack, not requeued──> {exchange}.loyalty.dead
//!     └── order.placed.carol  ──> {exchange}.invoices   (wholesale customers, invoiced in batches)
//! ```
//!
//! **One run, one set of names.** The runner names the exchange `orders-{run}` with a run id of
//! its own ([`run_id`]), so runs and tests side by side never see each other's messages. Nothing
//! is left behind: the queues are `auto_delete` (gone when the worker's consumers are, even when
//! the worker is killed, since the broker sees its connection close) and expire after
//! [`QUEUE_EXPIRES_MS`] unused in any case; the exchange is `auto_delete` (gone with its last
//! binding).
//!
//! **The rule when the broker is down.** The event is published after the order's `INSERT`
//! committed: an order stored is an order placed. A publish that fails is a red producer span and a
//! warning in server3's log, and neither the order nor the request fails: server3 answers OK, its
//! server span stays green, and no consumer span follows (the event is lost; a real shop would
//! keep an outbox table and publish from it).
//!
//! Every network fault is real, as for Redis and MySQL: besides its direct connection, server3
//! opens a connection to RabbitMQ through a [`FaultProxy`] and then switches the proxy to refuse,
//! so a request whose directive says `fault.broker=refuse` publishes on a connection the broker is
//! really gone from.

use std::sync::atomic::{AtomicU64, Ordering};

use lapin::options::{
    BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use serde::{Deserialize, Serialize};
use tracer::Tracer;
use tracer::lapin::TracedChannel;

use crate::faults::directive::{BrokerFault, Directive};
use crate::faults::proxy::{Fault, FaultProxy};

/// The routing key of an order's event is this, a dot, and the customer.
pub const ROUTING_PREFIX: &str = "order.placed";
/// The customers whose orders are also invoiced, in batches.
pub const INVOICED_IN_BATCHES: &[&str] = &["carol"];
/// How long an unused queue of a run lives at most (RabbitMQ `x-expires`).
pub const QUEUE_EXPIRES_MS: i64 = 10 * 60 * 1000;
/// The exchange `tracer-demo server3` and `tracer-demo worker` use when not told another.
pub const DEFAULT_EXCHANGE: &str = "tracer-demo-orders";

/// The event server3 publishes when it stored an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// The order's id in `demo_orders`.
    pub order_id: u64,
    /// Who ordered.
    pub customer: String,
    /// What the order costs.
    pub total_cents: i64,
}

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// RabbitMQ could not be reached or used.
    #[error(
        "cannot use RabbitMQ at {url}: {source}; start it with `rabbitmq-server -detached` (user guest/guest) or set AMQP_URL"
    )]
    Rabbitmq {
        /// The URL tried.
        url: String,
        /// What failed.
        source: lapin::Error,
    },
    /// The URL is not an AMQP URL.
    #[error("{url:?} is not an AMQP URL ({reason}); expected amqp://user:password@host:port/vhost")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The fault proxy in front of RabbitMQ could not start.
    #[error("cannot start a fault proxy in front of RabbitMQ at {upstream}: {source}")]
    Proxy {
        /// The broker proxied.
        upstream: String,
        /// What failed.
        source: std::io::Error,
    },
}

/// A run id no other process has: process id, start time and a counter, e.g. `81234-1c9f3a-0`.
pub fn run_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "{}-{:x}-{}",
        std::process::id(),
        millis,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The exchange of run `run`.
pub fn exchange_for_run(run: &str) -> String {
    format!("orders-{run}")
}

/// The names of one exchange's queues, and how they are declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    exchange: String,
}

impl Topology {
    /// The topology around `exchange`.
    pub fn new(exchange: impl Into<String>) -> Self {
        Topology {
            exchange: exchange.into(),
        }
    }

    /// The topic exchange server3 publishes to.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// The worker's queue of every order (loyalty points), one message at a time.
    pub fn loyalty_queue(&self) -> String {
        format!("{}.loyalty", self.exchange)
    }

    /// Where the loyalty queue's rejected messages go.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.loyalty.dead", self.exchange)
    }

    /// The worker's queue of the orders invoiced in batches.
    pub fn invoice_queue(&self) -> String {
        format!("{}.invoices", self.exchange)
    }

    /// The routing key of `customer`'s orders; a name with other characters than ASCII letters,
    /// digits, `-` and `_` is routed as `other`, so it cannot add topic words.
    pub fn routing_key(customer: &str) -> String {
        let plain = !customer.is_empty()
            && customer
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        format!(
            "{ROUTING_PREFIX}.{}",
            if plain { customer } else { "other" }
        )
    }

    /// Declares the exchange (idempotent: server3 and the worker both do, whoever starts first).
    pub async fn declare_exchange(&self, channel: &lapin::Channel) -> lapin::Result<()> {
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    auto_delete: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
    }

    /// Declares the exchange, the three queues and their bindings.
    pub async fn declare(&self, channel: &lapin::Channel) -> lapin::Result<()> {
        self.declare_exchange(channel).await?;
        let dead = self.dead_letter_queue();
        declare_queue(channel, &dead, FieldTable::default()).await?;
        let mut loyalty = FieldTable::default();
        loyalty.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        loyalty.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(dead.as_str().into()),
        );
        let queue = self.loyalty_queue();
        declare_queue(channel, &queue, loyalty).await?;
        self.bind(channel, &queue, &format!("{ROUTING_PREFIX}.*"))
            .await?;
        let invoices = self.invoice_queue();
        declare_queue(channel, &invoices, FieldTable::default()).await?;
        for customer in INVOICED_IN_BATCHES {
            self.bind(channel, &invoices, &Self::routing_key(customer))
                .await?;
        }
        Ok(())
    }

    async fn bind(&self, channel: &lapin::Channel, queue: &str, key: &str) -> lapin::Result<()> {
        channel
            .queue_bind(
                queue.into(),
                self.exchange.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
    }
}

async fn declare_queue(
    channel: &lapin::Channel,
    name: &str,
    mut arguments: FieldTable,
) -> lapin::Result<lapin::Queue> {
    arguments.insert("x-expires".into(), AMQPValue::LongLongInt(QUEUE_EXPIRES_MS));
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
}

/// Connects to RabbitMQ at `url`.
pub async fn connect(url: &str) -> Result<Connection, BrokerError> {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .map_err(|source| BrokerError::Rabbitmq {
            url: url.to_owned(),
            source,
        })
}

/// server3's side: publishes each stored order's event, directly or, when the directive says
/// so, on the connection whose proxy refuses.
pub struct Publisher {
    topology: Topology,
    channel: TracedChannel,
    refused: TracedChannel,
    _connections: [Connection; 2],
    _proxy: FaultProxy,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("topology", &self.topology)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// Connects to RabbitMQ at `url` (directly, and through a proxy it then switches to
    /// refuse), declares `exchange`, and publishes with spans of `tracer`.
    pub async fn connect(url: &str, exchange: &str, tracer: &Tracer) -> Result<Self, BrokerError> {
        let broker_err = |source| BrokerError::Rabbitmq {
            url: url.to_owned(),
            source,
        };
        let mut uri: AMQPUri = url.parse().map_err(|reason| BrokerError::Url {
            url: url.to_owned(),
            reason,
        })?;
        let direct = connect(url).await?;
        let channel = direct.create_channel().await.map_err(broker_err)?;
        let topology = Topology::new(exchange);
        topology
            .declare_exchange(&channel)
            .await
            .map_err(broker_err)?;
        let upstream = tokio::net::lookup_host((uri.authority.host.as_str(), uri.authority.port))
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| BrokerError::Proxy {
                upstream: format!("{}:{}", uri.authority.host, uri.authority.port),
                source: std::io::Error::other("the host has no address"),
            })?;
        let proxy = FaultProxy::start(upstream)
            .await
            .map_err(|source| BrokerError::Proxy {
                upstream: upstream.to_string(),
                source,
            })?;
        uri.authority.host = proxy.addr().ip().to_string();
        uri.authority.port = proxy.addr().port();
        let proxied = Connection::connect_uri(uri, ConnectionProperties::default())
            .await
            .map_err(broker_err)?;
        let refused = proxied.create_channel().await.map_err(broker_err)?;
        // The handshake went through; from now on this connection sees the broker gone.
        proxy
            .set(Fault::Refuse)
            .await
            .map_err(|source| BrokerError::Proxy {
                upstream: upstream.to_string(),
                source,
            })?;
        Ok(Publisher {
            topology,
            channel: TracedChannel::new(channel).with_tracer(tracer.clone()),
            refused: TracedChannel::new(refused).with_tracer(tracer.clone()),
            _connections: [direct, proxied],
            _proxy: proxy,
        })
    }

    /// Publishes `event` (a PRODUCER span `send {exchange}` under the current span), as the
    /// request's directive makes it: on the refused connection, or with its body cut in half.
    pub async fn publish(&self, directive: &Directive, event: &OrderPlaced) -> lapin::Result<()> {
        let mut body = serde_json::to_vec(event).unwrap_or_default();
        if directive.truncated_event {
            body.truncate(body.len() / 2);
        }
        let channel = match directive.broker {
            BrokerFault::None => &self.channel,
            BrokerFault::Refuse => &self.refused,
        };
        let properties = BasicProperties::default()
            .with_message_id(format!("order-{}", event.order_id).into())
            .with_content_type("application/json".into());
        channel
            .basic_publish(
                self.topology.exchange(),
                Topology::routing_key(&event.customer),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_cannot_add_topic_words() {
        assert_eq!(Topology::routing_key("carol"), "order.placed.carol");
        assert_eq!(Topology::routing_key("a.b"), "order.placed.other");
        assert_eq!(Topology::routing_key("#"), "order.placed.other");
        assert_eq!(Topology::routing_key(""), "order.placed.other");
    }

    #[test]
    fn run_ids_differ_within_a_process() {
        assert_ne!(run_id(), run_id());
    }
}
