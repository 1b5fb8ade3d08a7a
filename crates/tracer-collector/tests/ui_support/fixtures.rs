//! Generated traces the UI tests load, with the facts the tests assert about them.

use serde_json::Value;

use super::{CLIENT, SERVER, SpanBuilder as S, export, sid};

/// The known trace: a checkout whose fraud check fails.
pub(crate) const CHECKOUT: &str = "0af7651916cd43dd8448eb211c80319c";
/// The same checkout, succeeding.
pub(crate) const CHECKOUT_OK: &str = "1bf7651916cd43dd8448eb211c80319d";
/// A checkout that, against [`CHECKOUT_OK`], lacks the inventory call, retries the fraud check
/// and has a slower account query.
pub(crate) const CHECKOUT_CHANGED: &str = "2cf7651916cd43dd8448eb211c80319e";

/// Span ids of the checkout traces.
pub(crate) const ROOT: &str = "00000000000000a1";
pub(crate) const CHARGE_CLIENT: &str = "00000000000000a2";
pub(crate) const CHARGE_SERVER: &str = "00000000000000a3";
pub(crate) const SELECT_ACCOUNTS: &str = "00000000000000a4";
pub(crate) const REDIS_GET: &str = "00000000000000aa";
pub(crate) const FRAUD_CLIENT: &str = "00000000000000a5";
pub(crate) const FRAUD_SERVER: &str = "00000000000000a6";
pub(crate) const INVENTORY_CLIENT: &str = "00000000000000a7";
pub(crate) const INVENTORY_SERVER: &str = "00000000000000a8";
pub(crate) const SELECT_STOCK: &str = "00000000000000a9";

/// The waterfall of [`CHECKOUT`], in display order: (depth, service, operation, span id).
pub(crate) const CHECKOUT_ROWS: [(u64, &str, &str, &str); 10] = [
    (0, "frontend", "GET /checkout", ROOT),
    (1, "frontend", "POST /charge", CHARGE_CLIENT),
    (2, "payments", "POST /charge", CHARGE_SERVER),
    (3, "payments", "SELECT accounts", SELECT_ACCOUNTS),
    (3, "payments", "GET", REDIS_GET),
    (3, "payments", "CheckFraud", FRAUD_CLIENT),
    (4, "fraud", "fraud.Check/Score", FRAUD_SERVER),
    (1, "frontend", "GET /inventory", INVENTORY_CLIENT),
    (2, "inventory", "GET /inventory", INVENTORY_SERVER),
    (3, "inventory", "SELECT stock", SELECT_STOCK),
];

/// The Redis GET runs alongside the longer account query, so it is the one span of
/// [`CHECKOUT`] off the critical path.
pub(crate) const OFF_CRITICAL_PATH: &str = REDIS_GET;

