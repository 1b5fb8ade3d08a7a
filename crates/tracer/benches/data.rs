//! What the Redis and SQL instrumentation adds to a real round trip on loopback:
//!
//! | scenario | what runs |
//! |---|---|
//! | `raw` | redis-rs `MultiplexedConnection` / sqlx `MySqlPool`, no tracing |
//! | `tracer_sampled` | `InstrumentedConnection` / `tracer::sql::Pool`, every operation sampled, spans through the real batch queue to an exporter that drops them |
//! | `tracer_unsampled` | the same with sampler `always_off` |
//! | `tracer_off` | the same with the tracer switched off |
//!
//! Operations: Redis `GET` of an existing key; MySQL (MariaDB here) point `SELECT` by primary
//! key with a bound parameter, `fetch_one` on a pool of one connection (the sampled SQL run
//! records a `pool.acquire` and a `SELECT` span per query).
//!
//! Two measurements: criterion (short runs, one scenario after the other) and an interleaved
//! run (each round times `DATA_BENCH_OPS` operations of every scenario in turn, over
//! `DATA_BENCH_ROUNDS` rounds; the median per scenario is reported with its ratio to `raw`),
//! which is less sensitive to the load of a shared machine drifting during the run.
//!
//! Needs the real Redis (127.0.0.1:6379) and MariaDB (127.0.0.1:3306, root, database `test`).
//!
//! `cargo bench -p tracer --features redis,sqlx-mysql,testing --bench data`
//!
//! Instruction counts, repeatable where wall-clock times are not: `data callgrind OP SCENARIO N`
//! runs N operations (`redis_get` or `mysql_point_select`) of one scenario inside
//! `callgrind_measured`, the only function collected with
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*callgrind_measured*'`;
//! (count at 2N - count at N) / N is the client's instructions per operation, the same
//! for the baseline and the instrumented runs.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use criterion::Criterion;
use redis::AsyncCommands;
use tokio::runtime::Runtime;
use tracer::Sampler;
use tracer::redis::InstrumentedConnection;

const REDIS_URL: &str = "redis://127.0.0.1:6379/0";
const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";
const KEY: &str = "tracer_bench_data_key";

/// Drops every batch: the cost measured is the instrumentation's and the queue's.
#[derive(Debug)]
struct NullExporter;

impl opentelemetry_sdk::trace::SpanExporter for NullExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn tracer(sampler: Sampler, on: bool) -> tracer::Guard {
    tracer::builder()
        .without_env()
        .service_name("bench")
        .span_exporter(NullExporter)
        .sampler(sampler)
        .enabled(on)
        .max_queue_size(NonZeroUsize::new(65_536).unwrap())
        .build()
        .unwrap()
}

const SCENARIOS: [&str; 4] = ["raw", "tracer_sampled", "tracer_unsampled", "tracer_off"];

struct Env {
    rt: Runtime,
    guards: Vec<tracer::Guard>,
    redis_raw: redis::aio::MultiplexedConnection,
    redis: Vec<InstrumentedConnection<redis::aio::MultiplexedConnection>>,
    mysql_raw: sqlx::MySqlPool,
    mysql: Vec<tracer::sql::Pool<sqlx::MySql>>,
}

impl Env {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let guards = vec![
            tracer(Sampler::AlwaysOn, true),
            tracer(Sampler::AlwaysOff, true),
            tracer(Sampler::AlwaysOn, false),
        ];
        let (redis_raw, redis, mysql_raw, mysql) = rt.block_on(async {
            let client = redis::Client::open(REDIS_URL).unwrap();
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("redis at 127.0.0.1:6379: start it with `redis-server --daemonize yes`");
            let _: () = conn.set(KEY, "value").await.unwrap();
            let redis = guards
                .iter()
                .map(|g| {
                    InstrumentedConnection::new(conn.clone(), &client)
                        .with_tracer(g.tracer().clone())
                })
                .collect();
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(1)
                .connect(MYSQL_URL)
                .await
                .expect("mariadb at 127.0.0.1:3306: start it with `service mariadb start`");
            for sql in [
                "CREATE TABLE IF NOT EXISTS tracer_bench_data (id INT PRIMARY KEY, email VARCHAR(100))",
                "REPLACE INTO tracer_bench_data VALUES (1, 'bench@example.com')",
            ] {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            let mysql = guards
                .iter()
                .map(|g| tracer::sql::Pool::new(pool.clone()).with_tracer(g.tracer().clone()))
                .collect();
            (conn, redis, pool, mysql)
        });
        Self {
            rt,
            guards,
            redis_raw,
            redis,
            mysql_raw,
            mysql,
        }
    }

    /// One Redis GET in `scenario` (index into [`SCENARIOS`]).
    async fn redis_get(&self, scenario: usize) {
        let value: String = match scenario {
            0 => self.redis_raw.clone().get(KEY).await,
            i => self.redis[i - 1].clone().get(KEY).await,
        }
        .unwrap();
        black_box(value);
    }

