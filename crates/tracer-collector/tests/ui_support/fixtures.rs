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

/// A 10,000-span trace 10 s long over 8 services: a ternary tree (span `i` is the child of
/// span `(i - 1) / 3`, nine levels deep), each span with four attributes and every child
/// inside its parent's time, as a fan-out of RPCs and queries would be.
pub(crate) fn large(base_ns: u64) -> Value {
    const SERVICES: [&str; 8] = [
        "gateway",
        "orders",
        "payments",
        "inventory",
        "shipping",
        "pricing",
        "users",
        "search",
    ];
    // (start, duration) in microseconds per span; children split their parent in thirds.
    let n = LARGE_SPANS as usize;
    let mut times = vec![(0u64, 10_000_000u64); n];
    let mut by_service: Vec<Vec<S>> = (0..SERVICES.len()).map(|_| Vec::new()).collect();
    for i in 0..n {
        if i > 0 {
            let p = (i - 1) / 3;
            let k = ((i - 1) % 3) as u64;
            let (ps, pd) = times[p];
            let third = pd / 3;
            times[i] = (ps + k * third + third / 10, third * 8 / 10);
        }
        let (start, dur) = times[i];
        let depth = (0..)
            .take_while(|d| (3usize.pow(*d + 1) - 1) / 2 <= i)
            .count();
        let service = if i == 0 {
            0
        } else {
            (i * 7 + depth) % SERVICES.len()
        };
        let mut span = S::new(
            LARGE,
            &sid(i as u64 + 1),
            &format!(
                "{} op-{}",
                ["GET", "POST", "SELECT", "publish"][i % 4],
                i % 97
            ),
            base_ns,
            start,
            dur.max(1),
        )
        .kind(if i % 2 == 0 { SERVER } else { CLIENT })
        .attr("app.request.id", &format!("req-{i:05}"))
        .int("app.item.count", (i % 50) as i64)
        .attr("net.peer.name", SERVICES[(service + 1) % SERVICES.len()])
        .flag("app.cache.hit", i % 3 == 0);
        if i > 0 {
            span = span.parent(&sid(((i - 1) / 3) as u64 + 1));
        }
        if i % 997 == 0 && i > 0 {
            span = span.error("upstream timeout");
        }
        by_service[service].push(span);
    }
    export(
        SERVICES
            .iter()
            .zip(by_service)
            .map(|(service, spans)| (*service, vec![("host.name", "bench-1")], spans))
            .collect(),
    )
}
