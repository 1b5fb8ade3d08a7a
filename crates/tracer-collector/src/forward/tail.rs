//! Tail-based sampling of what is forwarded: a trace is decided as a whole, once it had time to
//! arrive, by policies over all its spans. The local store keeps every trace (within its own
//! budget); only the forwarding is sampled.
//!
//! - **When.** A trace is decided [`TailConfig::decision_wait_ms`] after its first span
//!   arrived. With [`TailConfig::decide_when_complete`] it is decided earlier, as soon as it
//!   looks complete: its root span (no parent) has arrived and no span of it names a parent
//!   that has not. That is off by default because a root span's end is no proof: spans of
//!   other services that are children of a leaf may still be in their exporters' queues, and
//!   arrive as late spans (which follow the decision, below).
//! - **Policies**, in the file's order ([`Policy`]): `errors` (a span with status ERROR),
//!   `latency` (the trace spans at least `threshold_ms`), `attribute` (a span or resource
//!   attribute `key` with one of `values`), `probabilistic` (`rate`, decided from the trace id
//!   so that collectors sharing a trace agree), `rate_limit` (`traces_per_second` per root
//!   service). The first policy that matches claims the trace; without a `composite` the
//!   trace is kept.
//! - **Composite.** With `composite`, at most `max_traces_per_second` are kept, each policy
//!   getting `shares[name]` percent of it (a token bucket each, a second's worth deep); a trace
//!   whose claiming policy has no budget left goes to the next policy that matches, else it is
//!   dropped.
//! - **Late spans** of a decided trace follow its decision: a bounded cache of decisions
//!   ([`TailConfig::decision_cache`], oldest forgotten first) routes them; a span of a trace
//!   forgotten since starts a new pending trace.
//! - **Bounded.** At most [`TailConfig::max_traces`] traces wait; when a new trace would pass
//!   that, the oldest waiting trace is decided early (counted as `early_decisions`), so memory
//!   stays bounded and nothing is dropped undecided.
//!
//! The configuration is a strict JSON file (`--tail-sampling FILE`): an unknown key or a bad
//! value is an error naming it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde::{Deserialize, Serialize};

/// The tail-sampling configuration (the `--tail-sampling` file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailConfig {
    /// How long after its first span a trace is decided.
    #[serde(default = "default_wait")]
    pub decision_wait_ms: u64,
    /// Also decide a trace as soon as it looks complete (root span present, no span waiting
    /// for its parent), before `decision_wait_ms` is over.
    #[serde(default)]
    pub decide_when_complete: bool,
    /// Most traces waiting for their decision.
    #[serde(default = "default_max_traces")]
    pub max_traces: usize,
    /// Decisions remembered for late spans.
    #[serde(default = "default_cache")]
    pub decision_cache: usize,
    /// The policies, in order.
    pub policies: Vec<Policy>,
    /// Optional overall rate with per-policy shares.
    #[serde(default)]
    pub composite: Option<Composite>,
}

fn default_wait() -> u64 {
    2_000
}
fn default_max_traces() -> usize {
    50_000
}
fn default_cache() -> usize {
    100_000
}

/// One policy: a name (for shares and counters) and its rule. In the file it is one object,
/// `{"name": ..., "type": ..., <the rule's fields>}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawPolicy")]
pub struct Policy {
    /// Unique name.
    pub name: String,
    /// The rule.
    pub rule: Rule,
}

/// What a policy keeps.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Traces with a span in error.
    Errors,
    /// Traces at least this long (earliest start to latest end).
    Latency {
        /// The threshold in milliseconds.
        threshold_ms: u64,
    },
    /// Traces with a span or resource attribute `key` equal to one of `values` (as text).
    Attribute {
        /// The attribute key.
        key: String,
        /// Accepted values.
        values: Vec<String>,
    },
    /// A share of traces, chosen from the trace id.
    Probabilistic {
        /// Between 0 and 1.
        rate: f64,
    },
    /// Up to this many traces per second for each root service.
    RateLimit {
        /// Traces per second per service.
        traces_per_second: f64,
    },
}

