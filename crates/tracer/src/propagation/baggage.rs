//! W3C Baggage: the `baggage` header, parsed and written here from the recommendation
//! (<https://www.w3.org/TR/baggage/>).
//!
//! ```text
//! baggage-string = list-member 0*179( OWS "," OWS list-member )
//! list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//! property       = key OWS "=" OWS value / key OWS
//! key            = token                       ; RFC 7230
//! value          = *baggage-octet              ; printable ASCII but space " , ; \
//! ```
//!
//! Values are percent-encoded UTF-8: decoded on the way in, encoded again on the way out (every
//! byte that is not a baggage-octet, and `%` itself). Repeated header lines are one comma-joined
//! value (RFC 9110). A malformed member (a key that is not a token, a value with a forbidden
//! character or invalid UTF-8 once decoded, a malformed property) is dropped on its own; the
//! others are kept. Limits: the recommendation asks that at least 64 members and 8,192 bytes be
//! passed on; that is what is kept (the OpenTelemetry `Baggage` holds exactly that much), members
//! past either are dropped. Properties are kept as received, normalised (`k=v` without white
//! space, joined by `;`).
//!
//! (The SDK's propagator reads only the first header line, cuts a value at a second `=`, and
//! percent-decodes keys and properties, which the grammar does not ask for.)

use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};

use super::field_lines;

/// The `baggage` header name.
pub const BAGGAGE: &str = "baggage";

/// Members read at most (the grammar's 180); the `Baggage` keeps the first 64 valid ones.
pub const MAX_MEMBERS: usize = 180;

/// Bytes of the header read at most; members starting past the 8,192 the recommendation asks
/// to pass on are dropped, and the `Baggage` holds at most that much.
pub const MAX_BYTES: usize = 8192;

/// Propagates W3C baggage in the `baggage` header.
#[derive(Debug)]
pub struct BaggagePropagator {
    fields: [String; 1],
}

impl BaggagePropagator {
    /// Creates the propagator.
    pub fn new() -> Self {
        Self {
            fields: [BAGGAGE.to_owned()],
        }
    }
}

impl Default for BaggagePropagator {
    fn default() -> Self {
        Self::new()
    }
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Percent-decodes a value made of baggage-octets; `None` when a byte is not one, an escape is
/// malformed, or the result is not UTF-8.
fn decode_value(value: &str) -> Option<String> {
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !is_baggage_octet(c) {
            return None;
        }
        if c == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn encode_value(value: &str, out: &mut String) {
    for &c in value.as_bytes() {
        if is_baggage_octet(c) && c != b'%' {
            out.push(c as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(c >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(c & 15)]));
        }
    }
}

/// One member: (key, decoded value, normalised properties); `None` when malformed.
fn parse_member(member: &str) -> Option<(&str, String, String)> {
    let mut parts = member.split(';');
    let (key, value) = parts.next()?.split_once('=')?;
    let key = trim_ows(key);
    if !is_token(key) {
        return None;
    }
    let value = decode_value(trim_ows(value))?;
    let mut properties = String::new();
    for property in parts {
        let property = trim_ows(property);
        let normal = match property.split_once('=') {
            Some((k, v)) => {
                let (k, v) = (trim_ows(k), trim_ows(v));
                if !is_token(k) || !v.bytes().all(is_baggage_octet) {
                    return None;
                }
                format!("{k}={v}")
            }
            None if is_token(property) => property.to_owned(),
            None => return None,
        };
        if !properties.is_empty() {
            properties.push(';');
        }
        properties.push_str(&normal);
    }
    Some((key, value, properties))
}

/// Parses a `baggage` value (all its lines joined by commas) into a [`Baggage`].
///
/// ```
/// use tracer::propagation::baggage::parse_baggage;
/// let b = parse_baggage("user = alice , a=b=c;ttl=60, bad key=x");
/// assert_eq!(b.get("user").map(|v| v.as_str()), Some("alice"));
/// assert_eq!(b.get("a").map(|v| v.as_str()), Some("b=c"));
/// assert_eq!(b.len(), 2);
/// ```
pub fn parse_baggage(value: &str) -> Baggage {
    let mut baggage = Baggage::new();
    let mut offset = 0;
    for (n, member) in value.split(',').enumerate() {
        if n >= MAX_MEMBERS || offset >= MAX_BYTES {
            break;
        }
        offset += member.len() + 1;
        let member = trim_ows(member);
        if member.is_empty() {
            continue;
        }
        if let Some((key, value, properties)) = parse_member(member) {
            // Past 64 members or 8,192 bytes the `Baggage` refuses more, as the limits allow.
            baggage.insert_with_metadata(key.to_owned(), value, properties);
        }
    }
    baggage
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let mut out = String::new();
        for (key, (value, metadata)) in baggage {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(key.as_str());
            out.push('=');
            encode_value(value.as_str(), &mut out);
            let metadata = metadata.as_str();
            if !metadata.is_empty() {
                out.push(';');
                out.push_str(metadata);
            }
        }
        injector.set(BAGGAGE, out);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let lines = field_lines(extractor, BAGGAGE);
        if lines.is_empty() {
            return cx.clone();
        }
        let joined;
        let value = if let [one] = lines.as_slice() {
            *one
        } else {
            joined = lines.join(",");
            &joined
        };
        let baggage = parse_baggage(value);
        if baggage.is_empty() {
            return cx.clone();
        }
        cx.with_baggage(baggage)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}
