//! W3C Trace Context Level 2, rule by rule, from the recommendation's text
//! (https://www.w3.org/TR/trace-context-2/): repeated header lines, the `random` flag, the
//! `tracestate` grammar at its limits, and what is discarded when.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use tracer::carrier::{HeaderExtractor, HeaderInjector};
use tracer::propagation::w3c::{MAX_TRACESTATE_MEMBERS, TraceContextPropagator, parse_tracestate};
use tracer::propagation::{PropagatorKind, Propagators};

const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn lines(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (k, v) in pairs {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    headers
}

/// Extracts from `headers` and injects the same context again, as a proxy hop would.
fn relay(headers: &HeaderMap) -> HeaderMap {
    let p = TraceContextPropagator::new();
    let cx = p.extract(&HeaderExtractor(headers));
    let mut out = HeaderMap::new();
    p.inject_context(&cx, &mut HeaderInjector(&mut out));
    out
}

fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[test]
fn a_traceparent_sent_twice_is_invalid_and_starts_a_new_trace() {
    for second in [
        PARENT,
        "00-11111111111111111111111111111111-2222222222222222-01",
    ] {
        let out = relay(&lines(&[("traceparent", PARENT), ("traceparent", second)]));
        assert_eq!(get(&out, "traceparent"), None, "{second}");
    }
    // One line: kept.
    assert!(get(&relay(&lines(&[("traceparent", PARENT)])), "traceparent").is_some());
}

#[test]
fn tracestate_members_from_every_line_are_kept_in_order() {
    let out = relay(&lines(&[
        ("traceparent", PARENT),
        ("tracestate", "foo=1,bar=2"),
        ("tracestate", " baz=3 "),
        ("tracestate", ""),
    ]));
    assert_eq!(
        get(&out, "tracestate").as_deref(),
        Some("foo=1,bar=2,baz=3")
    );
}

#[test]
fn a_tracestate_with_an_invalid_member_on_any_line_is_discarded_whole() {
    let out = relay(&lines(&[
        ("traceparent", PARENT),
        ("tracestate", "foo=1"),
        ("tracestate", "BAD=2"),
    ]));
    assert_eq!(get(&out, "tracestate"), None);
    assert!(get(&out, "traceparent").is_some(), "the traceparent stays");
}

#[test]
fn tracestate_is_dropped_with_an_invalid_traceparent() {
    let out = relay(&lines(&[
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        ),
        ("tracestate", "foo=1"),
    ]));
    assert_eq!(get(&out, "traceparent"), None);
    assert_eq!(get(&out, "tracestate"), None);
}

#[test]
fn the_random_flag_is_read_and_passed_on() {
    for (flags, want) in [
        ("03", "03"),
        ("02", "02"),
        ("01", "01"),
        ("00", "00"),
        ("ff", "03"),
        ("fc", "00"),
    ] {
        let incoming = format!("00-{TRACE}-b7ad6b7169203331-{flags}");
        let out = relay(&lines(&[("traceparent", &incoming)]));
        let sent = get(&out, "traceparent").unwrap();
        assert!(sent.ends_with(&format!("-{want}")), "{flags}: {sent}");
    }
}

#[test]
fn a_sampled_child_keeps_the_callers_random_flag_and_sends_its_own_parent_id() {
    let capture = tracer::testing::SpanCapture::new();
    let svc = capture.tracer("svc");
    for (flags, want) in [("03", "03"), ("01", "01")] {
        let incoming: HashMap<String, String> = [(
            "traceparent".into(),
            format!("00-{TRACE}-b7ad6b7169203331-{flags}"),
        )]
        .into();
        let parent = svc.extract(&incoming);
        let span = svc.span("hop", SpanKind::Server, vec![], &parent).unwrap();
        let cx = parent.with_span(span);
        let mut out = HashMap::new();
        svc.inject(&cx, &mut out);
        let sent = &out["traceparent"];
        assert!(sent.starts_with(&format!("00-{TRACE}-")), "{sent}");
        assert!(!sent.contains("b7ad6b7169203331"), "own parent id: {sent}");
        assert!(sent.ends_with(&format!("-{want}")), "{flags}: {sent}");
        cx.span().end();
    }
}