/// A policy as written in the file: strict per type (serde cannot deny unknown fields through
/// a flattened enum, so each type lists its fields with the name).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RawPolicy {
    Errors {
        name: String,
    },
    Latency {
        name: String,
        threshold_ms: u64,
    },
    Attribute {
        name: String,
        key: String,
        values: Vec<String>,
    },
    Probabilistic {
        name: String,
        rate: f64,
    },
    RateLimit {
        name: String,
        traces_per_second: f64,
    },
}

impl From<RawPolicy> for Policy {
    fn from(raw: RawPolicy) -> Policy {
        let (name, rule) = match raw {
            RawPolicy::Errors { name } => (name, Rule::Errors),
            RawPolicy::Latency { name, threshold_ms } => (name, Rule::Latency { threshold_ms }),
            RawPolicy::Attribute { name, key, values } => (name, Rule::Attribute { key, values }),
            RawPolicy::Probabilistic { name, rate } => (name, Rule::Probabilistic { rate }),
            RawPolicy::RateLimit {
                name,
                traces_per_second,
            } => (name, Rule::RateLimit { traces_per_second }),
        };
        Policy { name, rule }
    }
}

/// An overall limit shared among the policies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Composite {
    /// Traces kept per second in all.
    pub max_traces_per_second: f64,
    /// Percent of it per policy name.
    pub shares: HashMap<String, f64>,
}

/// The common cases as flags (`--tail-keep-errors`, `--tail-keep-slower-than-ms`,
/// `--tail-keep-attribute`, `--tail-sample-rate`, ...), turned into a [`TailConfig`] by
/// [`TailConfig::from_flags`]. Policies come in this order: errors, slow, each attribute,
/// then the probabilistic rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TailFlags {
    /// Keep every trace with a span in error (policy `errors`).
    pub keep_errors: bool,
    /// Keep every trace at least this long (policy `slow`).
    pub keep_slower_than_ms: Option<u64>,
    /// Keep every trace with this attribute, `KEY=VALUE` (policies `attribute-1`, ...).
    pub keep_attributes: Vec<String>,
    /// Keep this share (0 to 1) of the traces no other flag keeps (policy `rest`).
    pub sample_rate: Option<f64>,
    /// Instead of [`TailConfig::decision_wait_ms`]'s default.
    pub decision_wait_ms: Option<u64>,
    /// [`TailConfig::decide_when_complete`].
    pub decide_when_complete: bool,
}

impl TailFlags {
    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        *self != TailFlags::default()
    }
}

impl TailConfig {
    /// The configuration the flags describe; errors name the flag and the bad value.
    pub fn from_flags(flags: &TailFlags) -> Result<TailConfig, String> {
        let mut policies = Vec::new();
        if flags.keep_errors {
            policies.push(Policy {
                name: "errors".into(),
                rule: Rule::Errors,
            });
        }
        if let Some(threshold_ms) = flags.keep_slower_than_ms {
            policies.push(Policy {
                name: "slow".into(),
                rule: Rule::Latency { threshold_ms },
            });
        }
        for (i, pair) in flags.keep_attributes.iter().enumerate() {
            let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                return Err(format!(
                    "--tail-keep-attribute {pair:?}: expected KEY=VALUE, e.g. customer.tier=gold"
                ));
            };
            policies.push(Policy {
                name: format!("attribute-{}", i + 1),
                rule: Rule::Attribute {
                    key: key.to_owned(),
                    values: vec![value.to_owned()],
                },
            });
        }
        if let Some(rate) = flags.sample_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "--tail-sample-rate {rate}: expected a share from 0 to 1, e.g. 0.1"
                ));
            }
            policies.push(Policy {
                name: "rest".into(),
                rule: Rule::Probabilistic { rate },
            });
        }
        if policies.is_empty() {
            return Err("the --tail-* flags keep nothing: give --tail-keep-errors, \
                 --tail-keep-slower-than-ms, --tail-keep-attribute or --tail-sample-rate"
                .into());
        }
        let config = TailConfig {
            decision_wait_ms: flags.decision_wait_ms.unwrap_or_else(default_wait),
            decide_when_complete: flags.decide_when_complete,
            max_traces: default_max_traces(),
            decision_cache: default_cache(),
            policies,
            composite: None,
        };
        config.check()?;
        Ok(config)
    }

    /// Parses and checks a configuration file's text; errors name the key or value.
    pub fn parse(text: &str) -> Result<TailConfig, String> {
        let config: TailConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.policies.is_empty() {
            return Err("policies: at least one policy is needed".into());
        }
        if self.max_traces == 0 || self.decision_cache == 0 {
            return Err("max_traces and decision_cache must be at least 1".into());
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.policies {
            if !names.insert(p.name.as_str()) {
                return Err(format!("policies: the name {:?} is used twice", p.name));
            }
            match &p.rule {
                Rule::Probabilistic { rate } if !(0.0..=1.0).contains(rate) => {
                    return Err(format!(
                        "policy {:?}: rate {rate} is not between 0 and 1",
                        p.name
                    ));
                }
                Rule::RateLimit { traces_per_second }
                    if !traces_per_second.is_finite() || *traces_per_second <= 0.0 =>
                {
                    return Err(format!(
                        "policy {:?}: traces_per_second must be above 0",
                        p.name
                    ));
                }
                Rule::Attribute { values, .. } if values.is_empty() => {
                    return Err(format!("policy {:?}: values is empty", p.name));
                }
                _ => {}
            }
        }
        if let Some(c) = &self.composite {
            if !c.max_traces_per_second.is_finite() || c.max_traces_per_second <= 0.0 {
                return Err("composite: max_traces_per_second must be above 0".into());
            }
            for (name, share) in &c.shares {
                if !names.contains(name.as_str()) {
                    return Err(format!(
                        "composite: shares names {name:?}, which is no policy"
                    ));
                }
                if !(0.0..=100.0).contains(share) {
                    return Err(format!(
                        "composite: share {share} of {name:?} is not 0 to 100"
                    ));
                }
            }
            let total: f64 = c.shares.values().sum();
            if total > 100.0 + 1e-9 {
                return Err(format!(
                    "composite: shares add up to {total}, more than 100"
                ));
            }
        }
        Ok(())
    }
}

