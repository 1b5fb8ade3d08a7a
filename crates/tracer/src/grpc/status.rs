//! gRPC status codes as tracer reads them off the wire, and which of them are errors.
//!
//! gRPC puts the outcome of a call in the `grpc-status` field: in the response *trailers* for a
//! normal response, or in the response *headers* for a "trailers-only" response (an error
//! returned before any message). Both layers look in both places; this module only parses
//! and classifies. It deliberately does not use `tonic::Status::from_header_map`, which panics
//! on a malformed `grpc-status-details-bin` value: a tracer must never panic on peer input.

use std::error::Error as StdError;
use std::time::Duration;

use http::{HeaderMap, HeaderName};
use tonic::Code;

/// The `grpc-status` header / trailer name.
pub const GRPC_STATUS: &str = "grpc-status";
/// The `grpc-message` header / trailer name (percent-encoded text).
pub const GRPC_MESSAGE: &str = "grpc-message";
/// The `grpc-timeout` request header name.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

// Pre-parsed names: looking a header up by `&str` parses the name on every call.
static GRPC_STATUS_NAME: HeaderName = HeaderName::from_static(GRPC_STATUS);
static GRPC_MESSAGE_NAME: HeaderName = HeaderName::from_static(GRPC_MESSAGE);
static GRPC_TIMEOUT_NAME: HeaderName = HeaderName::from_static(GRPC_TIMEOUT);

/// Which side of a call a span describes: the error rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The server span: only codes that mean the server failed are errors.
    Server,
    /// The client span: every non-OK code is an error.
    Client,
}

/// The upper-case name semantic conventions use for a code (`rpc.response.status_code`),
/// e.g. `DEADLINE_EXCEEDED`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Whether `code` marks the span of `side` as an error (semconv gRPC "Recording errors"):
/// on the server `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`
/// and `DATA_LOSS`; on the client every code but `OK`.
pub fn is_error(code: Code, side: Side) -> bool {
    match side {
        Side::Client => code != Code::Ok,
        Side::Server => matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ),
    }
}

/// The code in the `grpc-status` field of `headers` (trailers or trailers-only headers), if the
/// field is there. A value that is not a known code reads as `UNKNOWN`, as gRPC specifies.
pub fn code_from_headers(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get(&GRPC_STATUS_NAME)?;
    Some(parse_code(value.as_bytes()))
}

/// Parses a `grpc-status` value (`"0"` .. `"16"`); anything else is `UNKNOWN`.
pub fn parse_code(bytes: &[u8]) -> Code {
    let text = std::str::from_utf8(bytes).unwrap_or("");
    match text.trim().parse::<i32>() {
        Ok(n) if (0..=16).contains(&n) => Code::from_i32(n),
        _ => Code::Unknown,
    }
}

/// The decoded `grpc-message` of `headers`, if any and non-empty.
pub fn message_from_headers(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(&GRPC_MESSAGE_NAME)?.as_bytes();
    let text = percent_encoding::percent_decode(raw)
        .decode_utf8_lossy()
        .into_owned();
    (!text.is_empty()).then_some(text)
}

/// The gRPC code a response with HTTP status `status` and no `grpc-status` stands for, per the
/// gRPC "HTTP to gRPC status code mapping" (a proxy or a non-gRPC server answered).
pub fn code_from_http(status: http::StatusCode) -> Code {
    match status.as_u16() {
        200 => Code::Unknown,
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// The code the application sees for a failed call (an `Err` from the transport), found by
/// walking the error's source chain the way tonic does: a `tonic::Status` keeps its code, a
/// connect error (refused, unreachable) is `UNAVAILABLE`, a transport timeout is `CANCELLED`
/// (tonic's choice), I/O errors map by kind, anything else is `UNAVAILABLE` (the call never
/// reached a server that could answer).
pub fn code_from_error(err: &(dyn StdError + 'static)) -> Code {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(status) = e.downcast_ref::<tonic::Status>() {
            return status.code();
        }
        if e.is::<tonic::ConnectError>() {
            return Code::Unavailable;
        }
        if e.is::<tonic::TimeoutExpired>() {
            return Code::Cancelled;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            return match io.kind() {
                ErrorKind::TimedOut => Code::DeadlineExceeded,
                _ => Code::Unavailable,
            };
        }
        source = e.source();
    }
    Code::Unavailable
}

/// The deadline in the `grpc-timeout` header of `headers`, if there is a valid one.
pub fn timeout_from_headers(headers: &HeaderMap) -> Option<Duration> {
    parse_timeout(headers.get(&GRPC_TIMEOUT_NAME)?.as_bytes())
}

/// Parses a `grpc-timeout` value: up to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
/// Anything else is `None` (tonic ignores such a header too).
pub fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit[0] {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_and_name() {
        assert_eq!(parse_code(b"4"), Code::DeadlineExceeded);
        assert_eq!(parse_code(b"16"), Code::Unauthenticated);
        assert_eq!(parse_code(b"17"), Code::Unknown);
        assert_eq!(parse_code(b"x"), Code::Unknown);
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
    }

    #[test]
    fn error_sets_differ_by_side() {
        assert!(!is_error(Code::NotFound, Side::Server));
        assert!(is_error(Code::NotFound, Side::Client));
        assert!(is_error(Code::Internal, Side::Server));
        assert!(!is_error(Code::Cancelled, Side::Server));
        assert!(!is_error(Code::Ok, Side::Client));
    }

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_timeout(b"250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout(b"2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout(b"1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout(b"123456789m"), None);
        assert_eq!(parse_timeout(b"m"), None);
        assert_eq!(parse_timeout(b""), None);
        assert_eq!(parse_timeout(b"10x"), None);
    }

    #[test]
    fn messages_are_percent_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_MESSAGE, "no%20such%20user".parse().unwrap());
        assert_eq!(
            message_from_headers(&headers).as_deref(),
            Some("no such user")
        );
    }

    #[test]
    fn transport_errors_map_like_tonic() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(code_from_error(&refused), Code::Unavailable);
        let status = tonic::Status::not_found("x");
        assert_eq!(code_from_error(&status), Code::NotFound);
    }
}
