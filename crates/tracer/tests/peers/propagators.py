"""Extracts each header set of a corpus with the OpenTelemetry Python propagators.

Reads JSON lines {"id", "format", "headers": [[name, value], ...]} on stdin and writes one JSON
line per case: {"id", "span": null | {"trace_id", "span_id", "flags", "tracestate"}, "baggage"}.
Used by crates/tracer/tests/propagation_differential.rs; nothing here decides what is right.
"""

import json
import logging
import sys

from opentelemetry import baggage as otel_baggage
from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.b3 import B3MultiFormat
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATORS = {
    "tracecontext": TraceContextTextMapPropagator(),
    "baggage": W3CBaggagePropagator(),
    # Python's B3 extract reads the single header first, then the multi headers, as ours does.
    "b3": B3MultiFormat(),
    "b3multi": B3MultiFormat(),
    "jaeger": JaegerPropagator(),
}


def extract(case):
    carrier = {}
    for name, value in case["headers"]:
        carrier.setdefault(name.lower(), []).append(value)
    context = PROPAGATORS[case["format"]].extract(carrier)
    span = trace.get_current_span(context).get_span_context()
    out = {"id": case["id"], "span": None, "baggage": []}
    if span.is_valid:
        out["span"] = {
            "trace_id": format(span.trace_id, "032x"),
            "span_id": format(span.span_id, "016x"),
            "flags": int(span.trace_flags),
            "tracestate": [[k, v] for k, v in span.trace_state.items()],
        }
    out["baggage"] = sorted([k, str(v)] for k, v in otel_baggage.get_all(context).items())
    return out


def main():
    logging.disable(logging.CRITICAL)  # the peer logs every rejected header; answers suffice
    for line in sys.stdin:
        case = json.loads(line)
        try:
            out = extract(case)
        except Exception as error:  # a peer crash on an input is a finding, reported as such
            out = {"id": case["id"], "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
