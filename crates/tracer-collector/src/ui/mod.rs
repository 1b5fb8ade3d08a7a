//! The web UI: a single page served next to the Jaeger query API on the query port (16686).
//!
//! The page is plain HTML, CSS and JavaScript modules written by hand under
//! `crates/tracer-collector/ui/`. They are embedded with `include_str!`, so `cargo build` alone
//! produces the complete UI and nothing is fetched from a CDN, at build time or at run time.
//! The page reads the same-origin Jaeger API (`/api/services`, `/api/traces`,
//! `/api/dependencies`, ...), so the UI and the API must be served by the same listener:
//! merge [`router`] into the query router.
//!
//! Views are hash routes, so every view has its own URL and back/forward work without any
//! server-side routing: `#/search?service=..`, `#/trace/{id}`, `#/deps`, `#/compare/{a}/{b}`.
//! Jaeger UI's own paths (`/search`, `/trace/{id}`, `/dependencies`) redirect to them, so links
//! written for Jaeger keep working.
//!
//! A trace view can be saved as one self-contained HTML file that opens offline ([`offline`]);
//! traces are downloaded, uploaded (file picker or drag-and-drop) and saved through the
//! endpoints of [`crate::files`].
//!
//! Every response carries a strict Content-Security-Policy (`default-src 'self'`, no inline
//! script or style, no framing) on top of the page's own rule of building the DOM with
//! `textContent`: span data can never run script in the page.
//!
//! ```no_run
//! # async fn demo(query: axum::Router) -> std::io::Result<()> {
//! // `query` is the Jaeger API router; the UI is merged into it and served on one listener.
//! let app = query.merge(tracer_collector::ui::router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:16686").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

pub mod offline;

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};

/// The Content-Security-Policy sent with every UI response: only same-origin scripts, styles,
/// images and API calls; no inline script, no `eval`, no plugins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// An embedded file: its URL path, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the UI. `index.html` is served at `/`; the others under `/ui/`.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/ui/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../ui/style.css"),
    },
    Asset {
        path: "/ui/favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../ui/favicon.svg"),
    },
    Asset {
        path: "/ui/app.js",
        content_type: JS,
        body: include_str!("../../ui/app.js"),
    },
    Asset {
        path: "/ui/api.js",
        content_type: JS,
        body: include_str!("../../ui/api.js"),
    },
    Asset {
        path: "/ui/dom.js",
        content_type: JS,
        body: include_str!("../../ui/dom.js"),
    },
    Asset {
        path: "/ui/format.js",
        content_type: JS,
        body: include_str!("../../ui/format.js"),
    },
    Asset {
        path: "/ui/model.js",
        content_type: JS,
        body: include_str!("../../ui/model.js"),
    },
    Asset {
        path: "/ui/route.js",
        content_type: JS,
        body: include_str!("../../ui/route.js"),
    },
    Asset {
        path: "/ui/vlist.js",
        content_type: JS,
        body: include_str!("../../ui/vlist.js"),
    },
    Asset {
        path: "/ui/search.js",
        content_type: JS,
        body: include_str!("../../ui/search.js"),
    },
    Asset {
        path: "/ui/trace.js",
        content_type: JS,
        body: include_str!("../../ui/trace.js"),
    },
    Asset {
        path: "/ui/findings.js",
        content_type: JS,
        body: include_str!("../../ui/findings.js"),
    },
    Asset {
        path: "/ui/regress.js",
        content_type: JS,
        body: include_str!("../../ui/regress.js"),
    },
    Asset {
        path: "/ui/trace-header.js",
        content_type: JS,
        body: include_str!("../../ui/trace-header.js"),
    },
    Asset {
        path: "/ui/trace-waterfall.js",
        content_type: JS,
        body: include_str!("../../ui/trace-waterfall.js"),
    },
    Asset {
        path: "/ui/trace-detail.js",
        content_type: JS,
        body: include_str!("../../ui/trace-detail.js"),
    },
    Asset {
        path: "/ui/trace-find.js",
        content_type: JS,
        body: include_str!("../../ui/trace-find.js"),
    },
    Asset {
        path: "/ui/deps.js",
        content_type: JS,
        body: include_str!("../../ui/deps.js"),
    },
    Asset {
        path: "/ui/compare.js",
        content_type: JS,
        body: include_str!("../../ui/compare.js"),
    },
    Asset {
        path: "/ui/service.js",
        content_type: JS,
        body: include_str!("../../ui/service.js"),
    },
    Asset {
        path: "/ui/status.js",
        content_type: JS,
        body: include_str!("../../ui/status.js"),
    },
    Asset {
        path: "/ui/upload.js",
        content_type: JS,
        body: include_str!("../../ui/upload.js"),
    },
    // Stands in for api.js in the saved HTML page (see `offline`); served too, unused online.
    Asset {
        path: "/ui/offline-api.js",
        content_type: JS,
        body: include_str!("../../ui/offline-api.js"),
    },
];

