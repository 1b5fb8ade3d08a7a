"""The Python jaeger-client's remote sampler obeys the strategy the sampling port serves.

Usage: python jaeger_client_obeys.py HOST SAMPLING_PORT AGENT_PORT SERVICE WAIT_FOR OPERATION...
WAIT_FOR is the sampler the strategy must install before any span starts: `rate=R` (a
probabilistic sampler with rate R) or `per-operation` (an AdaptiveSampler, from
`operationSampling`). The remote sampler starts at probability 0.001 and polls SAMPLING_PORT every
0.2 s. Once WAIT_FOR is in place, one root span per OPERATION argument starts and finishes (spans
the sampler keeps are reported over UDP compact to AGENT_PORT), and a line
`OPERATION TRACE_ID(32 hex) SAMPLED(0|1)` is printed for each. Exits 1 if the strategy never
arrives.
"""
import sys
import time

from jaeger_client import Config
from jaeger_client.sampler import AdaptiveSampler, ProbabilisticSampler

host, sampling_port, agent_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
service, wait_for, operations = sys.argv[4], sys.argv[5], sys.argv[6:]
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
    service_name=service,
    validate=True,
)
tracer = config.initialize_tracer()


def installed():
    current = tracer.sampler.sampler
    if wait_for == "per-operation":
        return isinstance(current, AdaptiveSampler)
    rate = float(wait_for.removeprefix("rate="))
    return isinstance(current, ProbabilisticSampler) and current.rate == rate


deadline = time.time() + 10
while not installed():
    if time.time() > deadline:
        print(f"sampler never became {wait_for}: {tracer.sampler.sampler}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)

lines = []
for operation in operations:
    span = tracer.start_span(operation)
    lines.append(f"{operation} {span.trace_id:032x} {int(span.is_sampled())}")
    span.finish()

time.sleep(0.5)
tracer.close()
time.sleep(0.5)
print("\n".join(lines))
