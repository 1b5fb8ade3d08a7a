//! The scenario runner behind `tracer-demo run`: it starts the collector, the three services and
//! the worker as separate processes, plays each scenario, waits until its trace is complete in the
//! collector, checks the trace's shape, and prints a result table and each trace's waterfall.

pub mod cluster;
pub mod collect;
pub mod driver;
pub mod history;

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tracer::testing::tree_diff;
use tracer_collector::insight::lint::Finding;
use tracer_collector::query::model::Trace;

use crate::scenarios::{CATALOGUE, Scenario};
use cluster::{Cluster, DataUrls};
use driver::Driver;

/// How long a trace may take to arrive complete in the collector.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a trace must stay unchanged once it matches, so that a late extra span is seen.
const SETTLE: Duration = Duration::from_millis(300);

/// What `tracer-demo run` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Scenario names to run (all when empty).
    pub scenarios: Vec<String>,
    /// Only list the scenarios.
    pub list: bool,
    /// Leave everything running afterwards.
    pub keep: bool,
    /// Skip the waterfalls.
    pub quiet: bool,
    /// Redis URL.
    pub redis_url: String,
    /// MySQL URL.
    pub mysql_url: String,
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Extra arguments of the collector process: `--forward-otlp URL`, `--forward-protocol P`.
    pub forward: Vec<String>,
    /// The file keeping the last run's latencies ([`history::history_path`] when `None`).
    pub history: Option<std::path::PathBuf>,
}

/// The result of one scenario.
#[derive(Debug)]
pub struct Outcome {
    /// The scenario.
    pub scenario: &'static Scenario,
    /// Its trace id.
    pub trace_id: String,
    /// Spans collected.
    pub spans: usize,
    /// Spans with an error status.
    pub errors: usize,
    /// Duration of the trace (its longest span), in microseconds.
    pub duration_us: u64,
    /// Everything that deviates; empty when the scenario passed.
    pub problems: Vec<String>,
    /// Facts worth printing.
    pub notes: Vec<String>,
    /// The collected tree, as rendered for comparison.
    pub tree: String,
    /// The collected trace, when there is one.
    pub trace: Option<Trace>,
    /// The collector's linter findings for the trace (`/api/traces/{id}/findings`).
    pub findings: Vec<Finding>,
}

impl Outcome {
    /// Whether the trace matched and every check passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Picks the scenarios named (all when none); an unknown name is an error listing the known.
pub fn select(names: &[String]) -> anyhow::Result<Vec<&'static Scenario>> {
    if names.is_empty() {
        return Ok(CATALOGUE.to_vec());
    }
    names
        .iter()
        .map(|n| {
            crate::scenarios::find(n).with_context(|| {
                let known: Vec<&str> = CATALOGUE.iter().map(|s| s.name).collect();
                format!("no scenario named {n:?}; known: {}", known.join(", "))
            })
        })
        .collect()
}

/// A tracer for the runner itself (service `client`), exporting over OTLP/HTTP to `endpoint`
/// (the full URL, `/v1/traces` included) every 50 ms.
pub fn client_tracer(endpoint: &str) -> anyhow::Result<tracer::Guard> {
    tracer::builder()
        .without_env()
        .service_name("client")
        .otlp_endpoint(endpoint)
        .otlp_protocol(tracer::Protocol::HttpProtobuf)
        .schedule_delay(Duration::from_millis(50))
        .build()
        .context("cannot set up the runner's tracer")
}

