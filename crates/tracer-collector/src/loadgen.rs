//! Load with accounting: send OTLP at a fixed rate with known trace ids, then prove that every
//! span sent is stored (`tracer-collector loadgen`).
//!
//! A run sends `rate` spans per second for `duration`, in requests of `spans_per_request` spans,
//! over `connections` connections (one HTTP/2 channel each for gRPC, one keep-alive connection
//! each for HTTP). Requests follow one global schedule (request *k* leaves at `k / request
//! rate`), so a slow answer delays only its connection. Every request is one trace whose id is
//! the run id in the high 64 bits and the request's number in the low 64 bits, and whose span
//! ids are `1..=spans_per_request`.
//!
//! Afterwards the run is checked against the collector's query API:
//! 1. `received_spans` from `/api/collector/stats`, read before and after, grew by exactly the
//!    number of spans sent (other clients must stay idle during a run);
//! 2. a random sample of the trace ids, read back with `/api/traces/{id}`, each holds exactly
//!    the span ids sent.
//!
//! A refused request, a partial success, a span the store evicted or a sampled trace with a
//! missing span is a loss: [`Report::zero_loss`] is false and the command exits non-zero.
//! [`find_max`] steps the rate up until a step loses spans, falls behind its rate or its p99
//! latency passes a bound, and reports the highest rate that did none of these.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tracer_collector::loadgen::LoadgenError> {
//! use std::time::Duration;
//! use tracer_collector::loadgen::{LoadOptions, Target};
//!
//! let options = LoadOptions {
//!     rate: 5_000,
//!     duration: Duration::from_secs(10),
//!     ..LoadOptions::new(Target::Grpc("http://127.0.0.1:4317".into()), "http://127.0.0.1:16686")
//! };
//! let report = tracer_collector::loadgen::run(&options).await?;
//! assert!(report.zero_loss(), "{report}");
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

use crate::ingest::grpc::EXPORT_PATH;
use crate::query::model::{Envelope, Trace};

/// Where a run sends its spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// OTLP/gRPC at this URL (`http://127.0.0.1:4317`).
    Grpc(String),
    /// OTLP/HTTP protobuf at this URL (`http://127.0.0.1:4318`; `/v1/traces` is appended
    /// when the URL has no path).
    Http(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Grpc(url) => write!(f, "grpc {url}"),
            Target::Http(url) => write!(f, "http {}", http_url(url)),
        }
    }
}

/// What one run does.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Where spans go.
    pub target: Target,
    /// Base URL of the collector's query API (`http://127.0.0.1:16686`).
    pub query: String,
    /// Spans per second.
    pub rate: u64,
    /// How long to send.
    pub duration: Duration,
    /// Spans in each request (each request is one trace).
    pub spans_per_request: usize,
    /// Connections sending in parallel.
    pub connections: usize,
    /// How many trace ids to read back through `/api/traces/{id}`.
    pub sample: usize,
    /// Timeout of each export request.
    pub request_timeout: Duration,
    /// The collector's process id, to report its memory (Linux `/proc`).
    pub collector_pid: Option<u32>,
}

impl LoadOptions {
    /// Defaults: 1000 spans/s for 5 s, 50 spans per request, 2 connections, 20 lookups.
    pub fn new(target: Target, query: impl Into<String>) -> Self {
        Self {
            target,
            query: query.into(),
            rate: 1000,
            duration: Duration::from_secs(5),
            spans_per_request: 50,
            connections: 2,
            sample: 20,
            request_timeout: Duration::from_secs(10),
            collector_pid: None,
        }
    }
}

/// A process's memory, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rss {
    /// Resident set size now (`VmRSS`), bytes.
    pub current: u64,
    /// Peak resident set size (`VmHWM`), bytes.
    pub peak: u64,
}