#[test]
fn an_unsampled_hop_sends_its_own_parent_id_and_keeps_the_decision() {
    let capture = tracer::testing::SpanCapture::new();
    let svc = capture.tracer("svc");
    let incoming: HashMap<String, String> = [(
        "traceparent".into(),
        format!("00-{TRACE}-b7ad6b7169203331-02"),
    )]
    .into();
    let parent = svc.extract(&incoming);
    let span = svc
        .span("hop", SpanKind::Server, vec![], &parent)
        .expect("a non-recording span with an id of its own");
    let cx = parent.with_span(span);
    let mut out = HashMap::new();
    svc.inject(&cx, &mut out);
    let sent = &out["traceparent"];
    assert!(sent.starts_with(&format!("00-{TRACE}-")), "{sent}");
    assert!(!sent.contains("b7ad6b7169203331"), "own parent id: {sent}");
    assert!(sent.ends_with("-02"), "not sampled, random kept: {sent}");
    cx.span().end();
    assert!(capture.is_empty(), "nothing recorded");
}

#[test]
fn a_new_root_is_marked_random_and_a_trace_from_b3_is_not() {
    let capture = tracer::testing::SpanCapture::new();
    let svc = capture.tracer("svc");
    let root = svc
        .span("root", SpanKind::Server, vec![], &Context::new())
        .unwrap();
    let cx = Context::new().with_span(root);
    let mut out = HashMap::new();
    svc.inject(&cx, &mut out);
    assert!(
        out["traceparent"].ends_with("-03"),
        "{}",
        out["traceparent"]
    );
    cx.span().end();

    let p = Propagators::new([PropagatorKind::B3, PropagatorKind::TraceContext]);
    let from_b3: HashMap<String, String> =
        [("b3".into(), format!("{TRACE}-b7ad6b7169203331-1"))].into();
    let cx = p.extract(&from_b3);
    let mut out = HashMap::new();
    p.inject(&cx, &mut out);
    assert_eq!(
        out["traceparent"],
        format!("00-{TRACE}-b7ad6b7169203331-01")
    );
}

#[test]
fn tracestate_keys_follow_the_level_2_grammar_at_its_limits() {
    let key256 = format!("a{}", "b".repeat(255));
    let key257 = format!("a{}", "b".repeat(256));
    for valid in [
        "foo@@bar=1",
        "foo@bar@baz=1",
        "foo@abcdefghijklmn=1",
        "foo@abcdefghijklmno=1",
        "0abc=1",
        "a_-*/@=1",
        &format!("{key256}=v"),
        "foo=with space inside",
        // Spaces and tabs around a member are the list's optional white space, not the value's.
        " \tfoo=trailing \t",
        "foo=!\"#$%&'()*+-./:;<>?@[]^_`{|}~",
    ] {
        assert!(
            matches!(parse_tracestate(valid), Ok(Some(_))),
            "{valid}: {:?}",
            parse_tracestate(valid)
        );
    }
    for invalid in [
        "@foo=1",
        "_foo=1",
        "Foo=1",
        "fo o=1",
        "foo.bar=1",
        &format!("{key257}=v"),
        "foo=",
        "=1",
        "foo",
        "foo=a=b",
        "foo=é",
        "foo=1,foo=2",
    ] {
        assert!(parse_tracestate(invalid).is_err(), "{invalid}");
    }
}

#[test]
fn tracestate_values_are_at_most_256_characters() {
    let v256 = "x".repeat(256);
    let v257 = "x".repeat(257);
    assert!(matches!(
        parse_tracestate(&format!("k={v256}")),
        Ok(Some(_))
    ));
    assert!(parse_tracestate(&format!("k={v257}")).is_err());
}

#[test]
fn tracestate_holds_32_members_and_a_33rd_discards_it() {
    let members = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(MAX_TRACESTATE_MEMBERS, 32);
    let out = relay(&lines(&[
        ("traceparent", PARENT),
        ("tracestate", &members(32)),
    ]));
    assert_eq!(get(&out, "tracestate"), Some(members(32)));
    let out = relay(&lines(&[
        ("traceparent", PARENT),
        ("tracestate", &members(33)),
    ]));
    assert_eq!(get(&out, "tracestate"), None);
    // Empty members do not count.
    let sparse = format!("{},,, ,", members(32));
    assert!(matches!(parse_tracestate(&sparse), Ok(Some(_))));
    // The longest valid list: 32 members of 256-character keys and values.
    let longest = (0..32)
        .map(|i| format!("{i:0>256}={}", "v".repeat(256)))
        .collect::<Vec<_>>()
        .join(",");
    let out = relay(&lines(&[("traceparent", PARENT), ("tracestate", &longest)]));
    assert_eq!(get(&out, "tracestate"), Some(longest));
}