/// Runs the demo; returns whether every scenario passed.
pub async fn run(options: RunOptions) -> anyhow::Result<bool> {
    let scenarios = select(&options.scenarios)?;
    if options.list {
        for s in &scenarios {
            println!("{:<24} {}", s.name, s.summary);
        }
        return Ok(true);
    }
    let exe = std::env::current_exe().context("cannot find the tracer-demo executable")?;
    let data = DataUrls {
        redis: options.redis_url.clone(),
        mysql: options.mysql_url.clone(),
        amqp: options.amqp_url.clone(),
    };
    let started = Instant::now();
    eprintln!("starting the collector, server1, server2, server3 and the worker ...");
    let cluster = Cluster::start_with(&exe, &data, &options.forward).await?;
    eprintln!(
        "ready in {:.1} s; the UI is at {}",
        started.elapsed().as_secs_f64(),
        cluster.query_url
    );
    let guard = client_tracer(&format!("http://{}/v1/traces", cluster.export_proxy.addr()))?;
    let driver = Driver::new(&cluster, guard.tracer().clone());
    let mut outcomes = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        eprint!("[{:>2}/{}] {:<24} ", i + 1, scenarios.len(), scenario.name);
        let _ = std::io::stderr().flush();
        let outcome = run_scenario(&driver, scenario).await;
        eprintln!(
            "{} ({} spans)",
            if outcome.passed() { "ok" } else { "FAILED" },
            outcome.spans
        );
        outcomes.push(outcome);
    }
    let elapsed = started.elapsed();
    if !options.quiet {
        for o in &outcomes {
            print_waterfall(o);
        }
    }
    print_table(&outcomes);
    compare_with_previous_run(&outcomes, options.history.as_deref());
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    println!(
        "\n{} of {} scenarios passed in {:.1} s",
        outcomes.len() - failed,
        outcomes.len(),
        elapsed.as_secs_f64()
    );
    for o in outcomes.iter().filter(|o| !o.passed()) {
        println!("\nFAILED {} (trace {}):", o.scenario.name, o.trace_id);
        for p in &o.problems {
            println!("{p}");
        }
    }
    drop(driver);
    let _ = tokio::task::spawn_blocking(move || guard.shutdown()).await;
    if options.keep {
        println!(
            "\nstill running: the UI and Jaeger API at {} (logs in {}); stop with ctrl-c",
            cluster.query_url,
            cluster.log_dir.display()
        );
        let _ = tokio::signal::ctrl_c().await;
    }
    cluster.stop().await;
    Ok(failed == 0)
}

/// Prints what got slower since the run recorded in the history file, then records this run
/// there ([`history`]). Only scenarios that passed are recorded.
fn compare_with_previous_run(outcomes: &[Outcome], flag: Option<&std::path::Path>) {
    let path = history::history_path(flag);
    let mut current = history::RunRecord {
        finished_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        ..history::RunRecord::default()
    };
    for o in outcomes.iter().filter(|o| o.passed()) {
        if let Some(trace) = &o.trace {
            current.add_trace(o.scenario.name, trace);
        }
    }
    println!();
    match history::RunRecord::load(&path) {
        Ok(Some(previous)) => print!("{}", history::slower_report(&previous, &current)),
        Ok(None) => println!(
            "no previous run recorded at {}: nothing to compare with",
            path.display()
        ),
        Err(e) => println!("the previous run is not comparable ({e:#}); starting afresh"),
    }
    match current.save(&path) {
        Ok(()) => println!("this run's latencies are kept in {}", path.display()),
        Err(e) => println!("this run's latencies could not be kept: {e:#}"),
    }
}

/// Plays `scenario` and checks its trace.
pub async fn run_scenario(driver: &Driver<'_>, scenario: &'static Scenario) -> Outcome {
    let mut outcome = Outcome {
        scenario,
        trace_id: String::new(),
        spans: 0,
        errors: 0,
        duration_us: 0,
        problems: Vec::new(),
        notes: Vec::new(),
        tree: String::new(),
        trace: None,
        findings: Vec::new(),
    };
    let played = match scenario.play_on(driver).await {
        Ok(p) => p,
        Err(e) => {
            outcome
                .problems
                .push(format!("the scenario could not be played: {e:#}"));
            return outcome;
        }
    };
    outcome.trace_id = played.trace_id.clone();
    outcome.problems.extend(played.problems);
    outcome.notes.extend(played.notes);
    let provider = driver.tracer.provider().clone();
    let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
    let collected = if played.expect_spans {
        wait_for_tree(driver, scenario, &played.trace_id).await
    } else {
        tokio::time::sleep(Duration::from_millis(600)).await;
        collect::fetch(&driver.plain, &driver.cluster.query_url, &played.trace_id).await
    };
    let trace = match collected {
        Ok(t) => t,
        Err(e) => {
            outcome.problems.push(format!("{e:#}"));
            return outcome;
        }
    };
    if let Some(trace) = &trace {
        let spans = collect::tree_spans(trace);
        outcome.spans = spans.len();
        outcome.errors = spans.iter().filter(|s| s.error).count();
        outcome.duration_us = trace.spans.iter().map(|s| s.duration).max().unwrap_or(0);
        outcome.tree = driver
            .cluster
            .normalise(&scenario.format().render_spans(&spans));
    }
    match (&trace, played.expect_spans) {
        (None, true) => outcome.problems.push(format!(
            "trace {} never reached the collector",
            played.trace_id
        )),
        (Some(_), false) => outcome.problems.push(format!(
            "trace {} was to leave no span, but {} arrived:\n{}",
            played.trace_id, outcome.spans, outcome.tree
        )),
        (Some(trace), true) => {
            if let Some(diff) = tree_diff(&outcome.tree, scenario.expected) {
                outcome.problems.push(diff);
            }
            if let Some(check) = scenario.check
                && let Err(e) = check(trace)
            {
                outcome.problems.push(e);
            }
        }
        (None, false) => {}
    }
    if trace.is_some() {
        match collect::fetch_findings(&driver.plain, &driver.cluster.query_url, &played.trace_id)
            .await
        {
            Ok(findings) => outcome.findings = findings,
            Err(e) => outcome
                .notes
                .push(format!("no findings from the collector: {e:#}")),
        }
    }
    outcome.trace = trace;
    outcome
}

