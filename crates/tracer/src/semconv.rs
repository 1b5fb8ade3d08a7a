//! Every attribute and event name the library writes, from one place.
//!
//! Names of the OpenTelemetry semantic conventions come from the
//! `opentelemetry-semantic-conventions` crate (semconv 1.42, the version its `SCHEMA_URL`
//! names), never spelled again here: a name the conventions deprecate then fails the build
//! (`deprecated` is denied in this module), except the three legacy RPC names written only when
//! a user opts into them ([`crate::grpc::Semconv`]). What the conventions have no name for is
//! ours, under the `tracer.` prefix, documented below. [`EMITTED`] lists them all; a test
//! drives every integration and checks each key it emits is in that list.
#![deny(deprecated)]

use opentelemetry_semantic_conventions::attribute as sc;

// HTTP (semconv HTTP spans).
/// `http.request.method`.
pub const HTTP_REQUEST_METHOD: &str = sc::HTTP_REQUEST_METHOD;
/// `http.request.method_original`: the method as sent when it is not a known one.
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = sc::HTTP_REQUEST_METHOD_ORIGINAL;
/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = sc::HTTP_RESPONSE_STATUS_CODE;
/// `http.route`: the matched route template.
pub const HTTP_ROUTE: &str = sc::HTTP_ROUTE;
/// `http.request.resend_count`: the attempt number of a retried request (from the second).
pub const HTTP_REQUEST_RESEND_COUNT: &str = sc::HTTP_REQUEST_RESEND_COUNT;
/// `url.path`.
pub const URL_PATH: &str = sc::URL_PATH;
/// `url.query`, sensitive values redacted.
pub const URL_QUERY: &str = sc::URL_QUERY;
/// `url.scheme`.
pub const URL_SCHEME: &str = sc::URL_SCHEME;
/// `url.full`, credentials removed, sensitive query values redacted.
pub const URL_FULL: &str = sc::URL_FULL;
/// `client.address`.
pub const CLIENT_ADDRESS: &str = sc::CLIENT_ADDRESS;
/// `network.protocol.version`.
pub const NETWORK_PROTOCOL_VERSION: &str = sc::NETWORK_PROTOCOL_VERSION;
/// `user_agent.original`.
pub const USER_AGENT_ORIGINAL: &str = sc::USER_AGENT_ORIGINAL;

// Shared by every integration.
/// `server.address`.
pub const SERVER_ADDRESS: &str = sc::SERVER_ADDRESS;
/// `server.port`.
pub const SERVER_PORT: &str = sc::SERVER_PORT;
/// `error.type`.
pub const ERROR_TYPE: &str = sc::ERROR_TYPE;
/// `exception.type` on an `exception` event.
pub const EXCEPTION_TYPE: &str = sc::EXCEPTION_TYPE;
/// `exception.message` on an `exception` event.
pub const EXCEPTION_MESSAGE: &str = sc::EXCEPTION_MESSAGE;
/// The name of the event recording an exception (a handler panic).
pub const EXCEPTION_EVENT: &str = "exception";

// RPC (semconv RPC spans, gRPC).
/// `rpc.system.name`: `grpc`.
pub const RPC_SYSTEM_NAME: &str = sc::RPC_SYSTEM_NAME;
/// `rpc.method`: `package.Service/Method`.
pub const RPC_METHOD: &str = sc::RPC_METHOD;
/// `rpc.response.status_code`: the status code's name, e.g. `DEADLINE_EXCEEDED`.
pub const RPC_RESPONSE_STATUS_CODE: &str = sc::RPC_RESPONSE_STATUS_CODE;
/// Legacy `rpc.system`, written only with [`crate::grpc::Semconv::Legacy`] or `Duplicate`.
#[allow(deprecated)] // the opt-in legacy names, for backends that still read them
pub const LEGACY_RPC_SYSTEM: &str = sc::RPC_SYSTEM;
/// Legacy `rpc.service`, written only with the legacy names on.
#[allow(deprecated)] // the opt-in legacy names
pub const LEGACY_RPC_SERVICE: &str = sc::RPC_SERVICE;
/// Legacy integer `rpc.grpc.status_code`, written only with the legacy names on.
#[allow(deprecated)] // the opt-in legacy names
pub const LEGACY_RPC_GRPC_STATUS_CODE: &str = sc::RPC_GRPC_STATUS_CODE;