/// The checkout trace: frontend -> payments -> fraud, frontend -> inventory. Times are
/// microseconds from `base_ns`; the root lasts 120 ms.
pub(crate) fn checkout(trace: &str, base_ns: u64, fraud_fails: bool, tier: &str) -> Value {
    let t = trace;
    let mut fraud = S::new(
        t,
        FRAUD_SERVER,
        "fraud.Check/Score",
        base_ns,
        42_000,
        32_000,
    )
    .parent(FRAUD_CLIENT)
    .kind(SERVER)
    .attr("rpc.system.name", "grpc")
    .attr("rpc.method", "fraud.Check/Score")
    .int("fraud.threshold", 80)
    .link(CHECKOUT_OK, ROOT);
    fraud = if fraud_fails {
        fraud.error("model timeout").event(
            "exception",
            70_000,
            &[
                ("exception.type", "Timeout"),
                ("exception.message", "model timeout after 30ms"),
            ],
        )
    } else {
        fraud.ok()
    };
    export(vec![
        (
            "frontend",
            vec![
                ("host.name", "web-1"),
                ("deployment.environment.name", "test"),
            ],
            vec![
                S::new(t, ROOT, "GET /checkout", base_ns, 0, 120_000)
                    .kind(SERVER)
                    .attr("http.request.method", "GET")
                    .attr("http.route", "/checkout")
                    .int("http.response.status_code", 200)
                    .attr("customer.tier", tier),
                S::new(t, CHARGE_CLIENT, "POST /charge", base_ns, 5_000, 75_000)
                    .parent(ROOT)
                    .kind(CLIENT)
                    .attr("http.request.method", "POST"),
                S::new(
                    t,
                    INVENTORY_CLIENT,
                    "GET /inventory",
                    base_ns,
                    82_000,
                    33_000,
                )
                .parent(ROOT)
                .kind(CLIENT),
            ],
        ),
        (
            "payments",
            vec![("host.name", "pay-1")],
            vec![
                S::new(t, CHARGE_SERVER, "POST /charge", base_ns, 8_000, 70_000)
                    .parent(CHARGE_CLIENT)
                    .kind(SERVER),
                S::new(
                    t,
                    SELECT_ACCOUNTS,
                    "SELECT accounts",
                    base_ns,
                    10_000,
                    20_000,
                )
                .parent(CHARGE_SERVER)
                .kind(CLIENT)
                .attr("db.system.name", "mysql")
                .attr("db.query.text", "SELECT * FROM accounts WHERE id = ?"),
                S::new(t, REDIS_GET, "GET", base_ns, 12_000, 8_000)
                    .parent(CHARGE_SERVER)
                    .kind(CLIENT)
                    .attr("db.system.name", "redis"),
                S::new(t, FRAUD_CLIENT, "CheckFraud", base_ns, 40_000, 36_000)
                    .parent(CHARGE_SERVER)
                    .kind(CLIENT),
            ],
        ),
        ("fraud", vec![("host.name", "fraud-1")], vec![fraud]),
        (
            "inventory",
            vec![("host.name", "inv-1")],
            vec![
                S::new(
                    t,
                    INVENTORY_SERVER,
                    "GET /inventory",
                    base_ns,
                    84_000,
                    29_000,
                )
                .parent(INVENTORY_CLIENT)
                .kind(SERVER),
                S::new(t, SELECT_STOCK, "SELECT stock", base_ns, 85_000, 25_000)
                    .parent(INVENTORY_SERVER)
                    .kind(CLIENT)
                    .attr("db.system.name", "postgresql"),
            ],
        ),
    ])
}

/// [`CHECKOUT_OK`] changed: no inventory call (3 spans missing), a second fraud check (2 spans
/// added) and the account query 20 ms -> 60 ms (changed); everything else the same.
pub(crate) fn checkout_changed(base_ns: u64) -> Value {
    let t = CHECKOUT_CHANGED;
    export(vec![
        (
            "frontend",
            vec![("host.name", "web-1")],
            vec![
                S::new(t, ROOT, "GET /checkout", base_ns, 0, 120_000).kind(SERVER),
                S::new(t, CHARGE_CLIENT, "POST /charge", base_ns, 5_000, 75_000)
                    .parent(ROOT)
                    .kind(CLIENT),
            ],
        ),
        (
            "payments",
            vec![("host.name", "pay-1")],
            vec![
                S::new(t, CHARGE_SERVER, "POST /charge", base_ns, 8_000, 70_000)
                    .parent(CHARGE_CLIENT)
                    .kind(SERVER),
                S::new(
                    t,
                    SELECT_ACCOUNTS,
                    "SELECT accounts",
                    base_ns,
                    10_000,
                    60_000,
                )
                .parent(CHARGE_SERVER)
                .kind(CLIENT),
                S::new(t, REDIS_GET, "GET", base_ns, 12_000, 8_000)
                    .parent(CHARGE_SERVER)
                    .kind(CLIENT),
                S::new(t, FRAUD_CLIENT, "CheckFraud", base_ns, 40_000, 36_000)
                    .parent(CHARGE_SERVER)
                    .kind(CLIENT),
                S::new(t, &sid(0xb1), "CheckFraud", base_ns, 76_200, 1_500)
                    .parent(CHARGE_SERVER)
                    .kind(CLIENT),
            ],
        ),
        (
            "fraud",
            vec![("host.name", "fraud-1")],
            vec![
                S::new(
                    t,
                    FRAUD_SERVER,
                    "fraud.Check/Score",
                    base_ns,
                    42_000,
                    32_000,
                )
                .parent(FRAUD_CLIENT)
                .kind(SERVER),
                S::new(t, &sid(0xb2), "fraud.Check/Score", base_ns, 76_300, 1_200)
                    .parent(&sid(0xb1))
                    .kind(SERVER),
            ],
        ),
    ])
}