/// Polls the collector until the trace renders as expected and stays so for [`SETTLE`], or
/// until [`ARRIVAL_TIMEOUT`]; returns the last trace seen.
async fn wait_for_tree(
    driver: &Driver<'_>,
    scenario: &Scenario,
    id: &str,
) -> anyhow::Result<Option<Trace>> {
    let deadline = Instant::now() + ARRIVAL_TIMEOUT;
    let mut last: Option<Trace> = None;
    let mut matched_since: Option<Instant> = None;
    let mut stable_since = Instant::now();
    loop {
        let trace = collect::fetch(&driver.plain, &driver.cluster.query_url, id).await?;
        let count = trace.as_ref().map_or(0, |t| t.spans.len());
        if count != last.as_ref().map_or(0, |t| t.spans.len()) {
            stable_since = Instant::now();
        }
        let rendered = trace
            .as_ref()
            .map(|t| {
                let rendered = scenario.format().render_spans(&collect::tree_spans(t));
                driver.cluster.normalise(&rendered)
            })
            .unwrap_or_default();
        let matches = !rendered.is_empty() && tree_diff(&rendered, scenario.expected).is_none();
        last = trace;
        if matches {
            let since = *matched_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= SETTLE {
                return Ok(last);
            }
        } else {
            matched_since = None;
            // Without an expected tree (while writing a new scenario), settle on a stable count.
            if scenario.expected.trim().is_empty()
                && count > 0
                && stable_since.elapsed() > Duration::from_secs(1)
            {
                return Ok(last);
            }
        }
        if Instant::now() > deadline {
            return Ok(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_waterfall(o: &Outcome) {
    println!(
        "\n=== {} — {}\n    must show: {}",
        o.scenario.name, o.scenario.summary, o.scenario.shows
    );
    for note in &o.notes {
        println!("    {note}");
    }
    match &o.trace {
        Some(trace) => {
            println!("{}", tracer_collector::view::render(trace, 100));
            print!(
                "{}",
                tracer_collector::view::render_findings(&o.findings, 100)
            );
        }
        None => println!("(no spans collected for trace {})", o.trace_id),
    }
}

/// The rules that found something in a scenario's trace, warnings first: `n-plus-one,
/// dominant-span`, or `-`.
pub fn finding_rules(o: &Outcome) -> String {
    let mut names: Vec<&str> = Vec::new();
    for f in &o.findings {
        if !names.contains(&f.rule.name()) {
            names.push(f.rule.name());
        }
    }
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(", ")
    }
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "\n{:<24} {:<32} {:>5} {:>6} {:>10}  result  findings",
        "scenario", "trace id", "spans", "errors", "duration"
    );
    for o in outcomes {
        println!(
            "{:<24} {:<32} {:>5} {:>6} {:>10}  {:<6}  {}",
            o.scenario.name,
            o.trace_id,
            o.spans,
            o.errors,
            tracer_collector::view::format_duration_us(o.duration_us),
            if o.passed() { "pass" } else { "FAIL" },
            finding_rules(o)
        );
    }
}
