//! The fault directive: what a request asks each hop to do wrong.
//!
//! A scenario is chosen per request by W3C baggage entries named `fault.*`, set by the caller
//! (the runner) on the first request. Baggage travels with the trace context through every hop,
//! including a hop whose tracing is switched off (it forwards the incoming context unchanged), so
//! every service reads the same directive from [`Context::current`] while it serves the request.
//!
//! | entry | values | effect |
//! |---|---|---|
//! | `fault.redis` | `refuse`, `slow`, `reset` | server3 talks to Redis through a fault proxy in that mode |
//! | `fault.mysql` | `refuse`, `slow`, `bad-sql` | server3's store is down, runs a slow query, or sends broken SQL |
//! | `fault.pool` | `1` | server3 uses a one-connection pool and runs its queries concurrently |
//! | `fault.queries` | `one-by-one` | server3 lists products with one query each (N+1) |
//! | `fault.panic` | `server1`, `server2`, `server3` | that service's handler panics |
//! | `fault.slow` | `{service}:{ms}` | that service's handler (or the worker's, `worker:{ms}`) sleeps first |
//! | `fault.unavailable` | `{n}` | server2 answers the first `n` attempts of a request with 503 |
//! | `fault.deadline` | `{ms}` | server2 gives its gRPC call to server3 this deadline |
//! | `fault.unreachable` | `server3` | server2 calls an address where nothing listens |
//! | `fault.loop-depth` | `{n}` | the call-back loop stops at this depth (at most the configured limit) |
//! | `fault.fail-sku` | `{sku}` | server2 fails to price this product (500) |
//! | `fault.fail-customer` | `{name}` | server3 fails requests whose `customer` baggage is this name |
//! | `fault.broker` | `refuse` | server3 publishes its `order.placed` event through a proxy that refuses RabbitMQ |
//! | `fault.event` | `truncated` | server3 publishes the event's body cut in half (a poison message) |
//!
//! The baggage entry `customer` names the customer a request is made for; every server records
//! it on its span as `demo.customer`. Unknown entries and values are ignored (a directive is a
//! request from a peer, never a reason to fail), and [`Directive::parse_errors`] says which were.

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;

/// Prefix of the baggage entries a directive is read from.
pub const PREFIX: &str = "fault.";
/// Baggage entry naming the customer of a request.
pub const CUSTOMER: &str = "customer";
/// Span attribute every server records the customer under.
pub const CUSTOMER_ATTRIBUTE: &str = "demo.customer";

/// One of the demo's services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// The HTTP entry point.
    Server1,
    /// The HTTP middle tier, gRPC client of server3.
    Server2,
    /// The gRPC service in front of Redis and MySQL.
    Server3,
    /// The consumer of server3's `order.placed` events (RabbitMQ).
    Worker,
}

impl Service {
    /// The service's name, also its `service.name`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Server1 => "server1",
            Service::Server2 => "server2",
            Service::Server3 => "server3",
            Service::Worker => "worker",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "server1" => Some(Service::Server1),
            "server2" => Some(Service::Server2),
            "server3" => Some(Service::Server3),
            "worker" => Some(Service::Worker),
            _ => None,
        }
    }
}

/// How server3 reaches Redis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedisFault {
    /// Directly.
    #[default]
    None,
    /// Through a proxy that reset the connection and refuses new ones.
    Refuse,
    /// Through a proxy that delays every chunk past the client's response timeout.
    Slow,
    /// Through a proxy that resets the connection once the request reached Redis, before the
    /// reply comes back.
    Reset,
}

/// What goes wrong with server3's MySQL store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MysqlFault {
    /// Nothing.
    #[default]
    None,
    /// Through a proxy that refuses connections.
    Refuse,
    /// The query sleeps in the server.
    Slow,
    /// The query names a table that does not exist.
    BadSql,
}

/// How server3 reaches RabbitMQ when it publishes an order's event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BrokerFault {
    /// Directly.
    #[default]
    None,
    /// Through a proxy that reset the connection and refuses new ones.
    Refuse,
}

/// Everything a request asks for; the default asks for nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directive {
    /// `fault.redis`.
    pub redis: RedisFault,
    /// `fault.mysql`.
    pub mysql: MysqlFault,
    /// `fault.pool=1`: the one-connection pool, queries run concurrently.
    pub small_pool: bool,
    /// `fault.queries=one-by-one`: N+1 queries.
    pub one_by_one: bool,
    /// `fault.panic`.
    pub panic: Option<Service>,
    /// `fault.slow`.
    pub slow: Option<(Service, Duration)>,
    /// `fault.unavailable`.
    pub unavailable: u32,
    /// `fault.deadline`.
    pub deadline: Option<Duration>,
    /// `fault.unreachable=server3`.
    pub unreachable: bool,
    /// `fault.loop-depth`.
    pub loop_depth: Option<u32>,
    /// `fault.fail-sku`.
    pub fail_sku: Option<u64>,
    /// `fault.fail-customer`.
    pub fail_customer: Option<String>,
    /// `fault.broker`.
    pub broker: BrokerFault,
    /// `fault.event=truncated`: the order's event is published cut in half.
    pub truncated_event: bool,
    /// The `customer` baggage entry.
    pub customer: Option<String>,
    /// Entries that were not understood, as `key=value`.
    pub parse_errors: Vec<String>,
}