/// What a run did and what the collector kept.
#[derive(Clone, Debug)]
pub struct Report {
    /// Where the spans went.
    pub target: Target,
    /// Spans per second asked for.
    pub target_rate: u64,
    /// Spans sent per second of sending (acknowledged or not).
    pub achieved_rate: f64,
    /// Spans in every request sent.
    pub produced: u64,
    /// Spans in requests the collector acknowledged, minus the ones it reported rejected.
    pub acknowledged: u64,
    /// Growth of the collector's `received_spans` during the run.
    pub stored: u64,
    /// Growth of the collector's `evicted_spans` during the run.
    pub evicted: u64,
    /// Requests sent.
    pub requests: u64,
    /// Requests that failed (transport error, non-OK status, rejected spans), with the first
    /// error seen.
    pub failed_requests: u64,
    /// The first request error, if any.
    pub first_error: Option<String>,
    /// Trace ids read back.
    pub sampled: usize,
    /// Sampled traces whose spans differ from what was sent, one line each.
    pub sample_mismatches: Vec<String>,
    /// Export latency per request: median, 99th percentile, maximum.
    pub latency_p50: Duration,
    /// 99th percentile of the export latency.
    pub latency_p99: Duration,
    /// Slowest request.
    pub latency_max: Duration,
    /// The collector's memory after the run, when its pid was given.
    pub rss: Option<Rss>,
}

impl Report {
    /// True when every span sent was stored and found: no failed request, stored == produced,
    /// nothing evicted, every sampled trace complete.
    pub fn zero_loss(&self) -> bool {
        self.failed_requests == 0
            && self.stored == self.produced
            && self.acknowledged == self.produced
            && self.evicted == 0
            && self.sample_mismatches.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} spans/s asked, {:.0} spans/s sent",
            self.target, self.target_rate, self.achieved_rate
        )?;
        writeln!(
            f,
            "  produced {} spans in {} requests ({} failed), acknowledged {}, stored {} (received_spans delta), evicted {}",
            self.produced,
            self.requests,
            self.failed_requests,
            self.acknowledged,
            self.stored,
            self.evicted
        )?;
        if let Some(e) = &self.first_error {
            writeln!(f, "  first request error: {e}")?;
        }
        writeln!(
            f,
            "  sample: {} traces read back, {} incomplete",
            self.sampled,
            self.sample_mismatches.len()
        )?;
        for m in self.sample_mismatches.iter().take(5) {
            writeln!(f, "    {m}")?;
        }
        writeln!(
            f,
            "  export latency per request: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(self.latency_p50),
            ms(self.latency_p99),
            ms(self.latency_max)
        )?;
        match self.rss {
            Some(r) => writeln!(
                f,
                "  collector RSS: {} MiB now, {} MiB peak",
                r.current >> 20,
                r.peak >> 20
            )?,
            None => writeln!(f, "  collector RSS: not measured (no --collector-pid)")?,
        }
        write!(
            f,
            "  zero loss: {}",
            if self.zero_loss() { "yes" } else { "NO" }
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Why a run could not be made or checked (a loss is not an error: see [`Report::zero_loss`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// An option is out of range.
    #[error("invalid option: {0}")]
    Options(String),
    /// The export endpoint could not be reached before the run.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// The endpoint.
        target: String,
        /// Why.
        message: String,
    },
    /// The query API did not answer as expected.
    #[error("query API {url}: {message} (is the collector's query port right?)")]
    Query {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The run lost spans (the command's exit status).
    #[error("spans were lost: {0}")]
    Loss(String),
}

/// Sends the load described by `options`, then checks what the collector stored.
pub async fn run(options: &LoadOptions) -> Result<Report, LoadgenError> {
    if options.rate == 0 || options.spans_per_request == 0 || options.connections == 0 {
        return Err(LoadgenError::Options(
            "rate, spans per request and connections must be at least 1".into(),
        ));
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(options.request_timeout)
        .build()
        .map_err(|e| LoadgenError::Options(format!("cannot build an HTTP client: {e}")))?;
    let mut senders = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        senders.push(Sender::connect(&options.target, options.request_timeout).await?);
    }
    let before = collector_stats(&http, &options.query).await?;

    let per_request = options.spans_per_request as u64;
    let requests = (options.rate as f64 * options.duration.as_secs_f64() / per_request as f64)
        .ceil()
        .max(1.0) as u64;
    let interval = Duration::from_secs_f64(per_request as f64 / options.rate as f64);
    let run_id = run_id();
    let next = Arc::new(AtomicU64::new(0));
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut sender in senders {
        let next = next.clone();
        let spans = options.spans_per_request;
        tasks.spawn(async move {
            let mut outcome = Outcome::default();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= requests {
                    return outcome;
                }
                tokio::time::sleep_until(start + interval.mul_f64(seq as f64)).await;
                let body = request(run_id, seq, spans).encode_to_vec();
                let sent = Instant::now();
                let result = sender.export(Bytes::from(body)).await;
                outcome.latencies.push(sent.elapsed());
                match result {
                    Ok(0) => outcome.acknowledged.push(seq),
                    Ok(rejected) => {
                        outcome.fail(seq, format!("{rejected} spans rejected (partial success)"))
                    }
                    Err(e) => outcome.fail(seq, e),
                }
            }
        });
    }
    let mut all = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        let done = done.map_err(|e| LoadgenError::Options(format!("a sender panicked: {e}")))?;
        all.merge(done);
    }
    let elapsed = start.elapsed();
    let produced = requests * per_request;

    // Acknowledged means stored, but give a collector that stores asynchronously a moment.
    let mut after = collector_stats(&http, &options.query).await?;
    let settle = Instant::now() + Duration::from_secs(5);
    while after.received_spans.saturating_sub(before.received_spans) < produced
        && Instant::now() < settle
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = collector_stats(&http, &options.query).await?;
    }

    let mut mismatches = Vec::new();
    let sample = pick(&all.acknowledged, options.sample, run_id);
    for &seq in &sample {
        if let Some(problem) = check_trace(
            &http,
            &options.query,
            run_id,
            seq,
            options.spans_per_request,
        )
        .await?
        {
            mismatches.push(problem);
        }
    }
    all.latencies.sort_unstable();
    Ok(Report {
        target: options.target.clone(),
        target_rate: options.rate,
        achieved_rate: produced as f64 / elapsed.as_secs_f64().max(1e-9),
        produced,
        acknowledged: all.acknowledged.len() as u64 * per_request,
        stored: after.received_spans.saturating_sub(before.received_spans),
        evicted: after.evicted_spans.saturating_sub(before.evicted_spans),
        requests,
        failed_requests: all.failed,
        first_error: all.first_error,
        sampled: sample.len(),
        sample_mismatches: mismatches,
        latency_p50: percentile(&all.latencies, 0.50),
        latency_p99: percentile(&all.latencies, 0.99),
        latency_max: all.latencies.last().copied().unwrap_or_default(),
        rss: options.collector_pid.and_then(rss),
    })
}

