//! The collector itself unreachable while requests go on.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{Play, Played, Scenario, one_get};
use crate::runner::driver::Driver;

/// `collector-down`.
pub static COLLECTOR_DOWN: Scenario = Scenario {
    name: "collector-down",
    summary: "the collector is unreachable for one request, then reachable again",
    shows: "the request succeeds, its spans are lost and counted; the next request's trace arrives whole",
    expected: r#"
        client internal collector-down
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products/{sku} http.response.status_code=200
                  server2 client shop.v1.Shop/GetProduct rpc.response.status_code=OK
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK
                      server3 client GET
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client SETEX
    "#,
    injected_by: "`src/runner/cluster.rs` `Cluster::collector_reachable` (the proxy in front of the collector refuses)",
    concurrent: false,
    play: Play::Custom {
        how: "the proxy between the services and the collector refuses connections during `GET /products/32`, then passes again for `GET /products/33`",
        play: collector_down,
    },
    check: None,
};

fn collector_down<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let lost =
            |v: &Value| v["failed"].as_u64().unwrap_or(0) + v["dropped"].as_u64().unwrap_or(0);
        let servers = [
            &d.cluster.server1,
            &d.cluster.server2,
            &d.cluster.server3_admin,
        ];
        let mut before = Vec::new();
        for base in servers {
            before.push(lost(&d.stats(base).await?));
        }
        d.cluster.collector_reachable(false).await?;
        let mut down_answer = None;
        let lost_trace = d
            .traced(&format!("{} (lost)", s.name), &[], || async {
                down_answer = Some(d.get("/products/32").await);
                Ok(())
            })
            .await;
        // Wait until every service tried to export and counted its loss.
        let mut after = before.clone();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            for (i, base) in servers.iter().enumerate() {
                after[i] = lost(&d.stats(base).await?);
            }
            if after.iter().zip(&before).all(|(a, b)| a > b) {
                break;
            }
        }
        d.cluster.collector_reachable(true).await?;
        let mut played = one_get(d, s.name, &[], "/products/33", 200).await?;
        if let Some(a) = down_answer {
            played.expect("GET /products/32 while the collector is down", &a, 200);
        }
        for (i, name) in ["server1", "server2", "server3"].iter().enumerate() {
            if after[i] <= before[i] {
                played.problems.push(format!(
                    "{name} counted no lost span while the collector was down"
                ));
            }
            played.notes.push(format!(
                "{name}: {} spans lost and counted while the collector was down",
                after[i] - before[i]
            ));
        }
        if let Ok(id) = lost_trace {
            let collected =
                crate::runner::collect::fetch(&d.plain, &d.cluster.query_url, &id).await?;
            let kept = collected.map_or(0, |t| t.spans.len());
            if kept != 0 {
                played.problems.push(format!(
                    "{kept} span(s) of the request made while the collector was down arrived anyway"
                ));
            }
        }
        Ok(played)
    })
}
