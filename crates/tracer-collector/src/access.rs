//! Who may talk to the collector: the `Host` check against DNS rebinding, and the access token.
//!
//! **Host check.** A collector bound to loopback is reachable from any web page the user opens:
//! a page on `evil.example` whose name is re-pointed to 127.0.0.1 (DNS rebinding) could read
//! traces with the browser's help. Browsers always send the name they think they talk to, so
//! on a listener bound to a loopback address a request whose `Host` (or HTTP/2 `:authority`)
//! is not a loopback name (`localhost`, `*.localhost`), a loopback address (`127.0.0.0/8`,
//! `::1`) or one of the configured [`Access::allowed_hosts`] gets 403. Requests without any
//! host (HTTP/1.0 tools) pass: no browser sends those.
//!
//! **Access token.** With a token set, every request needs it: `Authorization: Bearer TOKEN`
//! (API clients, OTLP exporters' header settings, gRPC metadata `authorization`), or the
//! cookie a browser gets by opening any page once with `?token=TOKEN` or by submitting the login
//! form that a browser without the cookie is shown. Tokens are compared in constant time. The
//! binary requires a token when any port binds beyond loopback, unless explicitly waived.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

/// Name of the cookie holding the access token in a browser.
pub const TOKEN_COOKIE: &str = "tracer_collector_token";

/// Path the login form posts to.
pub const LOGIN_PATH: &str = "/login";

/// Access rules of the collector's listeners.
#[derive(Clone, Default)]
pub struct Access {
    /// Host names (without port) accepted besides loopback names and addresses.
    pub allowed_hosts: Vec<String>,
    /// The access token; `None` lets every client in.
    pub token: Option<Arc<str>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What kind of listener a request arrived on, which decides how a refusal is worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The query API and web UI (browsers get the login form).
    Query,
    /// OTLP/HTTP and other HTTP ingest.
    HttpIngest,
    /// gRPC ingest (refusals are gRPC statuses).
    Grpc,
}

/// The rules applied to one listener.
#[derive(Debug, Clone)]
pub(crate) struct ListenerAccess {
    pub(crate) access: Access,
    /// Whether the listener is bound to a loopback address (the Host check applies).
    pub(crate) loopback: bool,
    pub(crate) audience: Audience,
}

/// Whether `host` (a `Host` header value or an authority, port allowed) names this machine's
/// loopback or one of `allowed`.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((addr, _)) => addr,
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    allowed
        .iter()
        .any(|a| a.trim_end_matches('.').eq_ignore_ascii_case(&name))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request presents: bearer header, cookie, or `token` query parameter.
fn presented<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Vec<String> {
    let mut out = Vec::new();
    for value in headers.get_all(header::AUTHORIZATION) {
        if let Ok(v) = value.to_str() {
            let v = v.trim();
            if let Some(t) = v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
            {
                out.push(t.trim().to_owned());
            }
        }
    }
    for value in headers.get_all(header::COOKIE) {
        if let Ok(v) = value.to_str() {
            for pair in v.split(';') {
                if let Some((k, t)) = pair.trim().split_once('=')
                    && k == TOKEN_COOKIE
                {
                    out.push(
                        percent_encoding::percent_decode_str(t)
                            .decode_utf8_lossy()
                            .into(),
                    );
                }
            }
        }
    }
    if let Some(q) = query {
        out.extend(
            crate::query::params::QueryParams::parse(Some(q))
                .get("token")
                .map(str::to_owned),
        );
    }
    out
}

fn grpc_status(code: tonic::Code, message: String) -> Response {
    tonic::Status::new(code, message)
        .into_http::<Body>()
        .into_response()
}

