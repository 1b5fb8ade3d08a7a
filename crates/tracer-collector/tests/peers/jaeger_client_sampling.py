"""The Python jaeger-client's remote sampler polls the sampling port, then reports over UDP.

Usage: python jaeger_client_sampling.py HOST SAMPLING_PORT AGENT_PORT
The remote sampler starts at its default probability, 0.001; once it has fetched the strategy from
SAMPLING_PORT (probability 1.0) the script sends one span over UDP compact to AGENT_PORT and
prints its trace id (32 hex digits). Exits 1 if the strategy never arrives.
"""
import sys
import time

from jaeger_client import Config

host, sampling_port, agent_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = Config(
    config={
        # No "sampler" entry: the client then uses its remote sampler (jaeger_client.Config).
        "sampling_refresh_interval": 0.2,
        "local_agent": {
            "reporting_host": host,
            "reporting_port": agent_port,
            "sampling_port": sampling_port,
        },
        "reporter_flush_interval": 0.1,
        "logging": False,
    },
    service_name="py-jaeger-sampled",
    validate=True,
)
tracer = config.initialize_tracer()

deadline = time.time() + 10
while getattr(tracer.sampler.sampler, "rate", 0.0) != 1.0:
    if time.time() > deadline:
        print(f"sampler never updated: {tracer.sampler.sampler}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)

with tracer.start_active_span("sampled by the remote strategy", finish_on_close=True) as scope:
    trace_id = scope.span.trace_id
    assert scope.span.is_sampled(), "span not sampled after the strategy update"

time.sleep(0.5)
tracer.close()
time.sleep(0.5)
print(f"{trace_id:032x}")
