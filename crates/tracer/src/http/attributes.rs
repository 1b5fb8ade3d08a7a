//! Semantic-convention names (semconv 1.42, stable HTTP conventions; defined once in
//! [`crate::semconv`]) and the small helpers both sides use to fill them.

use ::http::{Method, Version};

pub use crate::semconv::{
    CLIENT_ADDRESS, ERROR_TYPE, EXCEPTION_EVENT, EXCEPTION_MESSAGE, EXCEPTION_TYPE,
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_REQUEST_RESEND_COUNT,
    HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT,
    URL_FULL, URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};

/// The `error.type` of a request whose peer went away before the exchange was complete.
pub const CANCELLED: &str = "cancelled";
/// The `error.type` for values semconv has no name for.
pub const OTHER: &str = "_OTHER";

/// The semconv name of `method`: the well-known methods as they are, anything else `None`
/// (record `_OTHER` and the original in `http.request.method_original`).
pub fn known_method(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return None,
    })
}

/// `network.protocol.version` for an HTTP version.
pub fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// Splits an authority (`host`, `host:port`, `[v6]:port`, optionally with `user@`) into the host
/// (IPv6 without brackets) and the port, if one is given.
pub fn split_authority(authority: &str) -> (&str, Option<u16>) {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (authority, None),
    }
}

/// The well-known port of a scheme.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// A status code as a static string, for `error.type`, without allocating for common codes.
pub(crate) fn status_text(code: u16) -> std::borrow::Cow<'static, str> {
    let text = match code {
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        409 => "409",
        429 => "429",
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return code.to_string().into(),
    };
    text.into()
}

/// An IP address as text (`client.address`), as `Display` writes it, without the formatting
/// machinery for IPv4: ~60 instructions against ~650 for `to_string` (callgrind, the demo's
/// server spans), for the address every sampled server span records.
pub(crate) fn ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut out = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
            out
        }
        std::net::IpAddr::V6(v6) => v6.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_is_what_display_writes() {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        for a in [0u8, 1, 9, 10, 99, 100, 109, 110, 199, 200, 255] {
            for b in [0u8, 7, 42, 250] {
                let ip = IpAddr::V4(Ipv4Addr::new(a, b, 255 - a, b / 3));
                assert_eq!(ip_text(ip), ip.to_string());
            }
        }
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(ip_text(v6), "::1");
    }

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(split_authority("example.com"), ("example.com", None));
        assert_eq!(
            split_authority("example.com:8080"),
            ("example.com", Some(8080))
        );
        assert_eq!(
            split_authority("user:pw@example.com:81"),
            ("example.com", Some(81))
        );
        assert_eq!(split_authority("[::1]:3000"), ("::1", Some(3000)));
        assert_eq!(split_authority("[::1]"), ("::1", None));
        assert_eq!(split_authority("::1"), ("::1", None));
    }

    #[test]
    fn methods_and_versions_map_to_semconv() {
        assert_eq!(known_method(&Method::GET), Some("GET"));
        assert_eq!(known_method(&Method::from_bytes(b"PURGE").unwrap()), None);
        assert_eq!(protocol_version(Version::HTTP_11), Some("1.1"));
        assert_eq!(protocol_version(Version::HTTP_2), Some("2"));
        assert_eq!(status_text(503), "503");
        assert_eq!(status_text(599), "599");
    }
}
