//! The sampling port answers Jaeger clients' strategy polls with a probabilistic strategy, and a
//! poll without exactly one `service` with 400.

mod common;

use common::TestCollector;
use serde_json::json;

#[tokio::test]
async fn jaeger_clients_get_a_probabilistic_strategy_for_any_service() {
    let c = TestCollector::start().await;
    for path in [
        "/sampling?service=orders",
        "/?service=orders",
        "/sampling?service=",
    ] {
        let r = reqwest::get(format!("http://{}{path}", c.sampling))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 1.0}}),
            "{path}"
        );
    }
    for path in [
        "/sampling",
        "/sampling?service=a&service=b",
        "/sampling?svc=a",
    ] {
        let r = reqwest::get(format!("http://{}{path}", c.sampling))
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert!(r.text().await.unwrap().contains("'service'"), "{path}");
    }
    c.stop().await;
}