// Databases (semconv database spans: SQL and Redis).
/// `db.system.name`: `mysql`, `mariadb`, `postgresql`, `redis`.
pub const DB_SYSTEM_NAME: &str = sc::DB_SYSTEM_NAME;
/// `db.namespace`: the database (SQL) or database index (Redis).
pub const DB_NAMESPACE: &str = sc::DB_NAMESPACE;
/// `db.operation.name`.
pub const DB_OPERATION_NAME: &str = sc::DB_OPERATION_NAME;
/// `db.collection.name`: the table.
pub const DB_COLLECTION_NAME: &str = sc::DB_COLLECTION_NAME;
/// `db.query.text`, sanitized (no literal values, no Redis values).
pub const DB_QUERY_TEXT: &str = sc::DB_QUERY_TEXT;
/// `db.response.status_code`: the database's error code.
pub const DB_RESPONSE_STATUS_CODE: &str = sc::DB_RESPONSE_STATUS_CODE;
/// `db.response.returned_rows`.
pub const DB_RESPONSE_RETURNED_ROWS: &str = sc::DB_RESPONSE_RETURNED_ROWS;
/// `db.operation.batch.size`: commands in a Redis pipeline.
pub const DB_OPERATION_BATCH_SIZE: &str = sc::DB_OPERATION_BATCH_SIZE;

// Messaging (semconv messaging spans, development status: NATS and RabbitMQ).
/// `messaging.system`: `nats`, `rabbitmq`.
pub const MESSAGING_SYSTEM: &str = sc::MESSAGING_SYSTEM;
/// `messaging.destination.name`: the subject, exchange or queue.
pub const MESSAGING_DESTINATION_NAME: &str = sc::MESSAGING_DESTINATION_NAME;
/// `messaging.operation.name`: `publish`, `request`, `process`, or a settlement (`ack`, `nack`).
pub const MESSAGING_OPERATION_NAME: &str = sc::MESSAGING_OPERATION_NAME;
/// `messaging.operation.type`: `send`, `process`, `settle`.
pub const MESSAGING_OPERATION_TYPE: &str = sc::MESSAGING_OPERATION_TYPE;
/// `messaging.message.id`: RabbitMQ `message_id`, NATS `Nats-Msg-Id`.
pub const MESSAGING_MESSAGE_ID: &str = sc::MESSAGING_MESSAGE_ID;
/// `messaging.message.body.size`: the payload's size in bytes (the payload itself never).
pub const MESSAGING_MESSAGE_BODY_SIZE: &str = sc::MESSAGING_MESSAGE_BODY_SIZE;
/// `messaging.consumer.group.name`: the NATS queue group or JetStream consumer.
pub const MESSAGING_CONSUMER_GROUP_NAME: &str = sc::MESSAGING_CONSUMER_GROUP_NAME;
/// `messaging.destination.temporary`: a reply inbox, named `(temporary)` in span names.
pub const MESSAGING_DESTINATION_TEMPORARY: &str = sc::MESSAGING_DESTINATION_TEMPORARY;
/// `messaging.batch.message_count`: messages in a batch consumer span.
pub const MESSAGING_BATCH_MESSAGE_COUNT: &str = sc::MESSAGING_BATCH_MESSAGE_COUNT;
/// `messaging.rabbitmq.destination.routing_key`.
pub const MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY: &str =
    sc::MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY;
/// `messaging.rabbitmq.message.delivery_tag`.
pub const MESSAGING_RABBITMQ_MESSAGE_DELIVERY_TAG: &str =
    sc::MESSAGING_RABBITMQ_MESSAGE_DELIVERY_TAG;

