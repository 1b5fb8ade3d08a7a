//! `tracer-demo run` twice: the first run prints each scenario's findings and records its
//! latencies in the history file; before the second, the file is made to say that
//! mysql-slow-query was ten times faster, and the second run prints exactly that scenario's
//! slow operations as slower than the previous run, biggest first, and nothing of batched (made
//! ten times slower in the file: faster is not reported).
//!
//! Needs Redis on 127.0.0.1:6379 and MariaDB/MySQL on 127.0.0.1:3306 (database `test`, user
//! root), or REDIS_URL / MYSQL_URL; `scripts/test` starts them.

use std::path::Path;
use std::process::Command;

use tracer_demo::runner::history::RunRecord;

fn run(history: &Path, quiet: bool) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracer-demo"));
    command
        .args([
            "run",
            "--scenario",
            "batched",
            "--scenario",
            "mysql-slow-query",
        ])
        .arg("--history")
        .arg(history);
    if quiet {
        command.arg("--quiet");
    }
    let output = command.output().expect("tracer-demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "tracer-demo run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn a_second_run_prints_what_got_slower_than_the_first() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-history");
    let _ = std::fs::remove_dir_all(&dir);
    let history = dir.join("last-run.json");

    let first = run(&history, false);
    assert!(
        first.contains(&format!(
            "no previous run recorded at {}: nothing to compare with",
            history.display()
        )),
        "{first}"
    );
    // The findings, after the slow query's waterfall and in the table.
    assert!(
        first.contains("findings: 1\n  i Dominant span: server3 SELECT demo_products: "),
        "{first}"
    );
    let row = first
        .lines()
        .find(|l| l.starts_with("mysql-slow-query ") && l.contains(" pass "))
        .unwrap_or_else(|| panic!("no table row for mysql-slow-query:\n{first}"));
    assert!(row.ends_with("  dominant-span"), "{row}");

    let mut record = RunRecord::load(&history)
        .unwrap()
        .expect("the first run was kept");
    assert_eq!(
        record.scenarios.keys().collect::<Vec<_>>(),
        ["batched", "mysql-slow-query"]
    );
    let slow = record.scenarios.get_mut("mysql-slow-query").unwrap();
    assert!(
        slow.operations
            .contains_key("client mysql-slow-query / client GET / server1 GET /products/{sku}"),
        "{:?}",
        slow.operations.keys().collect::<Vec<_>>()
    );
    assert!(
        slow.operations.keys().any(
            |k| k.ends_with("/ server3 shop.v1.Shop/GetProduct / server3 SELECT demo_products")
        ),
        "{:?}",
        slow.operations.keys().collect::<Vec<_>>()
    );
    // Pretend the slow query used to be ten times faster.
    for durations in slow.operations.values_mut() {
        for d in durations.iter_mut() {
            *d /= 10.0;
        }
    }
    // And batched ten times slower, so that however this machine's load moves it between the
    // two runs (one sample each), it cannot read as slower: faster is not reported either.
    let batched = record.scenarios.get_mut("batched").unwrap();
    for durations in batched.operations.values_mut() {
        for d in durations.iter_mut() {
            *d *= 10.0;
        }
    }
    record.save(&history).unwrap();

    let second = run(&history, true);
    let report: Vec<&str> = second
        .lines()
        .skip_while(|l| !l.contains("slower than in the previous run"))
        .take_while(|l| !l.is_empty() && !l.starts_with("this run's"))
        .collect();
    assert!(!report.is_empty(), "{second}");
    assert!(
        report[0].contains("operation(s) slower than in the previous run, biggest first"),
        "{second}"
    );
    assert!(
        report[1].starts_with("  mysql-slow-query: client mysql-slow-query  p50 "),
        "{second}"
    );
    assert!(
        report
            .iter()
            .any(|l| l.contains("/ server3 SELECT demo_products  p50 ")),
        "{second}"
    );
    assert!(
        report[1..]
            .iter()
            .all(|l| l.starts_with("  mysql-slow-query: ")),
        "only the slowed scenario: {second}"
    );
    assert!(second.contains(&format!(
        "this run's latencies are kept in {}",
        history.display()
    )));
    let _ = std::fs::remove_dir_all(&dir);
}