/// Small unrelated traces: 3 health checks in frontend (1 ms) and 2 inventory lookups.
pub(crate) fn noise(base_ns: u64) -> Value {
    let mut frontend = Vec::new();
    let mut inventory = Vec::new();
    for i in 0..3u64 {
        let t = format!("{:032x}", 0xee00 + i);
        frontend.push(S::new(&t, &sid(1), "GET /health", base_ns, i * 50_000, 1_000).kind(SERVER));
    }
    for i in 0..2u64 {
        let t = format!("{:032x}", 0xef00 + i);
        inventory
            .push(S::new(&t, &sid(1), "GET /inventory", base_ns, i * 70_000, 9_000).kind(SERVER));
        inventory.push(
            S::new(
                &t,
                &sid(2),
                "SELECT stock",
                base_ns,
                i * 70_000 + 1_000,
                7_000,
            )
            .parent(&sid(1))
            .kind(CLIENT),
        );
    }
    export(vec![
        ("frontend", vec![], frontend),
        ("inventory", vec![], inventory),
    ])
}

/// Loads the standard data set: [`CHECKOUT`] (fraud fails, tier gold) 2 min ago,
/// [`CHECKOUT_OK`] (tier silver) 3 min ago and the noise 4 min ago.
pub(crate) async fn load_standard(collector: &super::UiCollector) {
    let now = super::now_ns();
    let minute = 60_000_000_000;
    collector
        .load(&checkout(CHECKOUT, now - 2 * minute, true, "gold"))
        .await;
    collector
        .load(&checkout(CHECKOUT_OK, now - 3 * minute, false, "silver"))
        .await;
    collector.load(&noise(now - 4 * minute)).await;
    collector.wait_for_trace(CHECKOUT, 10).await;
    collector.wait_for_trace(CHECKOUT_OK, 10).await;
}

/// A trace whose span data is hostile markup: [`HOSTILE_SERVICE`] calls `backend`.
pub(crate) const HOSTILE: &str = "3df7651916cd43dd8448eb211c80319f";
/// Name of the hostile trace's root span.
pub(crate) const IMG_PAYLOAD: &str = "<img src=x onerror=alert(1)>";
/// Value of an attribute of the hostile root span.
pub(crate) const SCRIPT_PAYLOAD: &str = "<script>window.__tracerXss = 'attribute'</script>";
/// Service of the hostile root span (it ends up in badges, options and the graph).
pub(crate) const HOSTILE_SERVICE: &str = "\"><img src=x onerror=\"window.__tracerXss='service'\">";
/// Name of the hostile trace's child span.
pub(crate) const CHILD_PAYLOAD: &str = "<svg onload=\"window.__tracerXss='name'\"></svg>";
/// Span ids of the hostile trace.
pub(crate) const HOSTILE_ROOT: &str = "00000000000000c1";
pub(crate) const HOSTILE_CHILD: &str = "00000000000000c2";