// Ours: what the conventions have no name for.
/// The deadline the gRPC client sent in `grpc-timeout`, in whole milliseconds (rounded up), on
/// both the client and the server span of a call that has one.
pub const TRACER_RPC_REQUEST_TIMEOUT_MS: &str = "tracer.rpc.request.timeout_ms";
/// Messages this side of a gRPC call sent (with message events on).
pub const TRACER_RPC_MESSAGES_SENT: &str = "tracer.rpc.messages.sent";
/// Messages this side of a gRPC call received (with message events on).
pub const TRACER_RPC_MESSAGES_RECEIVED: &str = "tracer.rpc.messages.received";
/// The per-message event of a gRPC call (semconv 1.42 deprecated its `rpc.message` event
/// attributes without a replacement).
pub const TRACER_RPC_MESSAGE_EVENT: &str = "tracer.rpc.message";
/// `SENT` or `RECEIVED`, on a message event.
pub const TRACER_RPC_MESSAGE_TYPE: &str = "tracer.rpc.message.type";
/// 1 for the first message of each direction, on a message event.
pub const TRACER_RPC_MESSAGE_ID: &str = "tracer.rpc.message.id";
/// The message's size in bytes as framed, on a message event.
pub const TRACER_RPC_MESSAGE_SIZE: &str = "tracer.rpc.message.uncompressed_size";
/// Rows an SQL statement changed.
pub const TRACER_SQL_ROWS_AFFECTED: &str = "tracer.sql.rows_affected";
/// Names of the commands in a Redis pipeline span.
pub const TRACER_REDIS_COMMANDS: &str = "tracer.redis.commands";
/// How many times the broker delivered a message, 1 for the first delivery (JetStream's
/// `delivered`; RabbitMQ's `x-delivery-count` header, else 2 when `redelivered` is set).
pub const TRACER_MESSAGING_DELIVERY_COUNT: &str = "tracer.messaging.delivery_count";
/// The event recording a settlement (ack, nack, ...) on a consumer span.
pub const TRACER_MESSAGING_SETTLE_EVENT: &str = "tracer.messaging.settle";
/// Whether a nack or reject asked the broker to deliver the message again, on a settle event.
pub const TRACER_MESSAGING_REQUEUE: &str = "tracer.messaging.requeue";
/// The JetStream stream a message was stored in or read from.
pub const TRACER_NATS_JETSTREAM_STREAM: &str = "tracer.nats.jetstream.stream";
/// The message's sequence number in its JetStream stream.
pub const TRACER_NATS_JETSTREAM_SEQUENCE: &str = "tracer.nats.jetstream.sequence";

/// Every attribute key the library writes on spans and events.
pub const EMITTED: &[&str] = &[
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
    HTTP_REQUEST_RESEND_COUNT,
    URL_PATH,
    URL_QUERY,
    URL_SCHEME,
    URL_FULL,
    CLIENT_ADDRESS,
    NETWORK_PROTOCOL_VERSION,
    USER_AGENT_ORIGINAL,
    SERVER_ADDRESS,
    SERVER_PORT,
    ERROR_TYPE,
    EXCEPTION_TYPE,
    EXCEPTION_MESSAGE,
    RPC_SYSTEM_NAME,
    RPC_METHOD,
    RPC_RESPONSE_STATUS_CODE,
    LEGACY_RPC_SYSTEM,
    LEGACY_RPC_SERVICE,
    LEGACY_RPC_GRPC_STATUS_CODE,
    DB_SYSTEM_NAME,
    DB_NAMESPACE,
    DB_OPERATION_NAME,
    DB_COLLECTION_NAME,
    DB_QUERY_TEXT,
    DB_RESPONSE_STATUS_CODE,
    DB_RESPONSE_RETURNED_ROWS,
    DB_OPERATION_BATCH_SIZE,
    TRACER_RPC_REQUEST_TIMEOUT_MS,
    TRACER_RPC_MESSAGES_SENT,
    TRACER_RPC_MESSAGES_RECEIVED,
    TRACER_RPC_MESSAGE_TYPE,
    TRACER_RPC_MESSAGE_ID,
    TRACER_RPC_MESSAGE_SIZE,
    TRACER_SQL_ROWS_AFFECTED,
    TRACER_REDIS_COMMANDS,
    MESSAGING_SYSTEM,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_MESSAGE_ID,
    MESSAGING_MESSAGE_BODY_SIZE,
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_BATCH_MESSAGE_COUNT,
    MESSAGING_DESTINATION_TEMPORARY,
    MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY,
    MESSAGING_RABBITMQ_MESSAGE_DELIVERY_TAG,
    TRACER_MESSAGING_DELIVERY_COUNT,
    TRACER_MESSAGING_REQUEUE,
    TRACER_NATS_JETSTREAM_STREAM,
    TRACER_NATS_JETSTREAM_SEQUENCE,
];

/// The legacy names, written only on request.
pub const LEGACY: &[&str] = &[
    LEGACY_RPC_SYSTEM,
    LEGACY_RPC_SERVICE,
    LEGACY_RPC_GRPC_STATUS_CODE,
];
