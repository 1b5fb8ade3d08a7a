"""Sends one trace with the OpenTelemetry Python SDK's Zipkin JSON exporter.

Usage: python otel_zipkin_json.py ZIPKIN_URL   (e.g. http://127.0.0.1:9411/api/v2/spans)
Prints the trace id (32 hex digits) on stdout once the exporter has flushed.
"""
import sys

from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

provider = TracerProvider(resource=Resource.create({"service.name": "py-zipkin"}))
provider.add_span_processor(SimpleSpanProcessor(ZipkinExporter(endpoint=sys.argv[1])))
tracer = provider.get_tracer("peer-script", "1.0")

with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root:
    root.set_attribute("http.request.method", "GET")
    with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT) as child:
        child.set_attribute("server.address", "payments.internal")
        child.set_attribute("server.port", 8443)
        child.add_event("retry", {"attempt": 2})
        child.set_status(Status(StatusCode.ERROR, "card declined"))
    trace_id = root.get_span_context().trace_id

provider.force_flush()
provider.shutdown()
print(f"{trace_id:032x}")
