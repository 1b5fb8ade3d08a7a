// api.js streamTrace: the reader of /api/collector/traces/{id} (newline-delimited JSON), fed by
// a stand-in fetch whose body arrives in arbitrary pieces, as a network hands it over.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import { streamTrace } from '../api.js';

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

/** Makes fetch answer `status` with `text` cut into pieces of `size` bytes. */
function serve(text, size, status = 200) {
  const bytes = new TextEncoder().encode(text);
  globalThis.fetch = async (path) => {
    serve.path = path;
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
        controller.close();
      },
    });
    return new Response(body, { status });
  };
}

const LINES = [
  '{"traceID":"ab","spans":3,"processes":{"p1":{"serviceName":"wéb","tags":[]}}}',
  '[{"spanID":"1"},{"spanID":"2"}]',
  '[{"spanID":"3","operationName":"naïve ✓"}]',
  '{"done":true,"spans":3}',
];

async function read(id = 'ab') {
  const got = { header: null, parts: [] };
  await streamTrace(id, undefined, {
    onHeader: (h) => {
      got.header = h;
    },
    onSpans: (spans) => got.parts.push(spans.map((s) => s.spanID)),
  });
  return got;
}

describe('streamTrace', () => {
  it('hands over the header and each part whatever pieces the body comes in', async () => {
    for (const size of [1, 2, 7, 64, 100000]) {
      serve(`${LINES.join('\n')}\n`, size);
      const got = await read();
      assert.equal(serve.path, '/api/collector/traces/ab');
      assert.deepEqual(got.header.processes.p1.serviceName, 'wéb', `pieces of ${size}: UTF-8 across pieces`);
      assert.deepEqual(got.parts, [['1', '2'], ['3']], `pieces of ${size}`);
    }
  });

  it('fails when the body ends before its last line', async () => {
    serve(`${LINES.slice(0, 2).join('\n')}\n[{"spanID":"3"`, 5);
    await assert.rejects(read(), (e) => e.status === 0 && /incomplete/.test(e.message));
  });

  it('raises the error envelope with its status', async () => {
    serve('{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}', 10, 404);
    await assert.rejects(read('zz'), (e) => e.status === 404 && e.message === 'trace not found');
  });
});
