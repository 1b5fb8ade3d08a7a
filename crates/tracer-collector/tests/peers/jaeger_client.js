// Sends one trace with the Node jaeger-client, over UDP (agent emitBatch in thrift binary, as
// this client always sends it) or HTTP (a thrift binary Batch).
//
// Usage: node jaeger_client.js udp HOST PORT   (the collector's 6832 equivalent)
//        node jaeger_client.js http URL        (e.g. http://127.0.0.1:14268/api/traces)
// Prints the trace id (32 hex digits) on stdout once the reporter has flushed.
'use strict';
const { initTracer } = require('jaeger-client');

const [mode, a, b] = process.argv.slice(2);
const reporter = mode === 'udp'
  ? { agentHost: a, agentPort: Number(b), flushIntervalMs: 100 }
  : { collectorEndpoint: a, flushIntervalMs: 100 };
const logger = { info() {}, error(message) { console.error(message); } };
const tracer = initTracer(
  { serviceName: `node-jaeger-${mode}`, sampler: { type: 'const', param: 1 }, reporter },
  { logger },
);

const root = tracer.startSpan('GET /cart');
root.setTag('span.kind', 'server');
root.setTag('http.status_code', 200);
const child = tracer.startSpan('query cart', { childOf: root });
child.setTag('error', true);
child.log({ event: 'timeout', waited_ms: 30 });
child.finish();
root.finish();
const traceId = root.context().traceIdStr.padStart(32, '0');
tracer.close(() => console.log(traceId));