/// Bounds of a [`find_max`] search.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    /// Each step's rate is the previous one times this (> 1).
    pub factor: f64,
    /// Highest rate tried.
    pub max_rate: u64,
    /// A step whose p99 export latency exceeds this has failed.
    pub max_p99: Duration,
    /// A step that sends less than this share of its rate (0..1) has failed.
    pub min_achieved: f64,
}

impl Default for Search {
    fn default() -> Self {
        Self {
            factor: 1.5,
            max_rate: 10_000_000,
            max_p99: Duration::from_millis(250),
            min_achieved: 0.95,
        }
    }
}

/// Why a [`find_max`] step failed, if it did.
pub fn step_failure(report: &Report, search: &Search) -> Option<String> {
    if !report.zero_loss() {
        return Some("spans lost".into());
    }
    if report.achieved_rate < report.target_rate as f64 * search.min_achieved {
        return Some(format!(
            "fell behind: {:.0} of {} spans/s",
            report.achieved_rate, report.target_rate
        ));
    }
    if report.latency_p99 > search.max_p99 {
        return Some(format!(
            "p99 {:.1} ms over {:.1} ms",
            ms(report.latency_p99),
            ms(search.max_p99)
        ));
    }
    None
}

/// Runs `options` at rising rates (from `options.rate`, times `search.factor` each step) until a
/// step fails ([`step_failure`]); returns every step's report and the index of the highest
/// rate that passed.
pub async fn find_max(
    options: &LoadOptions,
    search: &Search,
    mut on_step: impl FnMut(&Report, Option<&str>),
) -> Result<(Vec<Report>, Option<usize>), LoadgenError> {
    let mut reports = Vec::new();
    let mut best = None;
    let mut rate = options.rate;
    while rate <= search.max_rate {
        let step = LoadOptions {
            rate,
            ..options.clone()
        };
        let report = run(&step).await?;
        let failure = step_failure(&report, search);
        on_step(&report, failure.as_deref());
        reports.push(report);
        if failure.is_some() {
            break;
        }
        best = Some(reports.len() - 1);
        rate = ((rate as f64 * search.factor) as u64).max(rate + 1);
    }
    Ok((reports, best))
}