/// The hostile trace: markup in a span name, a service name, attribute keys and values, an event,
/// a status message and a resource attribute. Each payload would set `window.__tracerXss` (or
/// open an alert) if it were ever parsed as HTML.
pub(crate) fn hostile(base_ns: u64) -> Value {
    let t = HOSTILE;
    export(vec![
        (
            HOSTILE_SERVICE,
            vec![(
                "host.name",
                "<img src=x onerror=\"window.__tracerXss='resource'\">",
            )],
            vec![
                S::new(t, HOSTILE_ROOT, IMG_PAYLOAD, base_ns, 0, 40_000)
                    .kind(SERVER)
                    .attr("comment", SCRIPT_PAYLOAD)
                    .attr(
                        "<b onmouseover=\"window.__tracerXss='key'\">key</b>",
                        "plain value",
                    )
                    .event(
                        "<iframe src=\"javascript:window.__tracerXss='event'\"></iframe>",
                        10_000,
                        &[(
                            "detail",
                            "<a href=\"javascript:window.__tracerXss='link'\">x</a>",
                        )],
                    ),
                S::new(t, HOSTILE_CHILD, CHILD_PAYLOAD, base_ns, 5_000, 30_000)
                    .parent(HOSTILE_ROOT)
                    .kind(CLIENT),
            ],
        ),
        (
            "backend",
            vec![],
            vec![
                S::new(t, "00000000000000c3", "GET /items", base_ns, 6_000, 28_000)
                    .parent(HOSTILE_CHILD)
                    .kind(SERVER)
                    .error("<svg onload=\"window.__tracerXss='status'\"></svg>"),
            ],
        ),
    ])
}

/// The 10,000-span trace.
pub(crate) const LARGE: &str = "4ef7651916cd43dd8448eb211c8031a0";
/// Its number of spans.
pub(crate) const LARGE_SPANS: u64 = 10_000;

/// The 100,000-span trace ([`large_trace`] with 100,000 spans).
pub(crate) const HUGE: &str = "5a1f0c3e9b7d4e21a6c8f00d2b3e4f10";
/// Its number of spans.
pub(crate) const HUGE_SPANS: u64 = 100_000;

/// The 10,000-span trace [`LARGE`] as one export request.
pub(crate) fn large(base_ns: u64) -> Value {
    large_trace(
        LARGE,
        LARGE_SPANS as usize,
        base_ns,
        0..LARGE_SPANS as usize,
    )
}

/// The index (0-based) of the last span of [`large_trace`] in tree order: the last child of
/// the last child ... of the root.
pub(crate) fn large_trace_last(n: usize) -> usize {
    let mut i = 0;
    while 3 * i + 1 < n {
        i = (3 * i + 3).min(n - 1);
    }
    i
}

const LARGE_SERVICES: [&str; 8] = [
    "gateway",
    "orders",
    "payments",
    "inventory",
    "shipping",
    "pricing",
    "users",
    "search",
];

/// One span of [`large_trace`]: what both its encodings (OTLP JSON and protobuf) carry.
struct LargeSpan {
    index: usize,
    service: usize,
    name: String,
    start_us: u64,
    dur_us: u64,
    kind: i64,
    parent: Option<u64>,
    error: bool,
}

impl LargeSpan {
    fn id(&self) -> u64 {
        self.index as u64 + 1
    }

    fn peer(&self) -> &'static str {
        LARGE_SERVICES[(self.service + 1) % LARGE_SERVICES.len()]
    }
}

/// Spans `range` of the `n`-span trace: a ternary tree (span `i` is the child of span
/// `(i - 1) / 3`, its children split its time in thirds), 10 s long, over 8 services.
fn large_spans(n: usize, range: std::ops::Range<usize>) -> Vec<LargeSpan> {
    // (start, duration) in microseconds per span; children split their parent in thirds.
    let mut times = vec![(0u64, 10_000_000u64); range.end.min(n)];
    for i in 1..times.len() {
        let p = (i - 1) / 3;
        let k = ((i - 1) % 3) as u64;
        let (ps, pd) = times[p];
        let third = pd / 3;
        times[i] = (ps + k * third + third / 10, third * 8 / 10);
    }
    (range.start..range.end.min(n))
        .map(|i| {
            let (start_us, dur) = times[i];
            let depth = (0..)
                .take_while(|d| (3usize.pow(*d + 1) - 1) / 2 <= i)
                .count();
            LargeSpan {
                index: i,
                service: if i == 0 {
                    0
                } else {
                    (i * 7 + depth) % LARGE_SERVICES.len()
                },
                name: format!(
                    "{} op-{}",
                    ["GET", "POST", "SELECT", "publish"][i % 4],
                    i % 97
                ),
                start_us,
                dur_us: dur.max(1),
                kind: if i % 2 == 0 { SERVER } else { CLIENT },
                parent: (i > 0).then(|| ((i - 1) / 3) as u64 + 1),
                error: i % 997 == 0 && i > 0,
            }
        })
        .collect()
}

