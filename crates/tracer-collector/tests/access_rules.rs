//! Who may talk to the collector: on loopback listeners, requests addressed to another host
//! get 403 (DNS rebinding); with an access token, every port asks for it, and a browser signs
//! in once (login form or `?token=`) and then carries a cookie.

mod common;

use common::{TestCollector, now_ns, request, simple_span};
use prost::Message;
use tracer_collector::Collector;
use tracer_collector::access::{Access, TOKEN_COOKIE};
use tracer_collector::config::Config;
use tracer_collector::ingest::grpc::EXPORT_PATH;

const TOKEN: &str = "s3cret-token";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn body(trace: u128) -> Vec<u8> {
    request("svc", vec![simple_span(trace, 1, 0, "op", now_ns(), 0, 10)]).encode_to_vec()
}

#[tokio::test]
async fn a_request_naming_another_host_gets_403_on_every_loopback_port() {
    let collector = TestCollector::start_with(Collector::builder().config(Config {
        allowed_hosts: vec!["collector.internal".into()],
        ..Config::default()
    }))
    .await;
    let client = reqwest::Client::new();
    for host in ["evil.example", "evil.example:16686", "10.1.2.3"] {
        let response = client
            .get(collector.query_url("/api/services"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{host}");
        let text = response.text().await.unwrap();
        assert!(text.contains("--allowed-host"), "{text}");
        let response = client
            .post(collector.traces_url())
            .header("host", host)
            .header("content-type", "application/x-protobuf")
            .body(body(1))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{host}");
    }
    assert!(collector.store.trace(1).is_none());
    for host in [
        "localhost:16686",
        "127.0.0.1",
        "[::1]:16686",
        "collector.internal",
    ] {
        let response = client
            .get(collector.query_url("/api/services"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
    // The web UI too.
    let response = client
        .get(collector.query_url("/"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

async fn with_token() -> TestCollector {
    TestCollector::start_with(Collector::builder().access(Access {
        allowed_hosts: Vec::new(),
        token: Some(TOKEN.into()),
    }))
    .await
}

#[tokio::test]
async fn with_a_token_the_api_asks_for_it_and_accepts_a_bearer() {
    let collector = with_token().await;
    let client = reqwest::Client::new();
    let response = client
        .get(collector.query_url("/api/services"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Authorization: Bearer")
    );
    let response = client
        .get(collector.query_url("/api/services"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = client
        .get(collector.query_url("/api/services"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn with_a_token_a_browser_signs_in_by_form_or_query_and_then_uses_the_cookie() {
    let collector = with_token().await;
    let client = no_redirects();
    // No cookie: the login form.
    let response = client
        .get(collector.query_url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<form") && page.contains("name=\"token\""),
        "{page}"
    );
    // A wrong token in the form: the form again, with a note.
    let response = client
        .post(collector.query_url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.text().await.unwrap().contains("not the one"));
    // The right one: a cookie and a redirect.
    let response = client
        .post(collector.query_url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with(&format!("{TOKEN_COOKIE}=")), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap().to_owned();
    let response = client
        .get(collector.query_url("/api/services"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // `?token=` once: the cookie, and the token dropped from the address.
    let response = client
        .get(collector.query_url(&format!("/search?service=a&token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/search?service=a");
    assert!(response.headers().contains_key("set-cookie"));
}

#[tokio::test]
async fn with_a_token_ingest_asks_for_a_bearer_over_http_and_grpc() {
    let collector = with_token().await;
    let client = reqwest::Client::new();
    let response = client
        .post(collector.traces_url())
        .header("content-type", "application/x-protobuf")
        .body(body(7))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = client
        .post(collector.traces_url())
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-protobuf")
        .body(body(7))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(collector.store.trace(7).is_some());

    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let mut frame = vec![0u8];
    let message = body(8);
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    let response = h2
        .post(format!("http://{}{EXPORT_PATH}", collector.grpc))
        .header("content-type", "application/grpc")
        .body(frame.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["grpc-status"], "16", "UNAUTHENTICATED");
    assert!(collector.store.trace(8).is_none());
    let response = h2
        .post(format!("http://{}{EXPORT_PATH}", collector.grpc))
        .bearer_auth(TOKEN)
        .header("content-type", "application/grpc")
        .body(frame)
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("grpc-status").is_none());
    let _ = response.bytes().await;
    assert!(collector.store.trace(8).is_some());
}

#[test]
fn the_binary_refuses_to_serve_beyond_loopback_without_a_token() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
        .args(["--bind-address", "0.0.0.0"])
        .env_remove("TRACER_COLLECTOR_AUTH_TOKEN")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--auth-token") && stderr.contains("--no-auth"),
        "{stderr}"
    );
}