/// Counters of the sampler, served under `forward_tail_sampling` in the stats.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TailStats {
    /// Spans accepted and queued for the sampler, not read yet.
    pub backlog_spans: u64,
    /// Spans dropped from that queue when it was full (oldest first).
    pub dropped_backlog_spans: u64,
    /// Traces waiting for their decision.
    pub pending_traces: u64,
    /// Traces kept, per claiming policy.
    pub kept: std::collections::BTreeMap<String, u64>,
    /// Traces dropped (no policy matched, or no budget left).
    pub dropped_traces: u64,
    /// Late spans that followed a keep decision.
    pub late_spans_kept: u64,
    /// Late spans that followed a drop decision.
    pub late_spans_dropped: u64,
    /// Traces decided before their wait because the buffer was full.
    pub early_decisions: u64,
    /// Traces decided before their wait because they looked complete
    /// ([`TailConfig::decide_when_complete`]).
    pub complete_decisions: u64,
}

/// A token bucket a second deep.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: rate.max(1.0),
            at: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A trace waiting for its decision.
#[derive(Debug, Default)]
struct Pending {
    first: Option<Instant>,
    parts: Vec<ResourceSpans>,
    spans: u64,
    start_ns: u64,
    end_ns: u64,
    error: bool,
    root_service: Option<String>,
    any_service: Option<String>,
    /// Indexes of attribute policies that matched.
    attributes: Vec<usize>,
    /// With `decide_when_complete`: whether a root span arrived, the span ids seen, and the
    /// parents named but not seen.
    root: bool,
    seen: HashSet<[u8; 8]>,
    missing: HashSet<[u8; 8]>,
}

impl Pending {
    fn complete(&self) -> bool {
        self.root && self.missing.is_empty()
    }

    fn track(&mut self, span: &Span) {
        if let Ok(id) = <[u8; 8]>::try_from(span.span_id.as_slice()) {
            self.seen.insert(id);
            self.missing.remove(&id);
        }
        if span.parent_span_id.is_empty() {
            self.root = true;
        } else {
            // A parent id of the wrong length can never be seen: the trace waits its time.
            let parent = <[u8; 8]>::try_from(span.parent_span_id.as_slice()).unwrap_or([0; 8]);
            if !self.seen.contains(&parent) {
                self.missing.insert(parent);
            }
        }
    }
}

