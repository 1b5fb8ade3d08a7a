//! The scenario catalogue: what each scenario does, the trace it must produce, and the checks
//! beyond the tree's shape. docs/SCENARIOS.md explains each one with its rendered tree, and its
//! section "Adding a scenario" walks through adding one.
//!
//! A scenario *plays* against a running cluster through a [`Driver`]: it usually opens a root
//! span on the `client` service, puts its fault directive in the baggage, and sends one or more
//! requests to server1. The trace is then read back from the collector and rendered with
//! [`TreeFormat`] (attributes [`ATTRIBUTES`], events shown); it must equal
//! [`Scenario::expected`] line for line, and pass [`Scenario::check`].
//!
//! Scenarios live by group, one module each, with each scenario's data, play and checks side by
//! side: [`cache`], [`redis_faults`], [`sql_faults`], [`rpc_faults`], [`call_backs`],
//! [`context`] (baggage, the switch, sampling), [`collector`] and [`messaging`] (orders through
//! RabbitMQ). [`CATALOGUE`] lists them in the
//! order they are played. This module holds what they share: the types, the plays of one plain
//! request ([`Play::Get`], [`Play::Post`]) and the span lookups the checks use.

pub mod cache;
pub mod call_backs;
pub mod collector;
pub mod context;
pub mod messaging;
pub mod redis_faults;
pub mod rpc_faults;
pub mod sql_faults;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tracer::testing::TreeFormat;
use tracer_collector::query::model::{Span, Trace};

use crate::runner::driver::{Answer, Driver};

/// Attributes shown in the scenario trees.
pub const ATTRIBUTES: &[&str] = &[
    "http.response.status_code",
    "http.request.resend_count",
    "rpc.response.status_code",
    "db.response.status_code",
    "error.type",
    "demo.customer",
    "tracer.messaging.delivery_count",
    "messaging.batch.message_count",
];

/// What a play produced.
#[derive(Debug, Default)]
pub struct Played {
    /// The trace to check (32 hex digits).
    pub trace_id: String,
    /// False when the trace must not reach the collector at all.
    pub expect_spans: bool,
    /// Problems seen while playing (wrong answers, counters), each a failure.
    pub problems: Vec<String>,
    /// Facts worth printing (counters, answers).
    pub notes: Vec<String>,
}

impl Played {
    pub(crate) fn traced(trace_id: String) -> Self {
        Played {
            trace_id,
            expect_spans: true,
            ..Played::default()
        }
    }

    /// Records a problem unless `answer` has status `want`.
    pub(crate) fn expect(&mut self, what: &str, answer: &Answer, want: u16) {
        if answer.status != want {
            self.problems.push(format!(
                "{what}: expected HTTP {want}, got {} {}",
                answer.status, answer.body
            ));
        }
    }
}

/// A scenario played by code of its own; it receives its scenario (for its name, at least).
pub type PlayFn =
    for<'a, 'c> fn(&'static Scenario, &'a Driver<'c>) -> BoxFuture<'a, anyhow::Result<Played>>;

/// How a scenario is played: most are one request inside the scenario's root span.
#[derive(Clone, Copy)]
pub enum Play {
    /// `GET {server1}{path}` with `baggage`; the answer must have status `want`.
    Get {
        /// Baggage entries (the directive).
        baggage: &'static [(&'static str, &'static str)],
        /// Path and query on server1.
        path: &'static str,
        /// Expected HTTP status.
        want: u16,
    },
    /// `POST {server1}{path}` of the JSON text `body` with `baggage`; the answer must have
    /// status `want`.
    Post {
        /// Baggage entries (the directive).
        baggage: &'static [(&'static str, &'static str)],
        /// Path on server1.
        path: &'static str,
        /// The JSON body.
        body: &'static str,
        /// Expected HTTP status.
        want: u16,
    },
    /// Anything else: several requests, admin calls, hand-made headers.
    Custom {
        /// How it is triggered, in words (the other plays derive it from their data).
        how: &'static str,
        /// The code that plays it.
        play: PlayFn,
    },
}
type Check = fn(&Trace) -> Result<(), String>;

/// One scenario of the catalogue.
pub struct Scenario {
    /// Short name, used by `--scenario`.
    pub name: &'static str,
    /// What happens.
    pub summary: &'static str,
    /// What the trace must show.
    pub shows: &'static str,
    /// The expected tree, in the format of [`Scenario::format`]. Left empty, the runner prints
    /// the tree it collected, which is how a new scenario's tree is first written down.
    pub expected: &'static str,
    /// Where the fault is injected: the file and function that make it happen.
    pub injected_by: &'static str,
    /// Whether siblings are ordered by text (they start concurrently).
    pub concurrent: bool,
    /// How it is played.
    pub play: Play,
    /// Checks beyond the tree (durations, absences).
    pub check: Option<Check>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Scenario {
    /// Plays the scenario against the cluster behind `d`.
    pub fn play_on<'a>(&'static self, d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
        match self.play {
            Play::Get {
                baggage,
                path,
                want,
            } => Box::pin(one_get(d, self.name, baggage, path, want)),
            Play::Post {
                baggage,
                path,
                body,
                want,
            } => Box::pin(async move {
                let body: Value = serde_json::from_str(body)?;
                one_post(d, self.name, baggage, path, body, want).await
            }),
            Play::Custom { play, .. } => play(self, d),
        }
    }

    /// How the scenario is triggered: the directive and the request, from the play's data.
    pub fn how(&self) -> String {
        let (baggage, request) = match self.play {
            Play::Get { baggage, path, .. } => (baggage, format!("`GET {path}`")),
            Play::Post {
                baggage,
                path,
                body,
                ..
            } => (baggage, format!("`POST {path}` of `{body}`")),
            Play::Custom { how, .. } => return how.to_owned(),
        };
        if baggage.is_empty() {
            return format!("{request}, no directive");
        }
        let entries: Vec<String> = baggage.iter().map(|(k, v)| format!("`{k}={v}`")).collect();
        format!("baggage {}; {request}", entries.join(", "))
    }

    /// How this scenario's trees are rendered.
    pub fn format(&self) -> TreeFormat {
        TreeFormat::new()
            .attributes(ATTRIBUTES.iter().copied())
            .events(true)
            .siblings_by_text(self.concurrent)
    }
}

/// Finds a scenario by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    CATALOGUE.iter().copied().find(|s| s.name == name)
}

