//! The collector down in the middle of a steady load: what the services' tracing costs the
//! requests, and whether every span it loses is counted (`tracer-demo outage`, and the test
//! `tests/collector_outage.rs`).
//!
//! One process holds an embedded collector, a [`FaultProxy`] in front of its OTLP/HTTP port and
//! the three services (server1 -> server2 -> server3 -> Redis + MySQL), each with its own tracer
//! exporting through the proxy. A client sends `GET /products/{sku}` to server1 at a fixed rate
//! for `before + outage + after`; during `outage` the proxy refuses connections. The report
//! says how the requests fared (failures, latency percentiles), how many spans each service
//! finished (counted by an extra span processor), what its [`ExportStats`] say once its guard
//! is shut down, and how long after the collector's return each service exported again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tokio::net::TcpListener;
use tracer::{ExportStats, ExporterKind, Protocol};

use crate::call_back_loop::DEFAULT_MAX_DEPTH;
use crate::faults::proxy::{Fault, FaultProxy};
use crate::{server1, server2, server3, shop_data::Store};

/// What to run.
#[derive(Clone, Debug)]
pub struct OutageOptions {
    /// Requests per second sent to server1.
    pub rate: u64,
    /// Load before the collector goes down.
    pub before: Duration,
    /// How long the collector is unreachable (zero: no fault, the reference run).
    pub outage: Duration,
    /// Load after the collector is back.
    pub after: Duration,
    /// Redis URL.
    pub redis_url: String,
    /// MySQL URL.
    pub mysql_url: String,
}

/// One service's spans.
#[derive(Clone, Debug)]
pub struct ServiceSpans {
    /// The service.
    pub service: &'static str,
    /// Spans the service finished (sampled), counted as they ended.
    pub sent: u64,
    /// The export counters after the guard shut down.
    pub stats: ExportStats,
    /// How long after the collector came back the service's `exported` counter grew again.
    pub resumed_after: Option<Duration>,
}

impl ServiceSpans {
    /// True when every finished span is exported, dropped or failed, and none is left queued.
    pub fn accounted(&self) -> bool {
        self.stats.queued == 0
            && self.sent == self.stats.exported + self.stats.dropped + self.stats.failed
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct OutageReport {
    /// Requests sent.
    pub requests: u64,
    /// Requests not answered 200, with the first such answer.
    pub failed_requests: u64,
    /// The first failed request, if any.
    pub first_failure: Option<String>,
    /// Request latency percentiles (client side).
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest request.
    pub max: Duration,
    /// p99 of the requests sent while the collector was down (equal to `p99` without a fault).
    pub p99_during_outage: Duration,
    /// Every answered request: when it was sent (from the start of the load) and how long it
    /// took, in sending order; for comparing a window of two runs, or pooling several runs.
    pub latencies: Vec<(Duration, Duration)>,
    /// Per service.
    pub services: Vec<ServiceSpans>,
}

impl std::fmt::Display for OutageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "requests {} ({} failed), latency p50 {:.2} ms, p99 {:.2} ms (during the outage {:.2} ms), max {:.2} ms",
            self.requests,
            self.failed_requests,
            ms(self.p50),
            ms(self.p99),
            ms(self.p99_during_outage),
            ms(self.max)
        )?;
        if let Some(first) = &self.first_failure {
            writeln!(f, "  first failure: {first}")?;
        }
        for s in &self.services {
            writeln!(
                f,
                "  {}: sent {} = exported {} + dropped {} + failed {} (queued {}){}, export resumed {}",
                s.service,
                s.sent,
                s.stats.exported,
                s.stats.dropped,
                s.stats.failed,
                s.stats.queued,
                if s.accounted() { "" } else { " MISMATCH" },
                s.resumed_after.map_or("-".to_owned(), |d| format!(
                    "{:.2} s after",
                    d.as_secs_f64()
                ))
            )?;
        }
        Ok(())
    }
}

/// Counts the spans a tracer finishes.
#[derive(Debug)]
struct Count(Arc<AtomicU64>);

impl SpanProcessor for Count {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}
    fn on_end(&self, _span: SpanData) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

