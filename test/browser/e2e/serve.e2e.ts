// The demo server: COOP/COEP on every response (the page must be cross-origin isolated for wasm
// threads), the wasm MIME type compileStreaming insists on, and nothing outside the package root.

import { request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
// @ts-expect-error plain JS module of the demo
import { startServer } from '../../../bench/demo/serve.mjs';

let server: { origin: string; close(): Promise<void> };
beforeAll(async () => {
  server = await startServer({ port: 0 });
});
afterAll(() => server?.close());

/** A raw GET: fetch() would normalize `..` away before the server sees it. */
function get(path: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(server.origin);
  return new Promise((ok, fail) => {
    request({ hostname, port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers }));
    })
      .on('error', fail)
      .end();
  });
}

it('serves the demo and the wasm with isolation headers and the right types', async () => {
  for (const [path, type] of [
    ['/bench/demo/index.html', 'text/html'],
    ['/assembly/build/fastconv-simd.wasm', 'application/wasm'],
    ['/dist/src/index.browser.js', 'text/javascript'],
    ['/bench/demo/', 'text/html'],
  ]) {
    const r = await get(path);
    expect(r.status, path).toBe(200);
    expect(String(r.headers['content-type'])).toContain(type);
    expect(r.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(r.headers['cross-origin-embedder-policy']).toBe('require-corp');
  }
});

it('refuses paths outside the package root', async () => {
  for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/bench/..%2f..%2f..%2fetc/passwd', '/nope.js']) {
    expect((await get(path)).status, path).toBe(404);
  }
});
