//! The run-time on/off switch.
//!
//! Every [`Tracer`](crate::Tracer) owns a [`Switch`]. While it is off, no integration creates
//! spans, yet the incoming trace context is still extracted and injected into outgoing calls
//! unchanged, so a hop that is switched off never splits a trace: the services before and after
//! it still share one trace id, and the downstream span's parent is the upstream client span.
//!
//! Checking the switch is one relaxed atomic load, cheap enough for every instrumentation point.
//!
//! ```
//! let switch = tracer::Switch::new(true);
//! assert!(switch.is_on());
//! switch.set(false);
//! assert!(!switch.is_on());
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared on/off flag for one tracer; clones refer to the same flag.
#[derive(Clone)]
pub struct Switch {
    on: Arc<AtomicBool>,
}

impl Switch {
    /// Creates a switch in the given position.
    pub fn new(on: bool) -> Self {
        Self {
            on: Arc::new(AtomicBool::new(on)),
        }
    }

    /// Whether tracing is on. One relaxed atomic load.
    #[inline(always)]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Turns tracing on (`true`) or off (`false`) for every holder of this switch.
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }
}

impl Default for Switch {
    fn default() -> Self {
        Self::new(true)
    }
}

impl fmt::Debug for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Switch").field("on", &self.is_on()).finish()
    }
}
