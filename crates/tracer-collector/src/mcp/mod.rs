//! An MCP (Model Context Protocol) server on the query port at [`MCP_PATH`], so LLM tools can
//! search traces, read a trace's tree and critical path, get RED metrics and compare two
//! traces.
//!
//! Transport: Streamable HTTP as the MCP specification 2025-06-18 and 2025-11-25 define it
//! (`basic/transports`). One endpoint:
//!
//! - `POST` carries one JSON-RPC 2.0 message. A request is answered with one
//!   `application/json` response; a notification or a response is acknowledged `202 Accepted`
//!   without a body. Batches (arrays), removed in 2025-06-18, get `-32600`.
//! - `initialize` opens a session: the response carries `Mcp-Session-Id`, which every later
//!   request must send (400 without it, 404 when it is unknown or was ended, so the client
//!   initializes again). At most [`MAX_SESSIONS`] sessions are kept; the oldest is dropped.
//! - `DELETE` with the session header ends the session (204); `GET` (a server-to-client event
//!   stream) is not offered: 405, as the specification allows.
//! - `MCP-Protocol-Version`: absent means 2025-03-26 (as the specification says); a value not in
//!   [`PROTOCOL_VERSIONS`] is a 400. `initialize` answers the client's version when supported,
//!   else the newest supported one.
//! - `Origin`: a request from a browser page whose origin is neither a loopback host nor the
//!   host the request was sent to gets 403 (DNS rebinding; the listener's `Host` check in
//!   [`crate::access`] covers the rest). The access token, when set, guards `/mcp` like every
//!   other path of the query port.
//!
//! Methods: `initialize`, `ping`, `tools/list`, `tools/call` (tools in [`tools`]); others get
//! `-32601`, bad parameters `-32602`, an unknown tool `-32602`, and a tool that fails on its
//! input a result with `isError: true` whose text says why. Bodies over [`MAX_BODY_BYTES`] get
//! 413. Sessions hold no state besides their existence, so a session costs a few bytes.
//!
//! The protocol is small and a library server (`rmcp`) would bring its own HTTP stack and
//! session store next to axum's; this module follows the specification's text directly.

pub mod tools;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::query::QueryState;

/// Path of the MCP endpoint on the query port.
pub const MCP_PATH: &str = "/mcp";
/// Protocol versions served, newest first.
pub const PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// Most sessions kept at once; opening one more drops the oldest.
pub const MAX_SESSIONS: usize = 1024;
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Methods served.
const METHODS: [&str; 4] = ["initialize", "ping", "tools/list", "tools/call"];
const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// State of the MCP endpoint: the query state and the open sessions.
#[derive(Debug, Clone)]
pub struct McpState {
    query: QueryState,
    sessions: Arc<Mutex<VecDeque<String>>>,
}

/// The `/mcp` route over the query state.
pub fn router(query: QueryState) -> Router {
    let state = McpState {
        query,
        sessions: Arc::new(Mutex::new(VecDeque::new())),
    };
    Router::new()
        .route(
            MCP_PATH,
            post(handle_post).get(handle_get).delete(handle_delete),
        )
        .with_state(state)
}

