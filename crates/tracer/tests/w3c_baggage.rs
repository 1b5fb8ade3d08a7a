//! W3C Baggage, rule by rule, from the recommendation (https://www.w3.org/TR/baggage/):
//! the grammar, percent-encoding, properties, repeated header lines and the limits.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use tracer::carrier::{HeaderExtractor, HeaderInjector};
use tracer::propagation::baggage::{BaggagePropagator, parse_baggage};

fn lines(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for v in values {
        headers.append(
            HeaderName::from_static("baggage"),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    headers
}

/// Extracts and injects again, as a hop passing baggage on would; returns the members sent,
/// sorted (the `Baggage` does not keep order).
fn relay(headers: &HeaderMap) -> Vec<String> {
    let p = BaggagePropagator::new();
    let cx = p.extract(&HeaderExtractor(headers));
    let mut out = HeaderMap::new();
    p.inject_context(&cx, &mut HeaderInjector(&mut out));
    let mut members: Vec<String> = out
        .get("baggage")
        .map(|v| v.to_str().unwrap().split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    members.sort();
    members
}

#[test]
fn members_from_every_baggage_line_are_kept() {
    let sent = relay(&lines(&["a=1,b=2", "c=3"]));
    assert_eq!(sent, ["a=1", "b=2", "c=3"]);
}

#[test]
fn optional_white_space_around_separators_is_accepted() {
    let sent = relay(&lines(&[" a = 1 ,\tb=2\t; p = x ;q "]));
    assert_eq!(sent, ["a=1", "b=2;p=x;q"]);
}

#[test]
fn a_value_may_contain_equals_signs() {
    let b = parse_baggage("token=abc==,expr=a=b");
    assert_eq!(b.get("token").unwrap().as_str(), "abc==");
    assert_eq!(b.get("expr").unwrap().as_str(), "a=b");
}

#[test]
fn values_are_percent_decoded_and_encoded_again() {
    let b = parse_baggage("city=Z%C3%BCrich,note=a%20b%2Cc%3Bd%25");
    assert_eq!(b.get("city").unwrap().as_str(), "Zürich");
    assert_eq!(b.get("note").unwrap().as_str(), "a b,c;d%");
    let sent = relay(&lines(&["city=Z%C3%BCrich,note=a%20b%2Cc%3Bd%25"]));
    assert_eq!(sent, ["city=Z%C3%BCrich", "note=a%20b%2Cc%3Bd%25"]);
}

#[test]
fn a_malformed_member_is_dropped_and_the_others_kept() {
    for bad in [
        "bad key=x",
        "bad(key)=x",
        "=x",
        "novalue",
        "k=a b",
        "k=\"quoted\"",
        "k=back\\slash",
        "k=%ZZ",
        "k=%C3",
        "k=%FF%FE",
        "k=v;bad prop",
        "k=v;p=a b",
    ] {
        let b = parse_baggage(&format!("good=1,{bad},also=2"));
        assert_eq!(b.len(), 2, "{bad}: {b:?}");
        assert_eq!(b.get("good").unwrap().as_str(), "1", "{bad}");
        assert_eq!(b.get("also").unwrap().as_str(), "2", "{bad}");
    }
}

#[test]
fn an_empty_value_is_a_valid_member() {
    let b = parse_baggage("empty=,k=v");
    assert_eq!(b.get("empty").unwrap().as_str(), "");
    assert_eq!(b.len(), 2);
}

#[test]
fn properties_travel_with_their_member() {
    let b = parse_baggage("k=v;ttl=60;secret");
    let (value, metadata) = b.get_with_metadata("k").unwrap();
    assert_eq!(value.as_str(), "v");
    assert_eq!(metadata.as_str(), "ttl=60;secret");
    assert_eq!(relay(&lines(&["k=v;ttl=60;secret"])), ["k=v;ttl=60;secret"]);
}

#[test]
fn at_least_64_members_are_passed_on() {
    let header: Vec<String> = (0..64).map(|i| format!("k{i}=v{i}")).collect();
    let sent = relay(&lines(&[&header.join(",")]));
    assert_eq!(sent.len(), 64);
    // Past 64, the rest is dropped, never an error or a panic.
    let header: Vec<String> = (0..200).map(|i| format!("k{i}=v{i}")).collect();
    let b = parse_baggage(&header.join(","));
    assert_eq!(b.len(), 64);
    assert_eq!(b.get("k0").unwrap().as_str(), "v0");
}

#[test]
fn up_to_8192_bytes_are_passed_on_and_members_past_them_dropped() {
    // Eight members of about 1,000 bytes: under 8,192 bytes, all kept.
    let big: Vec<String> = (0..8)
        .map(|i| format!("k{i}={}", "x".repeat(1000)))
        .collect();
    let b = parse_baggage(&big.join(","));
    assert_eq!(b.len(), 8);
    // Twenty: the ones past 8,192 bytes are dropped.
    let big: Vec<String> = (0..20)
        .map(|i| format!("k{i}={}", "x".repeat(1000)))
        .collect();
    let b = parse_baggage(&big.join(","));
    assert!(b.len() < 20 && b.len() >= 7, "{}", b.len());
    assert!(b.get("k0").is_some());
    assert!(b.get("k19").is_none());
}

#[test]
fn no_baggage_header_leaves_the_context_alone() {
    let p = BaggagePropagator::new();
    let cx = p.extract(&HeaderExtractor(&HeaderMap::new()));
    assert!(cx.baggage().is_empty());
}