/// Spans `range` of an `n`-span trace 10 s long over 8 services, as one OTLP/JSON export
/// request: a ternary tree (span `i` is the child of span `(i - 1) / 3`), each span with four
/// attributes, every child inside its parent's time as a fan-out of RPCs and queries would be,
/// and every 997th span an error. Span `i` has id `sid(i + 1)`.
pub(crate) fn large_trace(
    trace: &str,
    n: usize,
    base_ns: u64,
    range: std::ops::Range<usize>,
) -> Value {
    let mut by_service: Vec<Vec<S>> = (0..LARGE_SERVICES.len()).map(|_| Vec::new()).collect();
    for l in large_spans(n, range) {
        let i = l.index;
        let mut span = S::new(trace, &sid(l.id()), &l.name, base_ns, l.start_us, l.dur_us)
            .kind(l.kind)
            .attr("app.request.id", &format!("req-{i:05}"))
            .int("app.item.count", (i % 50) as i64)
            .attr("net.peer.name", l.peer())
            .flag("app.cache.hit", i % 3 == 0);
        if let Some(parent) = l.parent {
            span = span.parent(&sid(parent));
        }
        if l.error {
            span = span.error("upstream timeout");
        }
        by_service[l.service].push(span);
    }
    export(
        LARGE_SERVICES
            .iter()
            .zip(by_service)
            .filter(|(_, spans)| !spans.is_empty())
            .map(|(service, spans)| (*service, vec![("host.name", "bench-1")], spans))
            .collect(),
    )
}

/// The same spans as [`large_trace`] as an OTLP protobuf export request, which builds and
/// decodes several times faster than JSON (for the 100,000-span trace in debug builds).
pub(crate) fn large_trace_proto(
    trace: &str,
    n: usize,
    base_ns: u64,
    range: std::ops::Range<usize>,
) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, InstrumentationScope, KeyValue, any_value,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
    use prost::Message;

    let kv = |key: &str, value: any_value::Value| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    };
    let text = |key: &str, value: &str| kv(key, any_value::Value::StringValue(value.to_owned()));
    let trace_id = (0..trace.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&trace[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let mut by_service: Vec<Vec<Span>> = (0..LARGE_SERVICES.len()).map(|_| Vec::new()).collect();
    for l in large_spans(n, range) {
        let i = l.index;
        let start = base_ns + l.start_us * 1000;
        by_service[l.service].push(Span {
            trace_id: trace_id.clone(),
            span_id: l.id().to_be_bytes().to_vec(),
            parent_span_id: l.parent.map_or_else(Vec::new, |p| p.to_be_bytes().to_vec()),
            name: l.name.clone(),
            kind: l.kind as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + l.dur_us * 1000,
            attributes: vec![
                text("app.request.id", &format!("req-{i:05}")),
                kv(
                    "app.item.count",
                    any_value::Value::IntValue((i % 50) as i64),
                ),
                text("net.peer.name", l.peer()),
                kv("app.cache.hit", any_value::Value::BoolValue(i % 3 == 0)),
            ],
            status: l.error.then(|| Status {
                code: 2,
                message: "upstream timeout".to_owned(),
            }),
            ..Default::default()
        });
    }
    let resource_spans = LARGE_SERVICES
        .iter()
        .zip(by_service)
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(service, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", service), text("host.name", "bench-1")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "ui-test".to_owned(),
                    version: "1.0".to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}
