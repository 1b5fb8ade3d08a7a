//! HTTP instrumentation: a tower server layer and a reqwest client middleware.
