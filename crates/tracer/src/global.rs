//! The process-wide tracer used by integrations that were not given one.

use std::sync::RwLock;

use crate::tracer::Tracer;

static GLOBAL: RwLock<Option<Tracer>> = RwLock::new(None);

/// The global tracer: the one installed by [`crate::TracerBuilder::init`], or a no-op tracer
/// (no spans, context still forwarded) before that.
///
/// Taken before `init()`, it forwards context and records nothing until a tracer is installed,
/// and from then on makes its spans with the installed one: a layer or client built before
/// `init()` records once `init()` has run.
pub fn global() -> Tracer {
    installed().unwrap_or_else(Tracer::deferred_global)
}

/// The tracer installed by `init()`, if any.
pub(crate) fn installed() -> Option<Tracer> {
    match GLOBAL.read() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Turns the global tracer on or off at run time (see [`crate::switch`]).
pub fn set_enabled(on: bool) {
    global().set_enabled(on);
}

/// Whether the global tracer is on.
pub fn is_enabled() -> bool {
    global().is_enabled()
}

pub(crate) fn install(tracer: Tracer) {
    opentelemetry::global::set_tracer_provider(tracer.provider().clone());
    opentelemetry::global::set_text_map_propagator(tracer.propagators().clone());
    let mut slot = GLOBAL.write().unwrap_or_else(|p| p.into_inner());
    *slot = Some(tracer);
}

pub(crate) fn reset() {
    let mut slot = GLOBAL.write().unwrap_or_else(|p| p.into_inner());
    *slot = None;
}
