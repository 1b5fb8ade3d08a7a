//! Redaction of secrets in URLs before they become span attributes.
//!
//! Query strings routinely carry credentials (`?access_token=...`, presigned-URL signatures), and
//! a URL may embed `user:password@`. Spans are exported and kept, so neither may be recorded:
//! the value of every query parameter whose name looks sensitive is replaced by
//! [`REDACTED`] (the name stays, so the shape of the request is still visible), and URL
//! credentials are dropped altogether (see the client's `url.full`).
//!
//! A name is sensitive when, lower-cased and percent-decoded, it contains one of
//! [`SENSITIVE_FRAGMENTS`] (`token`, `password`, `secret`, `signature`, ...) or one of its
//! `_`/`-`/`.`-separated words is one of [`SENSITIVE_WORDS`] (`key`, `sig`, `auth`, ...).
//! Matching errs on the side of redacting.
//!
//! ```
//! use tracer::http::redact::redact_query;
//!
//! assert_eq!(
//!     redact_query("page=2&access_token=abc&X-Amz-Signature=f00"),
//!     "page=2&access_token=REDACTED&X-Amz-Signature=REDACTED"
//! );
//! assert_eq!(redact_query("q=rust"), "q=rust"); // nothing sensitive: no allocation
//! ```

use std::borrow::Cow;

/// What replaces a sensitive value.
pub const REDACTED: &str = "REDACTED";

/// A parameter whose name contains one of these is sensitive.
pub const SENSITIVE_FRAGMENTS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "signature",
    "credential",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "private",
    "session",
    "cookie",
    "authorization",
];

/// A parameter with one of these as a whole word of its name (`x-api-key`, `auth`, `sig`) is
/// sensitive.
pub const SENSITIVE_WORDS: &[&str] = &["key", "sig", "auth", "pwd", "pass", "code", "jwt", "otp"];

/// Whether the query parameter `name` holds a secret.
pub fn is_sensitive(name: &str) -> bool {
    let decoded: Cow<'_, str> = if name.contains('%') || name.contains('+') {
        let plus = name.replace('+', " ");
        percent_encoding::percent_decode_str(&plus)
            .decode_utf8_lossy()
            .into_owned()
            .into()
    } else {
        name.into()
    };
    let lower = decoded.to_ascii_lowercase();
    SENSITIVE_FRAGMENTS.iter().any(|f| lower.contains(f))
        || lower
            .split(['_', '-', '.', ' ', '[', ']'])
            .any(|word| SENSITIVE_WORDS.contains(&word))
}

/// `query` (without the leading `?`) with the value of every sensitive parameter replaced by
/// [`REDACTED`]. Borrows when nothing needs redacting.
pub fn redact_query(query: &str) -> Cow<'_, str> {
    let needs = query.split('&').any(|pair| match pair.split_once('=') {
        Some((name, value)) => !value.is_empty() && is_sensitive(name),
        None => false,
    });
    if !needs {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_sensitive(name) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_names_are_recognised() {
        for name in [
            "token",
            "access_token",
            "refresh-token",
            "password",
            "passwd",
            "secret",
            "client_secret",
            "key",
            "api_key",
            "apikey",
            "x-api-key",
            "auth",
            "signature",
            "sig",
            "credential",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            "AWSAccessKeyId",
            "X-Goog-Signature",
            "to%6Ben",
            "user[password]",
        ] {
            assert!(is_sensitive(name), "{name} should be sensitive");
        }
        for name in ["q", "page", "author", "monkey", "keyword", "sort", "id"] {
            assert!(!is_sensitive(name), "{name} should not be sensitive");
        }
    }

    #[test]
    fn only_sensitive_values_are_replaced() {
        assert_eq!(
            redact_query("a=1&token=s3cr3t&b=&key=k&flag&password="),
            "a=1&token=REDACTED&b=&key=REDACTED&flag&password="
        );
        assert!(matches!(redact_query("a=1&b=2"), Cow::Borrowed(_)));
        assert_eq!(redact_query(""), "");
    }
}
