"""Decodes OTLP ExportTraceServiceRequest bodies with the OpenTelemetry Python protobuf classes.

Usage: decode_otlp.py FILE...   Prints one JSON object per file: the services, trace ids (hex)
and span count the independent decoder reads from it. Exits non-zero when a file does not parse.
"""

import json
import sys

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

for path in sys.argv[1:]:
    request = trace_service_pb2.ExportTraceServiceRequest()
    with open(path, "rb") as f:
        request.ParseFromString(f.read())
    services, traces, spans = set(), set(), 0
    for rs in request.resource_spans:
        for kv in rs.resource.attributes:
            if kv.key == "service.name":
                services.add(kv.value.string_value)
        for ss in rs.scope_spans:
            for span in ss.spans:
                spans += 1
                traces.add(span.trace_id.hex())
    print(json.dumps({"services": sorted(services), "traces": sorted(traces), "spans": spans}))
