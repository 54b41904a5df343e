// fastconv as a dependency of a web app built with Vite: a throwaway app in a temp dir imports
// 'fastconv' (linked to this repository, resolved through package.json's `browser` export), Vite's JS
// API builds it, and the bundle is checked (no node:* module, no .node addon, both wasm assets emitted)
// and run in Chromium. The complete browser payload is measured here too, bundled and unbundled.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module of the demo
import { startServer } from '../../../bench/demo/serve.mjs';
import { convReference } from '../../../src/backends/js.js';
import type { ConvParams } from '../../../src/backends/types.js';
import type { BackendInfo, Explanation } from '../../../src/index.browser.js';
import { compare } from '../../tester.js';
import { gz, kB, moduleGraph, PAYLOAD_LIMIT, payload } from '../payload.js';
import { launchChromium, openPage } from '../session.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

// What APP_JS publishes: the result, or the error that stopped it.
declare global {
  interface Window {
    __result?: { error?: string; data: number[]; shape: number[]; info: BackendInfo; explain: Explanation };
  }
}

// The app: a 2-channel 3x3 conv with bias, stride 2 and asymmetric padding on data it generates.
const APP_JS = `
import { backendInfo, conv2d, explain, ready } from 'fastconv';
const x = Float32Array.from({ length: 2 * 9 * 11 }, (_, i) => Math.sin(i * 0.37));
const w = Float32Array.from({ length: 3 * 2 * 3 * 3 }, (_, i) => Math.cos(i * 0.11));
const b = Float32Array.from([0.5, -0.25, 1]);
const input = { data: x, shape: [1, 2, 9, 11] }, weight = { data: w, shape: [3, 2, 3, 3] };
const options = { bias: b, stride: 2, padding: [1, 0, 2, 1] };
try {
  await ready();
  const y = conv2d(input, weight, options);
  window.__result = { data: Array.from(y.data), shape: y.shape, info: backendInfo(), explain: explain(input, weight, options) };
} catch (e) {
  window.__result = { error: String(e && e.stack || e) };
}
`;
const PARAMS: ConvParams = {
  N: 1,
  C: 2,
  H: 9,
  W: 11,
  K: 3,
  R: 3,
  S: 3,
  groups: 1,
  strideH: 2,
  strideW: 2,
  dilationH: 1,
  dilationW: 1,
  padTop: 1,
  padBottom: 0,
  padLeft: 2,
  padRight: 1,
  OH: 4,
  OW: 6,
  relu: false,
};

let app: string;
let outDir: string;
let assets: string[];
let browser: Browser;