#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    acknowledged: Vec<u64>,
    failed: u64,
    first_error: Option<String>,
}

impl Outcome {
    fn fail(&mut self, seq: u64, error: String) {
        self.failed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("request {seq}: {error}"));
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        self.acknowledged.extend(other.acknowledged);
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A run id for the high half of the trace ids: the clock mixed with the pid, never zero.
fn run_id() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    splitmix(nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Up to `n` distinct entries of `from`, chosen pseudo-randomly from `seed`.
fn pick(from: &[u64], n: usize, seed: u64) -> Vec<u64> {
    let mut pool = from.to_vec();
    let n = n.min(pool.len());
    let mut state = seed;
    for i in 0..n {
        state = splitmix(state);
        let j = i + (state % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(n);
    pool
}

fn trace_id(run_id: u64, seq: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&run_id.to_be_bytes());
    id[8..].copy_from_slice(&seq.to_be_bytes());
    id
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Request `seq` of run `run_id`: one trace of `spans` spans (a root and its children).
fn request(run_id: u64, seq: u64, spans: usize) -> ExportTraceServiceRequest {
    let trace = trace_id(run_id, seq).to_vec();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let text = |k: &str, v: String| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        key_strindex: 0,
    };
    let spans = (1..=spans as u64)
        .map(|i| Span {
            trace_id: trace.clone(),
            span_id: i.to_be_bytes().to_vec(),
            parent_span_id: if i == 1 {
                Vec::new()
            } else {
                1u64.to_be_bytes().to_vec()
            },
            name: if i == 1 { "GET /load" } else { "load step" }.into(),
            kind: if i == 1 {
                span::SpanKind::Server
            } else {
                span::SpanKind::Internal
            } as i32,
            start_time_unix_nano: now,
            end_time_unix_nano: now + 1_000_000,
            attributes: vec![
                text("http.route", "/load".into()),
                text("loadgen.request", seq.to_string()),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "loadgen".into())],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One connection to the export endpoint.
enum Sender {
    Grpc(tonic::client::Grpc<Channel>),
    Http {
        client: reqwest::Client,
        url: String,
    },
}

fn http_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    match trimmed.split_once("://") {
        Some((_, rest)) if rest.contains('/') => trimmed.to_owned(),
        _ => format!("{trimmed}/v1/traces"),
    }
}

impl Sender {
    async fn connect(target: &Target, timeout: Duration) -> Result<Self, LoadgenError> {
        let connect_error = |message: String| LoadgenError::Connect {
            target: target.to_string(),
            message,
        };
        match target {
            Target::Grpc(url) => {
                let channel = Channel::from_shared(url.clone())
                    .map_err(|e| connect_error(e.to_string()))?
                    .timeout(timeout)
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .map_err(|e| connect_error(e.to_string()))?;
                Ok(Sender::Grpc(tonic::client::Grpc::new(channel)))
            }
            Target::Http(url) => {
                // One client per connection: each keeps its own keep-alive connection.
                let client = reqwest::Client::builder()
                    .no_proxy()
                    .timeout(timeout)
                    .pool_max_idle_per_host(1)
                    .tcp_nodelay(true)
                    .build()
                    .map_err(|e| connect_error(e.to_string()))?;
                Ok(Sender::Http {
                    client,
                    url: http_url(url),
                })
            }
        }
    }

    /// Sends one encoded request; the number of spans the collector rejected, or why it failed.
    async fn export(&mut self, body: Bytes) -> Result<i64, String> {
        let response = match self {
            Sender::Grpc(grpc) => {
                grpc.ready().await.map_err(|e| e.to_string())?;
                let path = http::uri::PathAndQuery::from_static(EXPORT_PATH);
                grpc.unary(tonic::Request::new(body), path, LoadCodec)
                    .await
                    .map_err(|s| format!("gRPC {:?}: {}", s.code(), s.message()))?
                    .into_inner()
            }
            Sender::Http { client, url } => {
                let answer = client
                    .post(url.as_str())
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| format!("{e}"))?;
                let status = answer.status();
                let bytes = answer.bytes().await.map_err(|e| format!("{e}"))?;
                if !status.is_success() {
                    return Err(format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                    ));
                }
                ExportTraceServiceResponse::decode(bytes)
                    .map_err(|e| format!("undecodable answer: {e}"))?
            }
        };
        Ok(response.partial_success.map_or(0, |p| p.rejected_spans))
    }
}

/// Sends pre-encoded request bytes, decodes the response with prost.
struct LoadCodec;

impl Codec for LoadCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = LoadCodec;
    type Decoder = LoadCodec;

    fn encoder(&mut self) -> Self::Encoder {
        LoadCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        LoadCodec
    }
}

impl Encoder for LoadCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for LoadCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("undecodable response: {e}")))
    }
}

