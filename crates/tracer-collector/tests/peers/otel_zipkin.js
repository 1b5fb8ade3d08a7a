// Sends one trace with the OpenTelemetry JS SDK's Zipkin exporter (JSON v2 over HTTP).
//
// Usage: node otel_zipkin.js URL   (e.g. http://127.0.0.1:9411/api/v2/spans)
// Prints the trace id (32 hex digits) on stdout once the exporter has flushed.
'use strict';
const api = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
const { resourceFromAttributes } = require('@opentelemetry/resources');

const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'node-zipkin' }),
  spanProcessors: [new SimpleSpanProcessor(new ZipkinExporter({ url: process.argv[2] }))],
});
const tracer = provider.getTracer('peer-script', '1.0');

const root = tracer.startSpan('GET /basket', { kind: api.SpanKind.SERVER });
const ctx = api.trace.setSpan(api.context.active(), root);
const child = tracer.startSpan('reserve', { kind: api.SpanKind.CLIENT }, ctx);
child.addEvent('retry', { attempt: 2 });
child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'out of stock' });
child.end();
root.end();
provider.forceFlush()
  .then(() => provider.shutdown())
  .then(() => console.log(root.spanContext().traceId));
