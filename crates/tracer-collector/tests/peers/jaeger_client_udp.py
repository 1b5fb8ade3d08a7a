"""Sends one trace with the Python jaeger-client (UDP, thrift compact, to the agent port).

Usage: python jaeger_client_udp.py HOST PORT   (the collector's 6831 equivalent)
Prints the trace id (32 hex digits) on stdout once the reporter has flushed.
"""
import sys
import time

from jaeger_client import Config

config = Config(
    config={
        "sampler": {"type": "const", "param": 1},
        "local_agent": {"reporting_host": sys.argv[1], "reporting_port": int(sys.argv[2])},
        "reporter_flush_interval": 0.1,
        "logging": False,
    },
    service_name="py-jaeger",
    validate=True,
)
tracer = config.initialize_tracer()

with tracer.start_active_span("GET /orders", finish_on_close=True) as scope:
    root = scope.span
    root.set_tag("span.kind", "server")
    root.set_tag("http.status_code", 200)
    with tracer.start_active_span("load order", finish_on_close=True) as inner:
        inner.span.set_tag("db.system", "mysql")
        inner.span.set_tag("error", True)
        inner.span.log_kv({"event": "slow query", "rows": 3})
    trace_id = root.trace_id

time.sleep(0.5)
tracer.close()
time.sleep(0.5)
print(f"{trace_id:032x}")
