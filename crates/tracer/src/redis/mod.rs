//! Redis instrumentation for redis-rs (feature `redis`).
//!
//! redis-rs sends every async command through the [`redis::aio::ConnectionLike`] trait:
//! `req_packed_command` for one command, `req_packed_commands` for a pipeline or a `MULTI`
//! transaction. [`InstrumentedConnection`] wraps any connection implementing that trait
//! ([`redis::aio::MultiplexedConnection`], [`redis::aio::ConnectionManager`], your own) and
//! implements it again, so the typed command API (`AsyncCommands`, `redis::cmd(..).query_async`,
//! `redis::pipe()`) works unchanged and every command becomes a span:
//!
//! - one CLIENT span per command, named after it (`GET`, `HSET`), child of
//!   [`Context::current`];
//! - one span per pipeline, named `PIPELINE` (or `MULTI` for a transaction), with
//!   `db.operation.batch.size` and the command names in `tracer.redis.commands`; a pipeline of
//!   one command is reported as that command;
//! - attributes `db.system.name=redis`, `db.namespace` (the database index), `db.operation.name`,
//!   `server.address`, `server.port`;
//! - a nil reply is a result, not an error; a failure sets `error.type` (`connection_refused`,
//!   `timeout`, `io`, or the Redis error prefix such as `WRONGTYPE`) and, for errors the server
//!   sent, `db.response.status_code` (the prefix).
//!
//! `db.query.text` is off by default. When switched on it holds the command and its keys with
//! every other argument replaced by `?` (`SET user:1 ?`): values are never recorded, and the
//! arguments of `AUTH`, `HELLO`, `CLIENT`, `CONFIG`, `ACL` and `MIGRATE` not even as placeholders.
//!
//! While the tracer is switched off, commands go straight to the wrapped connection: no span, no
//! allocation, one atomic load.
//!
//! ```no_run
//! use redis::AsyncCommands;
//! use tracer::redis::InstrumentedConnection;
//!
//! # async fn run() -> redis::RedisResult<()> {
//! let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
//! let conn = client.get_multiplexed_async_connection().await?;
//! // Spans go to `tracer::global()`; server address, port and database come from the client.
//! let mut conn = InstrumentedConnection::new(conn, &client);
//! let _: () = conn.set("greeting", "hello").await?; // span `SET`
//! let hit: Option<String> = conn.get("greeting").await?; // span `GET`
//! # Ok(()) }
//! ```
//!
//! A connection manager (reconnects on its own), a tracer of its own and `db.query.text`:
//!
//! ```no_run
//! use redis::aio::ConnectionManager;
//! use tracer::redis::InstrumentedConnection;
//!
//! # async fn run(tracer: tracer::Tracer) -> redis::RedisResult<()> {
//! let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
//! let manager = ConnectionManager::new(client.clone()).await?;
//! let mut conn = InstrumentedConnection::new(manager, &client)
//!     .with_tracer(tracer)
//!     .query_text(true);
//! let (a, b): (i64, i64) = redis::pipe()
//!     .atomic()
//!     .incr("hits", 1)
//!     .incr("visits", 1)
//!     .query_async(&mut conn) // span `MULTI`, db.query.text `MULTI; INCRBY hits ?; ...`
//!     .await?;
//! # Ok(()) }
//! ```

mod command;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::{Span as _, SpanKind, Status};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value as AttributeValue};
use redis::aio::ConnectionLike;
use redis::{Cmd, ConnectionAddr, ErrorKind, Pipeline, RedisError, RedisFuture, Value};

use crate::Tracer;
use crate::semconv::{
    DB_NAMESPACE, DB_OPERATION_BATCH_SIZE, DB_OPERATION_NAME, DB_QUERY_TEXT,
    DB_RESPONSE_STATUS_CODE, DB_SYSTEM_NAME, ERROR_TYPE, SERVER_ADDRESS, SERVER_PORT,
    TRACER_REDIS_COMMANDS,
};
use crate::span::Fill;
use command::Command;

/// A redis-rs async connection that records a span for every command it sends.
///
/// Wraps any `C:` [`ConnectionLike`] (see the [module docs](self)). Cloning clones the wrapped
/// connection and shares the settings.
#[derive(Clone)]
pub struct InstrumentedConnection<C> {
    inner: C,
    settings: Arc<Settings>,
}

#[derive(Clone, Debug)]
struct Settings {
    tracer: Tracer,
    server_address: Option<StringValue>,
    server_port: Option<i64>,
    query_text: bool,
}