/// The counters of `/api/collector/stats` a run compares.
#[derive(Debug, serde::Deserialize)]
struct Counters {
    received_spans: u64,
    evicted_spans: u64,
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<(u16, T), LoadgenError> {
    let query_error = |message: String| LoadgenError::Query {
        url: url.to_owned(),
        message,
    };
    let answer = http
        .get(url)
        .send()
        .await
        .map_err(|e| query_error(e.to_string()))?;
    let status = answer.status().as_u16();
    let text = answer
        .text()
        .await
        .map_err(|e| query_error(e.to_string()))?;
    let value = serde_json::from_str(&text)
        .map_err(|e| query_error(format!("{status}, unexpected body ({e})")))?;
    Ok((status, value))
}

async fn collector_stats(http: &reqwest::Client, query: &str) -> Result<Counters, LoadgenError> {
    let url = format!("{}/api/collector/stats", query.trim_end_matches('/'));
    Ok(get_json(http, &url).await?.1)
}

/// None when trace `seq` holds exactly span ids `1..=spans`, else what is wrong.
async fn check_trace(
    http: &reqwest::Client,
    query: &str,
    run_id: u64,
    seq: u64,
    spans: usize,
) -> Result<Option<String>, LoadgenError> {
    let id = hex(&trace_id(run_id, seq));
    let url = format!("{}/api/traces/{id}", query.trim_end_matches('/'));
    let (status, envelope): (u16, Envelope<Vec<Trace>>) = get_json(http, &url).await?;
    let Some(trace) = envelope.data.and_then(|d| d.into_iter().next()) else {
        return Ok(Some(format!("trace {id}: not found ({status})")));
    };
    let mut found: Vec<String> = trace.spans.into_iter().map(|s| s.span_id).collect();
    found.sort_unstable();
    let mut expected: Vec<String> = (1..=spans as u64).map(|i| hex(&i.to_be_bytes())).collect();
    expected.sort_unstable();
    if found == expected {
        Ok(None)
    } else {
        Ok(Some(format!(
            "trace {id}: {} span(s) stored, {spans} sent",
            found.len()
        )))
    }
}

/// The memory of process `pid`, from `/proc/<pid>/status`.
pub fn rss(pid: u32) -> Option<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some(Rss {
        current: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// Which endpoints the command loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocols {
    /// OTLP/gRPC only.
    Grpc,
    /// OTLP/HTTP protobuf only.
    Http,
    /// gRPC, then HTTP.
    Both,
}

/// The flags of `tracer-collector loadgen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which endpoint(s) to load.
    #[arg(long, value_enum, default_value = "grpc")]
    pub protocol: Protocols,
    /// OTLP/gRPC URL.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    pub grpc: String,
    /// OTLP/HTTP URL (`/v1/traces` is appended when it has no path).
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub http: String,
    /// The collector's query API, to check what it stored.
    #[arg(long, default_value = "http://127.0.0.1:16686")]
    pub query: String,
    /// Spans per second (with --find-max: the first step's rate).
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// How long to send (each step, with --find-max): `10s`, `500ms`, `2m`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Spans in each request (one trace per request).
    #[arg(long, default_value_t = 50)]
    pub spans_per_request: usize,
    /// Connections sending in parallel.
    #[arg(long, default_value_t = 2)]
    pub connections: usize,
    /// Trace ids read back through `/api/traces/{id}` after each run.
    #[arg(long, default_value_t = 50)]
    pub sample: usize,
    /// Step the rate up (times --step-factor) until spans are lost, the rate is not kept or
    /// p99 passes --max-p99-ms; report the highest rate without any of these.
    #[arg(long)]
    pub find_max: bool,
    /// With --find-max: the factor between two steps' rates.
    #[arg(long, default_value_t = 1.5)]
    pub step_factor: f64,
    /// With --find-max: the highest acceptable p99 export latency, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub max_p99_ms: u64,
    /// The collector's process id, to report its memory (VmRSS, VmHWM).
    #[arg(long)]
    pub collector_pid: Option<u32>,
}

/// Parses `500ms`, `10s`, `2m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 10s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unit {unit:?} in {text:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// `tracer-collector loadgen`: runs the load (or the search), prints the reports, and fails
/// with [`LoadgenError::Loss`] when a run lost spans (a search: when no step passed).
pub async fn cli(args: Args) -> Result<(), LoadgenError> {
    let targets = match args.protocol {
        Protocols::Grpc => vec![Target::Grpc(args.grpc.clone())],
        Protocols::Http => vec![Target::Http(args.http.clone())],
        Protocols::Both => vec![
            Target::Grpc(args.grpc.clone()),
            Target::Http(args.http.clone()),
        ],
    };
    let search = Search {
        factor: args.step_factor,
        max_p99: Duration::from_millis(args.max_p99_ms),
        ..Search::default()
    };
    if search.factor <= 1.0 {
        return Err(LoadgenError::Options(
            "--step-factor must be above 1".into(),
        ));
    }
    let mut losses = Vec::new();
    for target in targets {
        let options = LoadOptions {
            rate: args.rate,
            duration: args.duration,
            spans_per_request: args.spans_per_request,
            connections: args.connections,
            sample: args.sample,
            collector_pid: args.collector_pid,
            ..LoadOptions::new(target.clone(), args.query.clone())
        };
        if !args.find_max {
            let report = run(&options).await?;
            println!("{report}");
            if !report.zero_loss() {
                losses.push(target.to_string());
            }
            continue;
        }
        let (reports, best) = find_max(&options, &search, |report, failure| {
            println!("{report}");
            match failure {
                Some(why) => println!("  step failed: {why}\n"),
                None => println!("  step passed\n"),
            }
        })
        .await?;
        match best.map(|i| &reports[i]) {
            Some(r) => println!(
                "{target}: highest zero-loss rate {} spans/s (sent {:.0}/s), p50 {:.1} ms, p99 {:.1} ms\n",
                r.target_rate,
                r.achieved_rate,
                ms(r.latency_p50),
                ms(r.latency_p99)
            ),
            None => {
                println!("{target}: no step passed, not even {} spans/s\n", args.rate);
                losses.push(target.to_string());
            }
        }
    }
    if losses.is_empty() {
        Ok(())
    } else {
        Err(LoadgenError::Loss(losses.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_carry_the_run_and_the_request() {
        assert_eq!(hex(&trace_id(0xabc, 7)), "0000000000000abc0000000000000007");
    }

    #[test]
    fn http_urls_get_the_traces_path_when_they_have_none() {
        assert_eq!(http_url("http://h:4318"), "http://h:4318/v1/traces");
        assert_eq!(http_url("http://h:4318/"), "http://h:4318/v1/traces");
        assert_eq!(http_url("http://h:1/x/traces"), "http://h:1/x/traces");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn percentiles_and_samples() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&d, 0.99), Duration::from_millis(99));
        let picked = pick(&(0..10).collect::<Vec<_>>(), 4, 42);
        assert_eq!(picked.len(), 4);
        let mut unique = picked.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 4);
    }
}