// ---------------------------------------------------------------------------------------------
// Shared by the groups: span lookups for checks, and the plays of plain requests.
// ---------------------------------------------------------------------------------------------

/// The value of `span`'s tag `key`.
pub(crate) fn tag<'t>(span: &'t Span, key: &str) -> Option<&'t Value> {
    span.tags.iter().find(|t| t.key == key).map(|t| &t.value)
}

/// The service name of `span`.
pub(crate) fn service<'t>(trace: &'t Trace, span: &Span) -> &'t str {
    trace
        .processes
        .get(&span.process_id)
        .map_or("", |p| p.service_name.as_str())
}

/// The client spans of database `system` (a prefix of `db.system.name`), in start order.
pub(crate) fn db_spans<'t>(trace: &'t Trace, system: &str) -> Vec<&'t Span> {
    let mut spans: Vec<_> = trace
        .spans
        .iter()
        .filter(|s| {
            tag(s, "db.system.name")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with(system))
                && tag(s, "span.kind").and_then(Value::as_str) == Some("client")
        })
        .collect();
    spans.sort_by_key(|s| s.start_time);
    spans
}

/// One traced GET with a directive, expecting `want`.
pub(crate) async fn one_get(
    d: &Driver<'_>,
    name: &str,
    baggage: &[(&str, &str)],
    path: &str,
    want: u16,
) -> anyhow::Result<Played> {
    let mut answer = None;
    let id = d
        .traced(name, baggage, || async {
            answer = Some(d.get(path).await);
            Ok(())
        })
        .await?;
    let mut played = Played::traced(id);
    if let Some(a) = answer {
        played.expect(&format!("GET {path}"), &a, want);
    }
    Ok(played)
}

/// One traced POST of a JSON body with a directive, expecting `want`; the answer is noted.
pub(crate) async fn one_post(
    d: &Driver<'_>,
    name: &str,
    baggage: &[(&str, &str)],
    path: &str,
    body: Value,
    want: u16,
) -> anyhow::Result<Played> {
    let mut answer = None;
    let id = d
        .traced(name, baggage, || async {
            answer = Some(d.post(path, &body).await);
            Ok(())
        })
        .await?;
    let mut played = Played::traced(id);
    if let Some(a) = answer {
        played.expect(&format!("POST {path}"), &a, want);
        played.notes.push(format!("answer: {}", a.body));
    }
    Ok(played)
}

// ---------------------------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------------------------

/// Every scenario, in the order the runner plays them.
pub static CATALOGUE: &[&Scenario] = &[
    &cache::CACHE_MISS_THEN_HIT,
    &cache::PLACE_ORDER,
    &redis_faults::REDIS_REFUSED,
    &redis_faults::REDIS_TIMEOUT_RETRIES,
    &redis_faults::REDIS_RESET,
    &sql_faults::MYSQL_SLOW_QUERY,
    &sql_faults::MYSQL_BAD_SQL,
    &sql_faults::MYSQL_DUPLICATE_KEY,
    &sql_faults::MYSQL_POOL_EXHAUSTED,
    &sql_faults::MYSQL_DOWN,
    &rpc_faults::GRPC_DEADLINE_EXCEEDED,
    &rpc_faults::HTTP_503_RETRIES,
    &rpc_faults::HTTP_HANDLER_PANIC,
    &rpc_faults::GRPC_HANDLER_PANIC,
    &rpc_faults::SERVICE_UNREACHABLE,
    &call_backs::CALL_BACK_LOOP,
    &call_backs::FAN_OUT_ONE_FAILURE,
    &rpc_faults::CLIENT_CANCELS,
    &cache::NOT_FOUND,
    &sql_faults::N_PLUS_ONE,
    &sql_faults::BATCHED,
    &context::ONE_CUSTOMER_FAILS,
    &context::TRACING_OFF_SERVER2,
    &context::UNSAMPLED,
    &collector::COLLECTOR_DOWN,
    &messaging::BROKER_DOWN_AT_PUBLISH,
    &messaging::SLOW_CONSUMER,
    &messaging::POISON_MESSAGE,
    &messaging::BATCH_CONSUMER,
    &messaging::CONSUMER_LAG,
    &rpc_faults::HTTP_503_GIVES_UP,
];