impl<C> InstrumentedConnection<C> {
    /// Wraps `inner`, a connection made from `client`, recording into [`crate::global`].
    ///
    /// `server.address` and `server.port` are read from the client's connection info.
    pub fn new(inner: C, client: &redis::Client) -> Self {
        let (address, port) = match client.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                (Some(host.clone()), Some(*port))
            }
            ConnectionAddr::Unix(path) => (Some(path.display().to_string()), None),
            _ => (None, None),
        };
        Self {
            inner,
            settings: Arc::new(Settings {
                tracer: crate::global(),
                server_address: address.map(|a| StringValue::from(Arc::<str>::from(a))),
                server_port: port.map(i64::from),
                query_text: false,
            }),
        }
    }

    /// Records into `tracer` instead of the global tracer.
    #[must_use]
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        Arc::make_mut(&mut self.settings).tracer = tracer;
        self
    }

    /// Records `db.query.text`: the command and its keys, other arguments as `?`. Off by default.
    #[must_use]
    pub fn query_text(mut self, on: bool) -> Self {
        Arc::make_mut(&mut self.settings).query_text = on;
        self
    }

    /// Overrides `server.address` and `server.port` (for example the name of a proxy's target).
    #[must_use]
    pub fn server(mut self, address: impl Into<String>, port: Option<u16>) -> Self {
        let settings = Arc::make_mut(&mut self.settings);
        settings.server_address = Some(StringValue::from(Arc::<str>::from(address.into())));
        settings.server_port = port.map(i64::from);
        self
    }

    /// The tracer spans are recorded into.
    pub fn tracer(&self) -> &Tracer {
        &self.settings.tracer
    }

    crate::hooks::inner_accessors!(inner: C, "connection");
}

impl<C: fmt::Debug> fmt::Debug for InstrumentedConnection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedConnection")
            .field("inner", &self.inner)
            .field("service", &self.settings.tracer.service_name())
            .field("server_address", &self.settings.server_address)
            .field("server_port", &self.settings.server_port)
            .field("query_text", &self.settings.query_text)
            .finish()
    }
}