/// The sampler's state; see the module docs.
#[derive(Debug)]
pub(crate) struct TailSampler {
    config: TailConfig,
    pending: HashMap<[u8; 16], Pending>,
    order: VecDeque<([u8; 16], Instant)>,
    decided: HashMap<[u8; 16], bool>,
    decided_order: VecDeque<[u8; 16]>,
    per_service: HashMap<(usize, String), Bucket>,
    shares: HashMap<usize, Bucket>,
    stats: TailStats,
}

fn text(value: &Option<AnyValue>) -> Option<String> {
    match value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn service_of(attributes: &[KeyValue]) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| text(&kv.value))
}

impl TailSampler {
    pub(crate) fn new(config: TailConfig) -> TailSampler {
        let now = Instant::now();
        let shares = config
            .composite
            .iter()
            .flat_map(|c| {
                config.policies.iter().enumerate().map(move |(i, p)| {
                    let share = c.shares.get(&p.name).copied().unwrap_or(0.0);
                    (i, Bucket::new(c.max_traces_per_second * share / 100.0, now))
                })
            })
            .collect();
        TailSampler {
            config,
            pending: HashMap::new(),
            order: VecDeque::new(),
            decided: HashMap::new(),
            decided_order: VecDeque::new(),
            per_service: HashMap::new(),
            shares,
            stats: TailStats::default(),
        }
    }

    /// How often [`TailSampler::due`] is worth calling.
    pub(crate) fn tick(&self) -> Duration {
        Duration::from_millis((self.config.decision_wait_ms / 4).clamp(5, 100))
    }

    /// Takes one accepted export. Returns what goes upstream at once (late spans of kept
    /// traces, and traces decided early to make room) as encoded requests with span counts.
    pub(crate) fn offer(&mut self, request: &[u8], now: Instant) -> Vec<(Bytes, u64)> {
        let Ok(request) = ExportTraceServiceRequest::decode(request) else {
            return Vec::new(); // it was accepted, so this does not happen; nothing to sample
        };
        let mut late_kept: Vec<ResourceSpans> = Vec::new();
        let mut late_kept_spans = 0;
        let mut out = Vec::new();
        let mut touched: Vec<[u8; 16]> = Vec::new();
        for rs in request.resource_spans {
            let service = rs.resource.as_ref().and_then(|r| service_of(&r.attributes));
            let resource_attr_matches: Vec<usize> =
                self.attribute_matches(rs.resource.iter().flat_map(|r| r.attributes.iter()));
            for ss in rs.scope_spans {
                // Group this scope's spans by trace.
                let mut by_trace: HashMap<[u8; 16], Vec<Span>> = HashMap::new();
                for span in ss.spans {
                    let Ok(id) = <[u8; 16]>::try_from(span.trace_id.as_slice()) else {
                        continue;
                    };
                    by_trace.entry(id).or_default().push(span);
                }
                for (id, spans) in by_trace {
                    let part = ResourceSpans {
                        resource: rs.resource.clone(),
                        scope_spans: vec![ScopeSpans {
                            scope: ss.scope.clone(),
                            spans,
                            schema_url: ss.schema_url.clone(),
                        }],
                        schema_url: rs.schema_url.clone(),
                    };
                    let n = part.scope_spans[0].spans.len() as u64;
                    match self.decided.get(&id) {
                        Some(true) => {
                            self.stats.late_spans_kept += n;
                            late_kept_spans += n;
                            late_kept.push(part);
                        }
                        Some(false) => self.stats.late_spans_dropped += n,
                        None => {
                            if !self.pending.contains_key(&id)
                                && self.pending.len() >= self.config.max_traces
                                && let Some(oldest) = self.pop_oldest()
                            {
                                self.stats.early_decisions += 1;
                                out.extend(self.decide(oldest, now));
                            }
                            self.add(id, part, service.clone(), &resource_attr_matches, now);
                            if self.config.decide_when_complete && !touched.contains(&id) {
                                touched.push(id);
                            }
                        }
                    }
                }
            }
        }
        if !late_kept.is_empty() {
            let request = ExportTraceServiceRequest {
                resource_spans: late_kept,
            };
            out.push((Bytes::from(request.encode_to_vec()), late_kept_spans));
        }
        // Decided once every part of this export is in, so that one export holding a whole
        // trace is decided on all of it.
        for id in touched {
            if self.pending.get(&id).is_some_and(Pending::complete) {
                self.stats.complete_decisions += 1;
                out.extend(self.decide(id, now));
            }
        }
        if self.order.len() > 2 * self.config.max_traces {
            // Entries of traces decided early; drop them so the queue stays bounded.
            let pending = &self.pending;
            self.order
                .retain(|(id, first)| pending.get(id).is_some_and(|p| p.first == Some(*first)));
        }
        self.stats.pending_traces = self.pending.len() as u64;
        out
    }

