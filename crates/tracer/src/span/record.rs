//! [`SpanRecord`]: a finished span as tracer keeps it, and its conversion to the SDK's
//! [`SpanData`] for exporters and span processors.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLimits, SpanLinks};

/// One span's data, written once when the span starts (ids, parent, name, kind, start time,
/// the caller's attributes) and completed while it lives and when it ends (end time).
///
/// It lives on the heap from the span's start to its export, so handing it to the export
/// queue moves one pointer, not the record.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SpanRecord {
    pub(crate) context: SpanContext,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_is_remote: bool,
    pub(crate) kind: SpanKind,
    pub(crate) name: Cow<'static, str>,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) dropped_attributes: u32,
    pub(crate) events: Vec<Event>,
    pub(crate) dropped_events: u32,
    pub(crate) links: Vec<Link>,
    pub(crate) dropped_links: u32,
    pub(crate) status: Status,
}

impl SpanRecord {
    /// Adds `attribute` unless the span already holds the limit's number of attributes, in
    /// which case it is counted as dropped (the SDK's rule: the first ones are kept).
    #[inline]
    pub(crate) fn set_attribute(&mut self, attribute: KeyValue, limits: &SpanLimits) {
        if self.attributes.len() < limits.max_attributes_per_span as usize {
            self.attributes.push(attribute);
        } else {
            self.dropped_attributes += 1;
        }
    }

    /// Adds `attributes` as [`SpanRecord::set_attribute`] does, growing the vector once, with
    /// room for a few more (what an integration adds when the span ends: a status code, an
    /// error type).
    pub(crate) fn set_attributes(
        &mut self,
        attributes: impl IntoIterator<Item = KeyValue>,
        limits: &SpanLimits,
    ) {
        const ROOM_AT_END: usize = 2;
        let attributes = attributes.into_iter();
        self.attributes
            .reserve(attributes.size_hint().0.saturating_add(ROOM_AT_END));
        for attribute in attributes {
            self.set_attribute(attribute, limits);
        }
    }

    /// Adds an event, truncating its attributes to the limit, or counts it as dropped.
    pub(crate) fn add_event(
        &mut self,
        name: Cow<'static, str>,
        timestamp: SystemTime,
        mut attributes: Vec<KeyValue>,
        limits: &SpanLimits,
    ) {
        if self.events.len() < limits.max_events_per_span as usize {
            let limit = limits.max_attributes_per_event as usize;
            let dropped = attributes.len().saturating_sub(limit);
            attributes.truncate(limit);
            self.events
                .push(Event::new(name, timestamp, attributes, dropped as u32));
        } else {
            self.dropped_events += 1;
        }
    }

    /// Adds a link, truncating its attributes to the limit, or counts it as dropped.
    pub(crate) fn add_link(
        &mut self,
        context: SpanContext,
        mut attributes: Vec<KeyValue>,
        limits: &SpanLimits,
    ) {
        if self.links.len() < limits.max_links_per_span as usize {
            let limit = limits.max_attributes_per_link as usize;
            let dropped = attributes.len().saturating_sub(limit);
            attributes.truncate(limit);
            self.links
                .push(Link::new(context, attributes, dropped as u32));
        } else {
            self.dropped_links += 1;
        }
    }

    /// Sets the status if it ranks above the current one (Ok > Error > Unset, as the SDK does).
    #[inline]
    pub(crate) fn set_status(&mut self, status: Status) {
        if status > self.status {
            self.status = status;
        }
    }

    /// The record as the SDK's exporters and processors take it.
    pub(crate) fn into_span_data(mut self, scope: &InstrumentationScope) -> SpanData {
        self.take_span_data(scope)
    }

    /// The record's span as the SDK's exporters take it, moved out: what is left is an empty
    /// shell, for [`RecordPool`](super::pool::RecordPool) to reuse.
    pub(crate) fn take_span_data(&mut self, scope: &InstrumentationScope) -> SpanData {
        let mut events = SpanEvents::default();
        events.events = std::mem::take(&mut self.events);
        events.dropped_count = self.dropped_events;
        let mut links = SpanLinks::default();
        links.links = std::mem::take(&mut self.links);
        links.dropped_count = self.dropped_links;
        // The record keeps a vector of the same (small) capacity, made here on the export
        // thread, so the next span written into it allocates nothing where it starts.
        let kept = self.attributes.capacity().min(super::pool::KEPT_CAPACITY);
        SpanData {
            span_context: std::mem::replace(&mut self.context, SpanContext::empty_context()),
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind.clone(),
            name: std::mem::take(&mut self.name),
            start_time: self.start,
            end_time: self.end,
            attributes: std::mem::replace(&mut self.attributes, Vec::with_capacity(kept)),
            dropped_attributes_count: self.dropped_attributes,
            events,
            links,
            status: std::mem::take(&mut self.status),
            instrumentation_scope: scope.clone(),
        }
    }
}