impl<C: ConnectionLike> InstrumentedConnection<C> {
    /// Starts a command's span: `more` pushes the attributes of this command or batch, then
    /// the connection's own follow, all written straight into the span's record.
    fn start(
        &self,
        name: Cow<'static, str>,
        more: impl FnOnce(&mut Vec<KeyValue>),
        parent: &Context,
    ) -> Option<crate::Span> {
        let settings = &self.settings;
        let db = self.inner.get_db();
        let operation = name.clone();
        let attributes = Fill(|attributes: &mut Vec<KeyValue>| {
            attributes.reserve(9);
            more(attributes);
            attributes.push(KeyValue::new(DB_SYSTEM_NAME, "redis"));
            attributes.push(KeyValue::new(DB_OPERATION_NAME, operation));
            attributes.push(KeyValue::new(DB_NAMESPACE, namespace(db)));
            if let Some(address) = &settings.server_address {
                attributes.push(KeyValue::new(SERVER_ADDRESS, address.clone()));
            }
            if let Some(port) = settings.server_port {
                attributes.push(KeyValue::new(SERVER_PORT, port));
            }
        });
        settings
            .tracer
            .span(name, SpanKind::Client, attributes, parent)
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for InstrumentedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        // A command is a leaf: when its span would not be recorded, none is made (and its text
        // is never written).
        let parent = Context::current();
        if !self.settings.tracer.records_leaf(&parent) {
            return self.inner.req_packed_command(cmd);
        }
        let command = Command::of(cmd);
        let query_text = self.settings.query_text;
        let more = |attributes: &mut Vec<KeyValue>| {
            if query_text {
                let mut text = String::new();
                command.write_text(cmd, &mut text);
                attributes.push(KeyValue::new(DB_QUERY_TEXT, text));
            }
        };
        let span = self.start(command.name.clone(), more, &parent);
        let future = self.inner.req_packed_command(cmd);
        let Some(mut span) = span else {
            return future;
        };
        Box::pin(async move {
            let result = future.await;
            match &result {
                Ok(Value::ServerError(error)) => {
                    record(&mut span, &RedisError::from(error.clone()));
                }
                Ok(_) => {}
                Err(error) => record(&mut span, error),
            }
            span.end();
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let parent = Context::current();
        if !self.settings.tracer.records_leaf(&parent) {
            return self.inner.req_packed_commands(pipeline, offset, count);
        }
        let atomic = pipeline.is_transaction();
        let commands: Vec<Command> = pipeline.cmd_iter().map(Command::of).collect();
        let name: Cow<'static, str> = match (atomic, commands.as_slice()) {
            (true, _) => Cow::Borrowed("MULTI"),
            (false, [only]) => only.name.clone(),
            (false, _) => Cow::Borrowed("PIPELINE"),
        };
        let query_text = self.settings.query_text;
        let commands = &commands;
        // A batch of one is reported as a single operation (semconv: batch size is never 1).
        let more = |attributes: &mut Vec<KeyValue>| {
            if commands.len() != 1 {
                attributes.push(KeyValue::new(
                    DB_OPERATION_BATCH_SIZE,
                    commands.len() as i64,
                ));
            }
            if atomic || commands.len() != 1 {
                let names: Vec<StringValue> =
                    commands.iter().map(|c| c.name.clone().into()).collect();
                attributes.push(KeyValue::new(
                    TRACER_REDIS_COMMANDS,
                    AttributeValue::Array(Array::String(names)),
                ));
            }
            if query_text {
                let mut text = String::new();
                if atomic {
                    text.push_str("MULTI; ");
                }
                for (i, (command, cmd)) in commands.iter().zip(pipeline.cmd_iter()).enumerate() {
                    if i > 0 {
                        text.push_str("; ");
                    }
                    command.write_text(cmd, &mut text);
                }
                if atomic {
                    text.push_str("; EXEC");
                }
                attributes.push(KeyValue::new(DB_QUERY_TEXT, text));
            }
        };
        let span = self.start(name, more, &parent);
        let future = self.inner.req_packed_commands(pipeline, offset, count);
        let Some(mut span) = span else {
            return future;
        };
        Box::pin(async move {
            let result = future.await;
            match &result {
                Ok(values) => {
                    // A transaction's replies are the items of EXEC's array (nil when a WATCHed
                    // key changed: not an error).
                    let replies = match (atomic, values.last()) {
                        (true, Some(Value::Array(items))) => items.as_slice(),
                        (true, _) => &[][..],
                        (false, _) => values.as_slice(),
                    };
                    if let Some(Value::ServerError(error)) =
                        replies.iter().find(|v| matches!(v, Value::ServerError(_)))
                    {
                        record(&mut span, &RedisError::from(error.clone()));
                    }
                }
                Err(error) => record(&mut span, error),
            }
            span.end();
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// `db.namespace` for database `db`, without allocating for the usual 0..=15.
fn namespace(db: i64) -> StringValue {
    const NAMES: [&str; 16] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
    ];
    match usize::try_from(db).ok().and_then(|i| NAMES.get(i)) {
        Some(name) => StringValue::from(*name),
        None => StringValue::from(db.to_string()),
    }
}

/// `error.type` and, for errors the server sent, `db.response.status_code` (its prefix).
fn classify(error: &RedisError) -> (Cow<'static, str>, Option<String>) {
    if error.is_connection_refusal() {
        return (Cow::Borrowed("connection_refused"), None);
    }
    if error.is_timeout() {
        return (Cow::Borrowed("timeout"), None);
    }
    let kind = error.kind();
    if let (ErrorKind::Server(_) | ErrorKind::Extension, Some(code)) = (kind, error.code()) {
        return (Cow::Owned(code.to_owned()), Some(code.to_owned()));
    }
    let name = match kind {
        ErrorKind::Io => "io",
        ErrorKind::Parse => "parse",
        ErrorKind::AuthenticationFailed => "authentication_failed",
        ErrorKind::UnexpectedReturnType => "unexpected_return_type",
        ErrorKind::InvalidClientConfig => "invalid_client_config",
        ErrorKind::Client => "client",
        ErrorKind::RESP3NotSupported => "resp3_not_supported",
        _ => "_OTHER",
    };
    (Cow::Borrowed(name), None)
}

/// Marks `span` failed with `error`. The description is the error class only: a server's
/// message can quote the command's arguments (`ERR unknown command 'x', with args ...`).
fn record(span: &mut crate::Span, error: &RedisError) {
    let (error_type, status_code) = classify(error);
    if let Some(code) = status_code {
        span.set_attribute(KeyValue::new(DB_RESPONSE_STATUS_CODE, code));
    }
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
    span.set_status(Status::error(error_type));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        assert_eq!(namespace(0).as_str(), "0");
        assert_eq!(namespace(15).as_str(), "15");
        assert_eq!(namespace(99).as_str(), "99");
    }

    #[test]
    fn classifies_errors() {
        let io: RedisError = std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into();
        assert_eq!(classify(&io).0, "connection_refused");
        let timeout: RedisError = std::io::Error::from(std::io::ErrorKind::TimedOut).into();
        assert_eq!(classify(&timeout).0, "timeout");
        let reset: RedisError = std::io::Error::from(std::io::ErrorKind::ConnectionReset).into();
        assert_eq!(classify(&reset), (Cow::Borrowed("io"), None));
        let wrong = redis::make_extension_error("WRONGTYPE".into(), Some("no".into()));
        assert_eq!(
            classify(&wrong),
            (Cow::Borrowed("WRONGTYPE"), Some("WRONGTYPE".into()))
        );
    }
}