fn rpc_error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A transport-level rejection: `status` with a JSON-RPC error of id `null`.
fn reject(status: StatusCode, code: i64, message: impl Into<String>) -> Response {
    json_response(status, &rpc_error(Value::Null, code, message))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Origin` absent, loopback, or naming the host the request went to.
fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some((_, rest)) = origin.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = host_of(authority);
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    if host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
    {
        return true;
    }
    header_str(headers, header::HOST.as_str()).is_some_and(|h| host_of(h) == host)
}

fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split(']').next().unwrap_or(authority);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Checks the headers every POST and DELETE shares; `Some` is the rejection.
fn check_headers(headers: &HeaderMap) -> Option<Response> {
    if !origin_allowed(headers) {
        return Some(reject(
            StatusCode::FORBIDDEN,
            -32000,
            format!(
                "Origin {:?} is not allowed: only loopback origins and the server's own host may \
                 call {MCP_PATH}",
                header_str(headers, header::ORIGIN.as_str()).unwrap_or("?")
            ),
        ));
    }
    if let Some(version) = header_str(headers, VERSION_HEADER)
        && !PROTOCOL_VERSIONS.contains(&version)
    {
        return Some(reject(
            StatusCode::BAD_REQUEST,
            -32600,
            format!(
                "unsupported MCP-Protocol-Version {version:?}; supported: {}",
                PROTOCOL_VERSIONS.join(", ")
            ),
        ));
    }
    None
}

impl McpState {
    fn open_session(&self) -> String {
        use std::fmt::Write;
        // 128 bits from the operating system's random source: a session id cannot be guessed
        // from another one or from the time it was opened.
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No random source (never seen on Linux): a keyed hash of the clock, still unique.
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(crate::query::now_ns());
            bytes[..8].copy_from_slice(&h.finish().to_le_bytes());
        }
        let mut id = String::with_capacity(32);
        for b in bytes {
            let _ = write!(id, "{b:02x}");
        }
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back(id.clone());
        id
    }

    fn has_session(&self, id: &str) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.iter().any(|s| s == id)
    }

    fn close_session(&self, id: &str) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let before = sessions.len();
        sessions.retain(|s| s != id);
        sessions.len() != before
    }
}

async fn handle_get() -> Response {
    let mut response = reject(
        StatusCode::METHOD_NOT_ALLOWED,
        -32000,
        "this server offers no server-to-client event stream; POST JSON-RPC messages instead",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    response
}

async fn handle_delete(State(state): State<McpState>, headers: HeaderMap) -> Response {
    if let Some(rejection) = check_headers(&headers) {
        return rejection;
    }
    match header_str(&headers, SESSION_HEADER) {
        None => reject(
            StatusCode::BAD_REQUEST,
            -32600,
            "DELETE needs the Mcp-Session-Id header of the session to end",
        ),
        Some(id) if state.close_session(id) => StatusCode::NO_CONTENT.into_response(),
        Some(id) => reject(
            StatusCode::NOT_FOUND,
            -32001,
            format!("session {id:?} is unknown or already ended"),
        ),
    }
}

async fn handle_post(State(state): State<McpState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(rejection) = check_headers(&headers) {
        return rejection;
    }
    if body.len() > MAX_BODY_BYTES {
        return reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            -32600,
            format!(
                "request body of {} bytes is over the limit of {MAX_BODY_BYTES}",
                body.len()
            ),
        );
    }
    let message: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &rpc_error(Value::Null, -32700, format!("parse error: {e}")),
            );
        }
    };
    let Value::Object(message) = message else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &rpc_error(
                Value::Null,
                -32600,
                "expected one JSON-RPC message object; batches are not supported (removed in \
                 MCP 2025-06-18)",
            ),
        );
    };
    let id = message.get("id").cloned();
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return json_response(
            StatusCode::BAD_REQUEST,
            &rpc_error(
                id.unwrap_or(Value::Null),
                -32600,
                "\"jsonrpc\" must be \"2.0\"",
            ),
        );
    }
    let method = message.get("method").and_then(Value::as_str);
    if let (Some(other), Some(id)) = (method, &id)
        && !METHODS.contains(&other)
    {
        // Before the session check, so a client probing for a newer protocol (such as
        // `server/discover` of the 2026 revision) learns that this server does not have it.
        return json_response(
            StatusCode::OK,
            &rpc_error(
                id.clone(),
                -32601,
                format!("method {other:?} not found; served: {}", METHODS.join(", ")),
            ),
        );
    }
    let session = header_str(&headers, SESSION_HEADER);
    if method != Some("initialize") {
        match session {
            None => {
                return reject(
                    StatusCode::BAD_REQUEST,
                    -32600,
                    "missing Mcp-Session-Id header: send initialize first and repeat the session \
                     id it returns on every request",
                );
            }
            Some(s) if !state.has_session(s) => {
                return reject(
                    StatusCode::NOT_FOUND,
                    -32001,
                    format!("session {s:?} is unknown or ended; initialize a new one"),
                );
            }
            Some(_) => {}
        }
    }
    let (Some(method), Some(id)) = (method, id) else {
        // A notification (`notifications/initialized`, `notifications/cancelled`, ...) or a
        // response to a request this server never sends.
        return StatusCode::ACCEPTED.into_response();
    };
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    match method {
        "initialize" => {
            let asked = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let version = PROTOCOL_VERSIONS
                .iter()
                .find(|v| **v == asked)
                .unwrap_or(&PROTOCOL_VERSIONS[0]);
            let result = json!({
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": false}},
                "serverInfo": {
                    "name": "tracer-collector",
                    "title": "tracer-collector traces",
                    "version": env!("CARGO_PKG_VERSION"),
                },
                "instructions": "Traces stored by this collector. search_traces finds traces of \
                    a service, get_trace_summary shows one trace's tree and critical path, \
                    get_red_metrics gives request rate, error rate and latency percentiles per \
                    operation, compare_traces shows where two traces differ in time.",
            });
            let session = state.open_session();
            let mut response = json_response(
                StatusCode::OK,
                &json!({"jsonrpc": "2.0", "id": id, "result": result}),
            );
            if let Ok(value) = HeaderValue::from_str(&session) {
                response.headers_mut().insert(SESSION_HEADER, value);
            }
            response
        }
        "ping" => json_response(
            StatusCode::OK,
            &json!({"jsonrpc": "2.0", "id": id, "result": {}}),
        ),
        "tools/list" => json_response(
            StatusCode::OK,
            &json!({"jsonrpc": "2.0", "id": id, "result": {"tools": tools::list()}}),
        ),
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or("");
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            let body = match tools::call(&state.query, name, &args).await {
                Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
                Err(tools::CallError::UnknownTool) => rpc_error(
                    id,
                    -32602,
                    format!("unknown tool {name:?}; tools: {}", tools::NAMES.join(", ")),
                ),
            };
            json_response(StatusCode::OK, &body)
        }
        other => json_response(
            StatusCode::OK,
            &rpc_error(id, -32601, format!("method {other:?} not found")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(origin: &str, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        h
    }

    #[test]
    fn origins_must_be_loopback_or_the_servers_own_host() {
        assert!(origin_allowed(&HeaderMap::new()));
        assert!(origin_allowed(&with_origin("http://localhost:3000", "x:1")));
        assert!(origin_allowed(&with_origin("http://127.0.0.1:9", "x:1")));
        assert!(origin_allowed(&with_origin("http://[::1]:9", "x:1")));
        assert!(origin_allowed(&with_origin(
            "https://traces.example",
            "traces.example:16686"
        )));
        assert!(!origin_allowed(&with_origin(
            "https://evil.example",
            "traces.example:16686"
        )));
        assert!(!origin_allowed(&with_origin("null", "x:1")));
    }
}
