// Static file server for the demo page. It serves the package root (so the page reaches dist/ and
// assembly/build/ by the same relative paths a consumer's server would) and sends COOP/COEP, which
// make the page cross-origin isolated: SharedArrayBuffer, hence wasm threads, needs that.
//
//   node bench/demo/serve.mjs [--port 8080] [--host 127.0.0.1] [--no-isolation]

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DEMO_PATH = '/bench/demo/index.html';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm', // WebAssembly.compileStreaming refuses any other type
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ts': 'text/plain; charset=utf-8',
};

function isolationHeaders(isolate) {
  if (!isolate) return {};
  return {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

/** Resolves a URL path inside root, or null when it would escape it (`..`, encoded slashes). */
function fileFor(root, urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  const file = normalize(join(root, path));
  if (file !== root && !file.startsWith(root + sep)) return null;
  return file;
}

/**
 * Starts the server; resolves once it listens. `port: 0` picks a free port (tests use that).
 * Returns the origin URL and a close() that resolves when the socket is closed.
 */
export function startServer({ port = 8080, host = '127.0.0.1', root = PACKAGE_ROOT, isolate = true, log = false } = {}) {
  const server = createServer((req, res) => {
    const headers = { ...isolationHeaders(isolate), 'Cache-Control': 'no-store' };
    let file = fileFor(root, new URL(req.url ?? '/', 'http://x').pathname);
    let st;
    try {
      st = file && statSync(file);
      if (st?.isDirectory()) {
        file = join(file, 'index.html');
        st = statSync(file);
      }
    } catch {
      st = undefined;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
    } else if (!file || !st?.isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
    } else {
      res.writeHead(200, {
        ...headers,
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Length': st.size,
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    }
    if (log) console.log(`${res.statusCode} ${req.method} ${req.url}`);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const addr = server.address();
      const origin = `http://${host}:${addr.port}`;
      ok({ origin, demoUrl: origin + DEMO_PATH, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const s = await startServer({
    port: Number(arg('--port', process.env.PORT ?? 8080)),
    host: arg('--host', '127.0.0.1'),
    isolate: !process.argv.includes('--no-isolation'),
    log: process.argv.includes('--log'),
  });
  console.log(`fastconv demo: ${s.demoUrl}  (serving ${PACKAGE_ROOT})`);
  for (const f of ['dist/src/index.browser.js', 'assembly/build/fastconv-simd.wasm']) {
    if (!existsSync(join(PACKAGE_ROOT, f))) console.log(`warning: ${f} is missing; run \`npm run build\` first`);
  }
}