const INDEX_HTML: &str = include_str!("../../ui/index.html");

/// Adds the headers every UI response carries.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    secured(
        (
            [
                (header::CONTENT_TYPE, content_type),
                // The assets change with the binary; revalidate rather than serve a stale UI.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
    )
}

async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX_HTML)
}

async fn asset(Path(name): Path<String>) -> Response {
    let path = format!("/ui/{name}");
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => file(a.content_type, a.body),
        None => secured((StatusCode::NOT_FOUND, "not found").into_response()),
    }
}

/// Redirects a Jaeger UI path to the matching hash route, keeping the query string.
fn to_hash(route: &str, query: Option<String>) -> Response {
    let target = match query.filter(|q| !q.is_empty()) {
        Some(q) => format!("/#/{route}?{q}"),
        None => format!("/#/{route}"),
    };
    secured(Redirect::to(&target).into_response())
}

/// Jaeger trace ids are hex; anything else is not redirected (it could smuggle a URL).
fn is_hex(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn jaeger_trace(Path(id): Path<String>) -> Response {
    if is_hex(&id) {
        to_hash(&format!("trace/{id}"), None)
    } else {
        secured((StatusCode::NOT_FOUND, "not found").into_response())
    }
}

/// The UI router: `/` (the page), `/ui/{file}` (its scripts, styles, icon) and redirects from
/// Jaeger UI's paths. Merge it into the query router so the page and the API share an origin.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/ui/{name}", get(asset))
        .route(
            "/favicon.ico",
            get(|| async { file("image/svg+xml", include_str!("../../ui/favicon.svg")) }),
        )
        .route(
            "/search",
            get(|RawQuery(q): RawQuery| async move { to_hash("search", q) }),
        )
        .route("/dependencies", get(|| async { to_hash("deps", None) }))
        .route("/trace/{id}", get(jaeger_trace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_imports_is_served() {
        // Each `import ... from './x.js'` and each `/ui/...` reference must name an embedded file.
        let served: Vec<&str> = ASSETS.iter().map(|a| a.path).collect();
        let sources = ASSETS
            .iter()
            .map(|a| a.body)
            .chain(std::iter::once(INDEX_HTML));
        for source in sources {
            for (i, _) in source.match_indices("from './") {
                let rest = &source[i + "from './".len()..];
                let name = &rest[..rest.find('\'').expect("closing quote")];
                let path = format!("/ui/{name}");
                assert!(
                    served.contains(&path.as_str()),
                    "{path} is imported but not served"
                );
            }
            for (i, _) in source.match_indices("\"/ui/") {
                let rest = &source[i + 1..];
                let path = &rest[..rest.find('"').expect("closing quote")];
                assert!(
                    served.contains(&path),
                    "{path} is referenced but not served"
                );
            }
        }
    }

    #[test]
    fn no_asset_writes_html_from_strings() {
        // The page builds its DOM with createElement/textContent only (see dom.js).
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!a.body.contains(banned), "{} uses {banned}", a.path);
            }
        }
    }

    #[test]
    fn events_are_bound_only_through_dom_on() {
        // One binding style (see `on` in dom.js): no `onclick`-style handlers built into
        // elements, no direct addEventListener calls outside the helper.
        for a in ASSETS
            .iter()
            .filter(|a| a.content_type == JS && a.path != "/ui/dom.js")
        {
            assert!(
                !a.body.contains("addEventListener("),
                "{} binds an event without dom.js's on()",
                a.path
            );
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        assert!(
            !INDEX_HTML.contains("<script>"),
            "inline script in index.html"
        );
        assert!(!INDEX_HTML.contains("<style"), "inline style in index.html");
        assert!(
            !INDEX_HTML.contains(" style="),
            "style attribute in index.html"
        );
        assert!(!INDEX_HTML.contains(" on"), "inline handler in index.html");
    }
}