impl Directive {
    /// Reads the directive from the baggage of `cx`.
    pub fn from_context(cx: &Context) -> Self {
        let baggage = cx.baggage();
        Self::from_entries(
            baggage
                .iter()
                .map(|(k, (v, _))| (k.as_str().to_owned(), v.as_str().to_owned())),
        )
    }

    /// Reads the directive of the request being served.
    pub fn current() -> Self {
        Self::from_context(&Context::current())
    }

    /// Reads a directive from `(key, value)` baggage entries; entries without the `fault.`
    /// prefix other than `customer` are ignored.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut d = Directive::default();
        for (key, value) in entries {
            if key == CUSTOMER {
                d.customer = Some(value);
                continue;
            }
            let Some(name) = key.strip_prefix(PREFIX) else {
                continue;
            };
            if !d.apply(name, &value) {
                d.parse_errors.push(format!("{key}={value}"));
            }
        }
        d
    }

    fn apply(&mut self, name: &str, value: &str) -> bool {
        match name {
            "redis" => {
                self.redis = match value {
                    "refuse" => RedisFault::Refuse,
                    "slow" => RedisFault::Slow,
                    "reset" => RedisFault::Reset,
                    _ => return false,
                }
            }
            "mysql" => {
                self.mysql = match value {
                    "refuse" => MysqlFault::Refuse,
                    "slow" => MysqlFault::Slow,
                    "bad-sql" => MysqlFault::BadSql,
                    _ => return false,
                }
            }
            "pool" if value == "1" => self.small_pool = true,
            "queries" if value == "one-by-one" => self.one_by_one = true,
            "panic" => match Service::parse(value) {
                Some(s) => self.panic = Some(s),
                None => return false,
            },
            "slow" => {
                let Some((service, ms)) = value.split_once(':') else {
                    return false;
                };
                match (Service::parse(service), ms.parse::<u64>()) {
                    (Some(s), Ok(ms)) => self.slow = Some((s, Duration::from_millis(ms))),
                    _ => return false,
                }
            }
            "unavailable" => match value.parse() {
                Ok(n) => self.unavailable = n,
                Err(_) => return false,
            },
            "deadline" => match value.parse::<u64>() {
                Ok(ms) => self.deadline = Some(Duration::from_millis(ms)),
                Err(_) => return false,
            },
            "unreachable" if value == "server3" => self.unreachable = true,
            "loop-depth" => match value.parse() {
                Ok(n) => self.loop_depth = Some(n),
                Err(_) => return false,
            },
            "fail-sku" => match value.parse() {
                Ok(n) => self.fail_sku = Some(n),
                Err(_) => return false,
            },
            "fail-customer" => self.fail_customer = Some(value.to_owned()),
            "broker" if value == "refuse" => self.broker = BrokerFault::Refuse,
            "event" if value == "truncated" => self.truncated_event = true,
            _ => return false,
        }
        true
    }

    /// Whether `service` must panic.
    pub fn panics(&self, service: Service) -> bool {
        self.panic == Some(service)
    }

    /// How long `service` must sleep before working.
    pub fn delay(&self, service: Service) -> Option<Duration> {
        self.slow.filter(|(s, _)| *s == service).map(|(_, d)| d)
    }

    /// Whether the request's customer is the one that must fail.
    pub fn customer_fails(&self) -> bool {
        self.fail_customer.is_some() && self.fail_customer == self.customer
    }

    /// Applies the code-level faults meant for `service` at the start of its handler: sleeps,
    /// then panics if asked to.
    pub async fn enter(&self, service: Service) {
        if let Some(delay) = self.delay(service) {
            tokio::time::sleep(delay).await;
        }
        if self.panics(service) {
            panic!("{} panics as the fault directive asks", service.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(entries: &[(&str, &str)]) -> Directive {
        Directive::from_entries(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn reads_every_entry() {
        let d = parse(&[
            ("fault.redis", "slow"),
            ("fault.mysql", "bad-sql"),
            ("fault.slow", "server3:1500"),
            ("fault.unavailable", "2"),
            ("fault.fail-customer", "alice"),
            ("customer", "alice"),
            ("fault.broker", "refuse"),
            ("fault.event", "truncated"),
            ("unrelated", "x"),
        ]);
        assert_eq!(d.redis, RedisFault::Slow);
        assert_eq!(d.mysql, MysqlFault::BadSql);
        assert_eq!(d.delay(Service::Server3), Some(Duration::from_millis(1500)));
        assert_eq!(d.delay(Service::Server2), None);
        assert_eq!(d.unavailable, 2);
        assert!(d.customer_fails());
        assert_eq!(d.broker, BrokerFault::Refuse);
        assert!(d.truncated_event);
        assert!(d.parse_errors.is_empty());
    }

    #[test]
    fn bad_entries_are_reported_not_applied() {
        let d = parse(&[
            ("fault.redis", "melt"),
            ("fault.slow", "server9:10"),
            ("fault.deadline", "soon"),
        ]);
        assert_eq!(d.redis, RedisFault::None);
        assert_eq!(d.slow, None);
        assert_eq!(
            d.parse_errors,
            [
                "fault.redis=melt",
                "fault.slow=server9:10",
                "fault.deadline=soon"
            ]
        );
    }

    #[test]
    fn another_customer_does_not_fail() {
        let d = parse(&[("fault.fail-customer", "alice"), ("customer", "bob")]);
        assert!(!d.customer_fails());
    }
}