    /// One MySQL point SELECT in `scenario`.
    async fn mysql_select(&self, scenario: usize) {
        let query = sqlx::query_as::<_, (i32, String)>(
            "SELECT id, email FROM tracer_bench_data WHERE id = ?",
        )
        .bind(1);
        let row = match scenario {
            0 => query.fetch_one(&self.mysql_raw).await,
            i => query.fetch_one(&self.mysql[i - 1]).await,
        }
        .unwrap();
        black_box(row);
    }
}

fn criterion_runs(env: &Env, c: &mut Criterion) {
    let mut group = c.benchmark_group("redis_get");
    for (i, name) in SCENARIOS.iter().enumerate() {
        group.bench_function(*name, |b| b.iter(|| env.rt.block_on(env.redis_get(i))));
    }
    group.finish();
    let mut group = c.benchmark_group("mysql_point_select");
    for (i, name) in SCENARIOS.iter().enumerate() {
        group.bench_function(*name, |b| b.iter(|| env.rt.block_on(env.mysql_select(i))));
    }
    group.finish();
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Times `ops` operations of every scenario in turn, `rounds` times; prints medians and ratios.
fn interleaved(env: &Env, label: &str, ops: usize, rounds: usize, sql: bool) {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); SCENARIOS.len()];
    for _ in 0..rounds {
        for (i, per_op) in times.iter_mut().enumerate() {
            let start = Instant::now();
            env.rt.block_on(async {
                for _ in 0..ops {
                    if sql {
                        env.mysql_select(i).await;
                    } else {
                        env.redis_get(i).await;
                    }
                }
            });
            per_op.push(start.elapsed() / ops as u32);
        }
    }
    let raw = median(times[0].clone());
    println!("\n{label}: interleaved, {rounds} rounds x {ops} ops, median per op");
    for (name, per_op) in SCENARIOS.iter().zip(times) {
        let m = median(per_op);
        println!(
            "  {name:<18} {:>8.2} us  {:>6.3}x raw",
            m.as_secs_f64() * 1e6,
            m.as_secs_f64() / raw.as_secs_f64()
        );
    }
}

/// Runs `n` operations of `op` in `scenario`; the function callgrind collects in.
#[inline(never)]
fn callgrind_measured(env: &Env, op: &str, scenario: usize, n: usize) {
    env.rt.block_on(async {
        for _ in 0..n {
            match op {
                "redis_get" => env.redis_get(scenario).await,
                _ => env.mysql_select(scenario).await,
            }
        }
    });
}

fn callgrind(env: &Env, args: &[String]) {
    let [op, scenario, n] = args else {
        panic!("usage: data callgrind redis_get|mysql_point_select SCENARIO N");
    };
    assert!(
        op == "redis_get" || op == "mysql_point_select",
        "unknown operation {op:?}: redis_get or mysql_point_select"
    );
    let scenario = SCENARIOS
        .iter()
        .position(|s| s == scenario)
        .unwrap_or_else(|| panic!("unknown scenario {scenario:?}: one of {SCENARIOS:?}"));
    let n: usize = n.parse().expect("N: a number of operations");
    // Warm up outside the measured function: connections, statement caches, first spans.
    for _ in 0..50 {
        env.rt.block_on(async {
            match op.as_str() {
                "redis_get" => env.redis_get(scenario).await,
                _ => env.mysql_select(scenario).await,
            }
        });
    }
    // Counted in rounds with the tracers flushed between them (not counted), so that their
    // export threads keep up as they must in a service that loses no span: valgrind runs one
    // thread at a time, and without the flushes they fell behind the measured thread.
    const ROUND: usize = 256;
    let flush = || {
        for guard in &env.guards {
            guard.flush().expect("the null exporter takes every span");
        }
    };
    flush();
    let mut left = n;
    while left > 0 {
        let round = left.min(ROUND);
        callgrind_measured(env, op, scenario, round);
        flush();
        left -= round;
    }
}

fn main() {
    let env = Env::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("callgrind") {
        callgrind(&env, &args[1..]);
        return;
    }
    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    criterion_runs(&env, &mut criterion);
    let rounds = env_number("DATA_BENCH_ROUNDS", 7);
    let ops = env_number("DATA_BENCH_OPS", 2000);
    interleaved(&env, "redis_get", ops, rounds, false);
    interleaved(&env, "mysql_point_select", ops / 2, rounds, true);
    env.rt.block_on(async {
        let _: () = env.redis_raw.clone().del(KEY).await.unwrap();
        sqlx::query("DROP TABLE IF EXISTS tracer_bench_data")
            .execute(&env.mysql_raw)
            .await
            .unwrap();
    });
    criterion.final_summary();
}