async fn local() -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Runs the load with the outage and reports (see the module docs).
pub async fn run(options: &OutageOptions) -> anyhow::Result<OutageReport> {
    // The collector, and the proxy the services export through.
    let (otlp, otlp_addr) = local().await?;
    let (stop_collector, stopped) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(tracer_collector::Collector::builder().build().run(
        tracer_collector::Listeners {
            otlp_http: Some(otlp),
            ..Default::default()
        },
        async {
            let _ = stopped.await;
        },
    ));
    let proxy = FaultProxy::start(otlp_addr)
        .await
        .context("cannot start the proxy in front of the collector")?;
    let endpoint = format!("http://{}/v1/traces", proxy.addr());

    let mut guards = Vec::new();
    let mut counts = Vec::new();
    for service in ["server1", "server2", "server3"] {
        let sent = Arc::new(AtomicU64::new(0));
        let guard = tracer::builder()
            .without_env()
            .service_name(service)
            .exporter(ExporterKind::Otlp)
            .otlp_protocol(Protocol::HttpProtobuf)
            .otlp_endpoint(endpoint.clone())
            .otlp_timeout(Duration::from_secs(2))
            .schedule_delay(Duration::from_millis(50))
            .shutdown_timeout(Duration::from_secs(10))
            .span_processor(Count(sent.clone()))
            .build()
            .with_context(|| format!("cannot set up tracing for {service}"))?;
        guards.push((service, guard));
        counts.push(sent);
    }
    let tracer = |i: usize| guards[i].1.tracer().clone();

    let (l1, a1) = local().await?;
    let (l2, a2) = local().await?;
    let (l3, a3) = local().await?;
    let timeout = Duration::from_secs(5);
    let store = Store::connect(&options.redis_url, &options.mysql_url, &tracer(2)).await?;
    let server = server3::Server3::new(
        server3::Options {
            server2: format!("http://{a2}"),
            max_loop_depth: DEFAULT_MAX_DEPTH,
            timeout,
        },
        store,
        &tracer(2),
    );
    let mut services = tokio::task::JoinSet::new();
    services.spawn(server3::serve(l3, None, server, tracer(2)));
    services.spawn(server2::serve(
        l2,
        server2::Options {
            server1: format!("http://{a1}"),
            server3: format!("http://{a3}"),
            server3_unreachable: "http://127.0.0.1:1".into(),
            max_loop_depth: DEFAULT_MAX_DEPTH,
            timeout,
        },
        tracer(1),
    ));
    let s1 = server1::serve(
        l1,
        server1::Options {
            server2: format!("http://{a2}"),
            max_loop_depth: DEFAULT_MAX_DEPTH,
            timeout,
        },
        tracer(0),
    );
    services.spawn(async move { s1.await.map_err(anyhow::Error::from) });

    // The load: request k leaves at k / rate, whatever the answers before it.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?;
    let total = options.before + options.outage + options.after;
    let requests = (options.rate as f64 * total.as_secs_f64()).ceil() as u64;
    let interval = Duration::from_secs_f64(1.0 / options.rate.max(1) as f64);
    let start = tokio::time::Instant::now();
    let base = format!("http://{a1}");
    let load = tokio::spawn(async move {
        let mut answers = tokio::task::JoinSet::new();
        for k in 0..requests {
            tokio::time::sleep_until(start + interval.mul_f64(k as f64)).await;
            let url = format!("{base}/products/{}", 1 + k % 8);
            let client = client.clone();
            answers.spawn(async move {
                let sent = Instant::now();
                let status = client.get(&url).send().await.map(|r| r.status().as_u16());
                let taken = sent.elapsed();
                let offset = sent.duration_since(start.into_std());
                (offset, taken, status.map_err(|e| e.to_string()))
            });
        }
        let mut results = Vec::new();
        while let Some(done) = answers.join_next().await {
            results.extend(done.ok());
        }
        results
    });

    // The outage, then the wait for each service's export to resume.
    tokio::time::sleep_until(start + options.before).await;
    let mut resumed = vec![None; guards.len()];
    if !options.outage.is_zero() {
        proxy.set(Fault::Refuse).await?;
        tokio::time::sleep(options.outage).await;
        let back_at: Vec<u64> = guards.iter().map(|(_, g)| g.stats().exported).collect();
        proxy.set(Fault::Pass).await?;
        let back = Instant::now();
        while resumed.iter().any(Option::is_none) && back.elapsed() < Duration::from_secs(30) {
            for (i, (_, guard)) in guards.iter().enumerate() {
                if resumed[i].is_none() && guard.stats().exported > back_at[i] {
                    resumed[i] = Some(back.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let results = load.await.context("the load task failed")?;
    services.abort_all();

    let mut report_services = Vec::new();
    for (i, (service, guard)) in guards.into_iter().enumerate() {
        let tracer = guard.tracer().clone();
        // The result is in the counters; a failed final export is counted there too.
        let _ = tokio::task::spawn_blocking(move || guard.shutdown()).await;
        report_services.push(ServiceSpans {
            service,
            sent: counts[i].load(Ordering::Relaxed),
            stats: tracer.stats(),
            resumed_after: resumed[i],
        });
    }
    let _ = stop_collector.send(());
    let _ = collector.await;

    let window = options.before..options.before + options.outage;
    let mut all: Vec<Duration> = results.iter().map(|r| r.1).collect();
    let mut during: Vec<Duration> = results
        .iter()
        .filter(|r| window.contains(&r.0))
        .map(|r| r.1)
        .collect();
    all.sort_unstable();
    during.sort_unstable();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(at, _, status)| match status {
            Ok(200) => None,
            Ok(code) => Some(format!("at {at:?}: status {code}")),
            Err(e) => Some(format!("at {at:?}: {e}")),
        })
        .collect();
    Ok(OutageReport {
        requests,
        failed_requests: failures.len() as u64 + requests.saturating_sub(results.len() as u64),
        first_failure: failures.into_iter().next(),
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        max: all.last().copied().unwrap_or_default(),
        p99_during_outage: if during.is_empty() {
            percentile(&all, 0.99)
        } else {
            percentile(&during, 0.99)
        },
        latencies: {
            let mut sent: Vec<(Duration, Duration)> =
                results.iter().map(|&(at, taken, _)| (at, taken)).collect();
            sent.sort_unstable();
            sent
        },
        services: report_services,
    })
}

/// The `q` quantile (0..=1) of the latencies of the requests sent within `window`, over
/// every report given (pooled), or `None` when no request was sent in it.
pub fn window_percentile(
    reports: &[&OutageReport],
    window: &std::ops::Range<Duration>,
    q: f64,
) -> Option<Duration> {
    let mut taken: Vec<Duration> = reports
        .iter()
        .flat_map(|r| &r.latencies)
        .filter(|(at, _)| window.contains(at))
        .map(|&(_, taken)| taken)
        .collect();
    if taken.is_empty() {
        return None;
    }
    taken.sort_unstable();
    Some(percentile(&taken, q))
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