fn refuse(audience: Audience, status: StatusCode, message: String) -> Response {
    match audience {
        Audience::Grpc => grpc_status(
            if status == StatusCode::UNAUTHORIZED {
                tonic::Code::Unauthenticated
            } else {
                tonic::Code::PermissionDenied
            },
            message,
        ),
        _ => {
            let body = serde_json::json!({
                "data": null, "total": 0, "limit": 0, "offset": 0,
                "errors": [{"code": status.as_u16(), "msg": message}],
            });
            (status, axum::Json(body)).into_response()
        }
    }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn login_page(failed: bool) -> Response {
    let note = if failed {
        "<p class=\"error\">That token is not the one this collector expects.</p>"
    } else {
        ""
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tracer-collector: \
         sign in</title><style>body{{font:16px system-ui,sans-serif;margin:4em auto;max-width:26em}}\
         input{{font:inherit;width:100%;margin:.5em 0;padding:.4em}}.error{{color:#b00}}</style>\
         </head><body><h1>tracer-collector</h1><p>This collector asks for its access token \
         (<code>--auth-token</code> / <code>TRACER_COLLECTOR_AUTH_TOKEN</code>).</p>{note}\
         <form method=\"post\" action=\"{LOGIN_PATH}\"><label>Access token <input type=\"password\" \
         name=\"token\" autocomplete=\"current-password\" autofocus></label><button>Sign in</button>\
         </form></body></html>"
    );
    let mut response = (StatusCode::UNAUTHORIZED, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn with_cookie(mut response: Response, token: &str) -> Response {
    let encoded = percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC);
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{TOKEN_COOKIE}={encoded}; Path=/; HttpOnly; SameSite=Strict"
    )) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The URL without its `token` parameter, for the redirect after a `?token=` sign-in.
fn without_token(request: &Request) -> String {
    let path = request.uri().path();
    let rest: Vec<&str> = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("token=") && *p != "token")
        .collect();
    if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    }
}

/// Largest login form body read.
const LOGIN_FORM_LIMIT: usize = 4096;

/// The middleware: Host check, then token check (with the browser sign-in flows on the query
/// listener).
pub(crate) async fn check(
    State(rules): State<Arc<ListenerAccess>>,
    request: Request,
    next: Next,
) -> Response {
    let audience = rules.audience;
    if rules.loopback {
        let host = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| {
                request
                    .headers()
                    .get(header::HOST)
                    .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            });
        if let Some(host) = host
            && !host_allowed(&host, &rules.access.allowed_hosts)
        {
            return refuse(
                audience,
                StatusCode::FORBIDDEN,
                format!(
                    "host {host:?} is not allowed: this collector listens on loopback and \
                     answers only requests addressed to localhost or a loopback address \
                     (add names with --allowed-host)"
                ),
            );
        }
    }
    let Some(token) = rules.access.token.clone() else {
        return next.run(request).await;
    };
    let matches = |t: &str| constant_time_eq(t.as_bytes(), token.as_bytes());
    if audience == Audience::Query
        && request.method() == Method::POST
        && request.uri().path() == LOGIN_PATH
    {
        let body = axum::body::to_bytes(request.into_body(), LOGIN_FORM_LIMIT)
            .await
            .unwrap_or_default();
        let given = crate::query::params::QueryParams::parse(Some(&String::from_utf8_lossy(&body)))
            .get("token")
            .map(str::to_owned)
            .unwrap_or_default();
        return if matches(&given) {
            with_cookie(redirect("/"), &given)
        } else {
            login_page(true)
        };
    }
    let query = request.uri().query().map(str::to_owned);
    let presented = presented(request.headers(), query.as_deref());
    if presented.iter().any(|t| matches(t)) {
        let via_query = query.as_deref().is_some_and(|q| {
            crate::query::params::QueryParams::parse(Some(q))
                .get("token")
                .is_some_and(matches)
        });
        if audience == Audience::Query && via_query && request.method() == Method::GET {
            // Set the cookie and drop the token from the address bar.
            let target = without_token(&request);
            return with_cookie(redirect(&target), &token);
        }
        return next.run(request).await;
    }
    if audience == Audience::Query && wants_html(request.headers()) {
        return login_page(!presented.is_empty());
    }
    refuse(
        audience,
        StatusCode::UNAUTHORIZED,
        if presented.is_empty() {
            "an access token is required: send Authorization: Bearer <token>".to_owned()
        } else {
            "the access token is wrong".to_owned()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_are_allowed_hosts() {
        for host in [
            "localhost",
            "localhost:16686",
            "LOCALHOST.",
            "ui.localhost:80",
            "127.0.0.1",
            "127.0.0.1:4318",
            "127.9.8.7:1",
            "[::1]:16686",
            "[::1]",
            "::1",
        ] {
            assert!(host_allowed(host, &[]), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:16686",
            "localhost.evil.example",
            "10.0.0.1:16686",
            "[2001:db8::1]:80",
            "127.0.0.1.nip.io",
            "",
            "[::1",
        ] {
            assert!(!host_allowed(host, &[]), "{host}");
        }
        assert!(host_allowed(
            "collector.internal:4317",
            &["collector.internal".to_owned()]
        ));
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