#[test]
fn a_level_2_key_the_sdk_cannot_hold_is_still_passed_on() {
    let out = relay(&lines(&[
        ("traceparent", PARENT),
        ("tracestate", "foo@@bar=1,baz=2"),
    ]));
    assert_eq!(get(&out, "tracestate").as_deref(), Some("foo@@bar=1,baz=2"));
}

#[test]
fn a_second_extract_of_the_same_trace_speaks_for_its_own_caller() {
    // The first caller did not say `random`; the second, for the same trace, does.
    let p = TraceContextPropagator::new();
    let first = lines(&[("traceparent", PARENT)]);
    let cx = p.extract(&HeaderExtractor(&first));
    let second = lines(&[("traceparent", &format!("00-{TRACE}-00f067aa0ba902b7-03"))]);
    let cx = p.extract_with_context(&cx, &HeaderExtractor(&second));
    let mut out = HeaderMap::new();
    p.inject_context(&cx, &mut HeaderInjector(&mut out));
    assert_eq!(
        get(&out, "traceparent"),
        Some(format!("00-{TRACE}-00f067aa0ba902b7-03"))
    );
}

#[test]
fn a_span_taken_from_b3_keeps_the_random_flag_traceparent_gave_for_it() {
    let p = Propagators::new([PropagatorKind::B3, PropagatorKind::TraceContext]);
    for (flags, want) in [("03", "03"), ("01", "01")] {
        let incoming: HashMap<String, String> = [
            ("b3".into(), format!("{TRACE}-b7ad6b7169203331-1")),
            (
                "traceparent".into(),
                format!("00-{TRACE}-b7ad6b7169203331-{flags}"),
            ),
        ]
        .into();
        let mut out = HashMap::new();
        p.inject(&p.extract(&incoming), &mut out);
        assert_eq!(
            out["traceparent"],
            format!("00-{TRACE}-b7ad6b7169203331-{want}"),
            "{flags}"
        );
    }
    // traceparent naming another span says nothing about the one taken.
    let incoming: HashMap<String, String> = [
        ("b3".into(), format!("{TRACE}-b7ad6b7169203331-1")),
        (
            "traceparent".into(),
            format!("00-{TRACE}-00f067aa0ba902b7-03"),
        ),
    ]
    .into();
    let mut out = HashMap::new();
    p.inject(&p.extract(&incoming), &mut out);
    assert_eq!(
        out["traceparent"],
        format!("00-{TRACE}-b7ad6b7169203331-01")
    );
}

/// A `tracestate` the SDK's `TraceState` cannot hold (a key only Level 2 allows) is passed on
/// as received; a later extract of the same trace into that context, from a caller that sent
/// no `tracestate`, must not pass the earlier caller's on.
#[test]
fn a_level2_only_tracestate_is_passed_on_and_forgotten_when_the_next_caller_sends_none() {
    let p = TraceContextPropagator::new();
    let first = lines(&[("traceparent", PARENT), ("tracestate", "foo@@bar=1")]);
    let cx = p.extract(&HeaderExtractor(&first));
    let mut out = HeaderMap::new();
    p.inject_context(&cx, &mut HeaderInjector(&mut out));
    assert_eq!(get(&out, "tracestate").as_deref(), Some("foo@@bar=1"));

    let second = lines(&[(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-03",
    )]);
    let cx = p.extract_with_context(&cx, &HeaderExtractor(&second));
    let mut out = HeaderMap::new();
    p.inject_context(&cx, &mut HeaderInjector(&mut out));
    assert_eq!(
        get(&out, "traceparent").as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-03")
    );
    assert_eq!(
        get(&out, "tracestate"),
        None,
        "the first caller's tracestate"
    );
}
