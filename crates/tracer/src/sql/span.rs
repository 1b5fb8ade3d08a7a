//! The spans: one per query, one per wait for a pooled connection.

use crate::semconv::{
    DB_COLLECTION_NAME, DB_OPERATION_NAME, DB_QUERY_TEXT, DB_RESPONSE_RETURNED_ROWS,
    DB_RESPONSE_STATUS_CODE, ERROR_TYPE, SERVER_ADDRESS, SERVER_PORT, TRACER_SQL_ROWS_AFFECTED,
};
pub(super) use crate::semconv::{DB_NAMESPACE, DB_SYSTEM_NAME};
use std::borrow::Cow;
use std::io;

use crate::Span;
use crate::span::Fill;
use opentelemetry::trace::{Span as _, SpanKind, Status};
use opentelemetry::{Context, KeyValue};
use sqlx::pool::PoolConnection;

use super::{Dialect, Shared};

/// The span of one query, counting what comes back.
#[derive(Debug)]
pub(super) struct QuerySpan {
    span: Span,
    rows: u64,
    affected: Option<u64>,
}

impl QuerySpan {
    /// Starts a CLIENT span for `sql` under `parent`, or `None` while switched off or when the
    /// span would not be recorded (a query is a leaf: no context goes on from it, so no span id
    /// is needed for an unsampled one, and its statement is then never sanitized).
    pub(super) fn start(shared: &Shared, sql: &str, parent: &Context) -> Option<Self> {
        if !shared.tracer.records_leaf(parent) {
            return None;
        }
        let statement = shared.statements.get(sql, shared.flavor);
        let name = statement
            .name
            .clone()
            .unwrap_or(Cow::Borrowed(shared.system));
        let attributes = Fill(|attributes: &mut Vec<KeyValue>| {
            attributes.reserve(8);
            attributes.push(KeyValue::new(DB_SYSTEM_NAME, shared.system));
            if let Some(namespace) = &shared.namespace {
                attributes.push(KeyValue::new(DB_NAMESPACE, namespace.clone()));
            }
            if let Some(operation) = &statement.operation {
                attributes.push(KeyValue::new(DB_OPERATION_NAME, operation.clone()));
            }
            if let Some(collection) = &statement.collection {
                attributes.push(KeyValue::new(DB_COLLECTION_NAME, collection.clone()));
            }
            if shared.query_text {
                attributes.push(KeyValue::new(DB_QUERY_TEXT, statement.text.clone()));
            }
            server_attributes(shared, attributes);
        });
        let span = shared
            .tracer
            .span(name, SpanKind::Client, attributes, parent)?;
        Some(Self {
            span,
            rows: 0,
            affected: None,
        })
    }

    /// A row came back.
    pub(super) fn row(&mut self) {
        self.rows += 1;
    }

    /// A statement finished, changing `affected` rows.
    pub(super) fn done(&mut self, affected: u64) {
        *self.affected.get_or_insert(0) += affected;
    }

    /// The query failed.
    pub(super) fn fail<DB: Dialect>(&mut self, error: &sqlx::Error) {
        record::<DB>(&mut self.span, error);
    }

    /// Records the counts and ends the span.
    pub(super) fn finish(mut self) {
        self.span
            .set_attribute(KeyValue::new(DB_RESPONSE_RETURNED_ROWS, self.rows as i64));
        if let (0, Some(affected)) = (self.rows, self.affected) {
            self.span
                .set_attribute(KeyValue::new(TRACER_SQL_ROWS_AFFECTED, affected as i64));
        }
        self.span.end();
    }
}

fn server_attributes(shared: &Shared, attributes: &mut Vec<KeyValue>) {
    if let Some(address) = &shared.address {
        attributes.push(KeyValue::new(SERVER_ADDRESS, address.clone()));
    }
    if let Some(port) = shared.port {
        attributes.push(KeyValue::new(SERVER_PORT, port));
    }
}

/// Takes a connection from `pool`, in a `pool.acquire` span under `parent` while switched on.
pub(super) async fn acquire<DB: Dialect>(
    pool: &sqlx::Pool<DB>,
    shared: &Shared,
    parent: &Context,
) -> Result<PoolConnection<DB>, sqlx::Error> {
    let span = if shared.tracer.records_leaf(parent) {
        let attributes = Fill(|attributes: &mut Vec<KeyValue>| {
            attributes.reserve(4);
            attributes.push(KeyValue::new(DB_SYSTEM_NAME, shared.system));
            if let Some(namespace) = &shared.namespace {
                attributes.push(KeyValue::new(DB_NAMESPACE, namespace.clone()));
            }
            server_attributes(shared, attributes);
        });
        shared
            .tracer
            .span("pool.acquire", SpanKind::Internal, attributes, parent)
    } else {
        None
    };
    let result = pool.acquire().await;
    if let Some(mut span) = span {
        if let Err(error) = &result {
            record::<DB>(&mut span, error);
        }
        span.end();
    }
    result
}

/// `error.type` and `db.response.status_code` of a sqlx error.
pub(super) fn classify<DB: Dialect>(error: &sqlx::Error) -> (Cow<'static, str>, Option<String>) {
    let name = match error {
        sqlx::Error::Database(db) => {
            return match DB::status_code(db.as_ref()) {
                Some(code) => (Cow::Owned(code.clone()), Some(code)),
                None => (Cow::Borrowed("database"), None),
            };
        }
        sqlx::Error::Io(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused => "connection_refused",
            io::ErrorKind::TimedOut => "timeout",
            _ => "io",
        },
        sqlx::Error::PoolTimedOut => "pool_timed_out",
        sqlx::Error::PoolClosed => "pool_closed",
        sqlx::Error::Tls(_) => "tls",
        sqlx::Error::Protocol(_) => "protocol",
        sqlx::Error::Configuration(_) => "configuration",
        sqlx::Error::Encode(_) => "encode",
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => "decode",
        sqlx::Error::RowNotFound => "row_not_found",
        sqlx::Error::WorkerCrashed => "worker_crashed",
        _ => "_OTHER",
    };
    (Cow::Borrowed(name), None)
}

/// Marks `span` failed. The description is the error class only: database messages quote
/// values.
pub(super) fn record<DB: Dialect>(span: &mut Span, error: &sqlx::Error) {
    let (error_type, status_code) = classify::<DB>(error);
    if let Some(code) = status_code {
        span.set_attribute(KeyValue::new(DB_RESPONSE_STATUS_CODE, code));
    }
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
    span.set_status(Status::error(error_type));
}