beforeAll(async () => {
  expect(existsSync(join(ROOT, 'dist/src/index.browser.js')), 'run `npm run build` first').toBe(true);
  app = mkdtempSync(join(tmpdir(), 'fastconv-vite-'));
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(ROOT, join(app, 'node_modules', 'fastconv'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(
    join(app, 'index.html'),
    '<!doctype html><link rel="icon" href="data:,"><title>consumer</title><script type="module" src="/main.js"></script>'
  );
  writeFileSync(join(app, 'main.js'), APP_JS);
  outDir = join(app, 'dist');
  const [b] = await Promise.all([
    launchChromium(),
    build({ root: app, configFile: false, logLevel: 'warn', build: { outDir, emptyOutDir: true, target: 'es2022' } }),
  ]);
  browser = b;
  assets = readdirSync(join(outDir, 'assets'));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

describe('a Vite app depending on fastconv', () => {
  it('bundles no node:* module and no native addon', () => {
    const js = assets.filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    expect(assets.some((f) => f.endsWith('.node'))).toBe(false);
    for (const f of js) {
      const src = readFileSync(join(outDir, 'assets', f), 'utf8');
      expect(src, f).not.toMatch(/["'`]node:[\w/]+["'`]/);
      expect(src, f).not.toMatch(/\bcreateRequire\b|\.node["'`]|process\.dlopen|node-gyp-build|bindings\(/);
    }
  });

  it('emits every wasm build the browser loader can fetch as an asset', () => {
    const loader = readFileSync(join(ROOT, 'dist/src/backends/wasm-bytes.browser.js'), 'utf8');
    const variants = [...new Set([...loader.matchAll(/fastconv-([\w-]+)\.wasm/g)].map((m) => m[1]))];
    expect(variants).toEqual(expect.arrayContaining(['simd', 'scalar', 'simd-threads']));
    // Vite's 8-character hash, so 'simd' does not also match 'simd-threads-<hash>'.
    for (const v of variants)
      expect(
        assets.filter((f) => new RegExp(`^fastconv-${v}-[\\w-]{8}\\.wasm$`).test(f)),
        v
      ).toHaveLength(1);
  });

  it('runs in Chromium on wasm SIMD and computes the convolution', async () => {
    const server = await startServer({ port: 0, root: outDir });
    try {
      const { page, errors } = await openPage(browser, `${server.origin}/index.html`);
      await page.waitForFunction(() => window.__result, null, { timeout: 30_000 });
      const r = await page.evaluate(() => window.__result!);
      expect(r.error).toBeUndefined();
      expect(errors).toEqual([]);
      expect(r.shape).toEqual([1, 3, 4, 6]);
      expect(r.info.available.wasmSimd).toBe(true);
      expect(r.explain.backend).toBe('wasm');
      const x = Float32Array.from({ length: 2 * 9 * 11 }, (_, i) => Math.sin(i * 0.37));
      const w = Float32Array.from({ length: 3 * 2 * 3 * 3 }, (_, i) => Math.cos(i * 0.11));
      const b = Float32Array.from([0.5, -0.25, 1]);
      const c = compare(r.data, convReference(PARAMS, x, w, b), convReference(PARAMS, x, w, b, true), 1e-5);
      expect(c.ok, JSON.stringify(c.mismatches.slice(0, 3))).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('browser payload (gzip -9)', () => {
  it(`is under ${PAYLOAD_LIMIT / 1024} kB unbundled and through Vite, with one engine's wasm`, () => {
    // An engine fetches one build; which one depends on the engine, so count the largest.
    const builds = readdirSync(join(ROOT, 'assembly/build'))
      .filter((f) => /^fastconv-\w+\.wasm$/.test(f))
      .map((f) => ({ f, gzip: gz(readFileSync(join(ROOT, 'assembly/build', f))) }))
      .sort((a, b) => b.gzip - a.gzip);
    const wasm = builds[0];
    const modules = moduleGraph(join(ROOT, 'dist/src/index.browser.js'));
    const unbundled = payload([...modules, join(ROOT, 'assembly/build', wasm.f)]);
    const bundleJs = assets.filter((f) => f.endsWith('.js')).map((f) => join(outDir, 'assets', f));
    const bundled = payload(bundleJs);
    bundled.gzip += wasm.gzip;
    console.log(
      `browser payload, gzip -9: unbundled dist/ ${modules.length} modules ${kB(unbundled.gzip - wasm.gzip)} + ` +
        `${wasm.f} ${kB(wasm.gzip)} (largest build) = ${kB(unbundled.gzip)} (raw ${kB(unbundled.bytes)}); ` +
        `Vite bundle JS ${kB(bundled.gzip - wasm.gzip)} + wasm = ${kB(bundled.gzip)}; builds: ` +
        builds.map((b) => `${b.f} ${kB(b.gzip)}`).join(', ')
    );
    expect(unbundled.gzip).toBeLessThan(PAYLOAD_LIMIT);
    expect(bundled.gzip).toBeLessThan(PAYLOAD_LIMIT);
    // The unbundled graph must not reach the node-only modules.
    expect(modules.filter((m) => /index\.node|native|wasm-bytes\.node/.test(m))).toEqual([]);
  });
});
