//! Test support that users can use too: capture finished spans in memory, render a trace as a
//! canonical text tree, and compare it with the tree you expect.
//!
//! Each service under test gets its own tracer from one [`SpanCapture`]; the capture records
//! every finished span synchronously, tagged with its service name, so a test can run several
//! services in one process and assert on the whole trace.
//!
//! ```
//! use opentelemetry::trace::{SpanKind, TraceContextExt};
//! use opentelemetry::Context;
//! use tracer::testing::{assert_tree, SpanCapture, TreeFormat};
//!
//! let capture = SpanCapture::new();
//! let frontend = capture.tracer("frontend");
//! let backend = capture.tracer("backend");
//!
//! let root = frontend.span("GET /cart", SpanKind::Server, vec![], &Context::new()).unwrap();
//! let cx = Context::new().with_span(root);
//! let child = backend.span("SELECT carts", SpanKind::Client, vec![], &cx).unwrap();
//! drop(child);
//! cx.span().end();
//!
//! assert_tree(
//!     &capture.render(&TreeFormat::new()),
//!     "
//!     frontend server GET /cart
//!       backend client SELECT carts
//!     ",
//! );
//! ```

mod capture;
mod tree;

pub use capture::{CapturedSpan, SpanCapture};
pub use tree::{TreeFormat, TreeSpan, assert_tree, tree_diff};