    /// The oldest trace still waiting (skipping queue entries of traces decided early).
    fn pop_oldest(&mut self) -> Option<[u8; 16]> {
        while let Some((id, first)) = self.order.pop_front() {
            if self
                .pending
                .get(&id)
                .is_some_and(|p| p.first == Some(first))
            {
                return Some(id);
            }
        }
        None
    }

    fn attribute_matches<'a>(&self, attributes: impl Iterator<Item = &'a KeyValue>) -> Vec<usize> {
        let attributes: Vec<&KeyValue> = attributes.collect();
        self.config
            .policies
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.rule {
                Rule::Attribute { key, values } => attributes
                    .iter()
                    .any(|kv| {
                        &kv.key == key && text(&kv.value).is_some_and(|v| values.contains(&v))
                    })
                    .then_some(i),
                _ => None,
            })
            .collect()
    }

    fn add(
        &mut self,
        id: [u8; 16],
        part: ResourceSpans,
        service: Option<String>,
        resource_matches: &[usize],
        now: Instant,
    ) {
        let span_matches: Vec<usize> = self.attribute_matches(
            part.scope_spans[0]
                .spans
                .iter()
                .flat_map(|s| s.attributes.iter()),
        );
        let entry = self.pending.entry(id).or_default();
        if entry.first.is_none() {
            entry.first = Some(now);
            entry.start_ns = u64::MAX;
            self.order.push_back((id, now));
        }
        for span in &part.scope_spans[0].spans {
            if self.config.decide_when_complete {
                entry.track(span);
            }
            entry.spans += 1;
            entry.start_ns = entry.start_ns.min(span.start_time_unix_nano);
            entry.end_ns = entry.end_ns.max(span.end_time_unix_nano);
            // opentelemetry-proto status code 2 is ERROR.
            entry.error |= span.status.as_ref().is_some_and(|s| s.code == 2);
            if span.parent_span_id.is_empty() && entry.root_service.is_none() {
                entry.root_service.clone_from(&service);
            }
        }
        if entry.any_service.is_none() {
            entry.any_service.clone_from(&service);
        }
        for &i in resource_matches.iter().chain(&span_matches) {
            if !entry.attributes.contains(&i) {
                entry.attributes.push(i);
            }
        }
        entry.parts.push(part);
    }

    /// Decides every trace whose wait is over; returns the kept ones, encoded.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<(Bytes, u64)> {
        let wait = Duration::from_millis(self.config.decision_wait_ms);
        let mut out = Vec::new();
        while let Some(&(id, first)) = self.order.front() {
            if now.saturating_duration_since(first) < wait {
                break;
            }
            self.order.pop_front();
            if self
                .pending
                .get(&id)
                .is_some_and(|p| p.first == Some(first))
            {
                out.extend(self.decide(id, now));
            }
        }
        self.stats.pending_traces = self.pending.len() as u64;
        out
    }

    /// Decides every waiting trace now (at shutdown).
    pub(crate) fn flush(&mut self, now: Instant) -> Vec<(Bytes, u64)> {
        let mut out = Vec::new();
        while let Some((id, _)) = self.order.pop_front() {
            out.extend(self.decide(id, now));
        }
        self.stats.pending_traces = 0;
        out
    }

    fn matches(&self, i: usize, id: &[u8; 16], trace: &Pending) -> bool {
        match &self.config.policies[i].rule {
            Rule::Errors => trace.error,
            Rule::Latency { threshold_ms } => {
                trace.end_ns.saturating_sub(trace.start_ns)
                    >= threshold_ms.saturating_mul(1_000_000)
            }
            Rule::Attribute { .. } => trace.attributes.contains(&i),
            Rule::Probabilistic { rate } => {
                // The trace id's low 8 bytes are random (W3C trace context): compare them with
                // the rate's share of the range, so every collector decides the same.
                let low = u64::from_be_bytes(id[8..].try_into().expect("8 bytes"));
                (low as f64) < rate * (u64::MAX as f64)
            }
            Rule::RateLimit { .. } => true, // budget checked in decide
        }
    }

    fn decide(&mut self, id: [u8; 16], now: Instant) -> Option<(Bytes, u64)> {
        let trace = self.pending.remove(&id)?;
        let mut keeper = None;
        for i in 0..self.config.policies.len() {
            if !self.matches(i, &id, &trace) {
                continue;
            }
            if let Rule::RateLimit { traces_per_second } = self.config.policies[i].rule {
                let service = trace
                    .root_service
                    .clone()
                    .or_else(|| trace.any_service.clone())
                    .unwrap_or_default();
                let bucket = self
                    .per_service
                    .entry((i, service))
                    .or_insert_with(|| Bucket::new(traces_per_second, now));
                if !bucket.take(now) {
                    continue;
                }
            }
            if self.config.composite.is_some()
                && !self.shares.get_mut(&i).is_some_and(|b| b.take(now))
            {
                continue;
            }
            keeper = Some(i);
            break;
        }
        self.remember(id, keeper.is_some());
        let Some(i) = keeper else {
            self.stats.dropped_traces += 1;
            return None;
        };
        *self
            .stats
            .kept
            .entry(self.config.policies[i].name.clone())
            .or_default() += 1;
        let request = ExportTraceServiceRequest {
            resource_spans: trace.parts,
        };
        Some((Bytes::from(request.encode_to_vec()), trace.spans))
    }

    fn remember(&mut self, id: [u8; 16], keep: bool) {
        if self.decided.insert(id, keep).is_none() {
            self.decided_order.push_back(id);
        }
        while self.decided_order.len() > self.config.decision_cache {
            if let Some(old) = self.decided_order.pop_front() {
                self.decided.remove(&old);
            }
        }
    }

    pub(crate) fn stats(&self) -> TailStats {
        self.stats.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = TailConfig::parse(r#"{"policies": [], "decison_wait_ms": 5}"#).unwrap_err();
        assert!(err.contains("decison_wait_ms"), "{err}");
        let err = TailConfig::parse(
            r#"{"policies": [{"name": "p", "type": "probabilistic", "rate": 2}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("rate 2") && err.contains("\"p\""), "{err}");
        let err = TailConfig::parse(
            r#"{"policies": [{"name": "p", "type": "errors", "treshold_ms": 1}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("treshold_ms"), "{err}");
        let err =
            TailConfig::parse(r#"{"policies": [{"name": "p", "type": "sometimes"}]}"#).unwrap_err();
        assert!(err.contains("sometimes"), "{err}");
        let err = TailConfig::parse(
            r#"{"policies": [{"name": "p", "type": "errors"}], "composite": {"max_traces_per_second": 10, "shares": {"q": 50}}}"#,
        )
        .unwrap_err();
        assert!(err.contains("\"q\""), "{err}");
        assert!(TailConfig::parse(r#"{"policies": [{"name": "p", "type": "errors"}]}"#).is_ok());
    }

    #[test]
    fn flags_become_policies_in_a_fixed_order() {
        let config = TailConfig::from_flags(&TailFlags {
            sample_rate: Some(0.25),
            keep_attributes: vec!["a=1".into(), "b==2".into()],
            keep_slower_than_ms: Some(500),
            keep_errors: true,
            decision_wait_ms: Some(900),
            decide_when_complete: true,
        })
        .unwrap();
        let names: Vec<&str> = config.policies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["errors", "slow", "attribute-1", "attribute-2", "rest"]
        );
        assert!(
            matches!(&config.policies[3].rule, Rule::Attribute { key, values } if key == "b" && values == &["=2"])
        );
        assert_eq!(config.decision_wait_ms, 900);
        assert!(config.decide_when_complete);
        assert!(!TailFlags::default().any());
        let err = TailConfig::from_flags(&TailFlags {
            keep_attributes: vec!["=x".into()],
            ..TailFlags::default()
        })
        .unwrap_err();
        assert!(err.contains("\"=x\""), "{err}");
    }

    #[test]
    fn a_bucket_holds_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, t0);
        let first = (0..100).filter(|_| b.take(t0)).count();
        assert_eq!(first, 10);
        let later = (0..100)
            .filter(|_| b.take(t0 + Duration::from_millis(500)))
            .count();
        assert_eq!(later, 5);
    }
}
