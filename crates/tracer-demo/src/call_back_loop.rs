//! The call-back loop: server1 -> server2 -> server3 -> server2 -> server1 -> ... until a hop
//! reaches the depth limit and answers with an error instead of calling on.
//!
//! Each hop passes `depth + 1` to the next. The limit is the service's configured maximum,
//! lowered by the directive's `fault.loop-depth`. The hop at the limit answers 508 Loop Detected
//! (gRPC `RESOURCE_EXHAUSTED` on server3), and every hop above it relays the failure, so the
//! trace shows the services repeated down to one clear error span.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::faults::directive::Directive;

/// Default depth limit of the call-back loop.
pub const DEFAULT_MAX_DEPTH: u32 = 10;

/// Query parameters of the `/loop` routes.
#[derive(Debug, Deserialize)]
pub struct LoopParams {
    /// This hop's depth (the first hop is 1).
    #[serde(default)]
    pub depth: u32,
    /// Which service called (`server1` or `server3`), for server2 to know where to go next.
    #[serde(default)]
    pub from: Option<String>,
}

/// The depth at which the loop stops for this request.
pub fn limit(directive: &Directive, max: u32) -> u32 {
    directive.loop_depth.map_or(max, |d| d.min(max))
}

/// The message of the hop that stops the loop.
pub fn stop_message(depth: u32, limit: u32) -> String {
    format!("call-back loop stopped at depth {depth} (limit {limit})")
}

/// `Err(508 reply)` when the loop must stop at `depth`.
#[allow(clippy::result_large_err)]
pub fn check(directive: &Directive, depth: u32, max: u32) -> Result<(), Response> {
    let limit = limit(directive, max);
    if depth >= limit {
        return Err(crate::http_forwarding::error(
            StatusCode::LOOP_DETECTED,
            stop_message(depth, limit),
        ));
    }
    Ok(())
}
