// The demo page, served by bench/demo/serve.mjs and loaded unbundled from dist/ in Chromium: it loads
// wasm SIMD, is cross-origin isolated with the server's COOP/COEP headers, its canvases hold exactly
// the feature maps a float64 computation of the same convolution gives, a dropped image is processed,
// and the benchmark button fills window.__fastconvBench and draws the bars.

import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JS modules of the demo
import { FILTERS, grayscale, mapToRgba } from '../../../bench/demo/edges.mjs';
// @ts-expect-error plain JS module of the demo
import { SAMPLE_HEIGHT, SAMPLE_WIDTH, sampleImage } from '../../../bench/demo/sample.mjs';
// @ts-expect-error plain JS module of the demo
import { startServer } from '../../../bench/demo/serve.mjs';
import { convReference } from '../../../src/backends/js.js';
import type { ConvParams } from '../../../src/backends/types.js';
import type { BackendInfo, Explanation } from '../../../src/index.browser.js';
import { launchChromium, openPage } from '../session.js';

/** The suite the page runs: every row of bench/layers.json, in order. */
const SUITE_IDS: string[] = (
  JSON.parse(readFileSync(new URL('../../../bench/layers.json', import.meta.url), 'utf8')) as { layers: { id: string }[] }
).layers.map((l) => l.id);

const SIMD_ISA = /^wasm-(relaxed-)?simd$/;

// What bench/demo/demo.js publishes for these tests (info and explain once it is ready).
declare global {
  interface Window {
    __fastconvDemo?: {
      ready: boolean;
      error: string | null;
      width: number;
      ms: number | null;
      info: BackendInfo;
      explain: Explanation;
    };
    __fastconvBench?: {
      done: boolean;
      error?: string;
      results: Array<{ id: string; gflops: number; isa: string }>;
      runs: number;
      geomean: number;
    };
  }
}

let browser: Browser;
let server: { origin: string; demoUrl: string; close(): Promise<void> };

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startServer({ port: 0 })]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function demo(url: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await openPage(browser, url);
  await opened.page.waitForFunction(() => window.__fastconvDemo?.ready || window.__fastconvDemo?.error, null, {
    timeout: 30_000,
  });
  const error = await opened.page.evaluate(() => window.__fastconvDemo!.error);
  expect(error, 'demo page error').toBeNull();
  return opened;
}

/** A canvas's RGBA bytes (base64 across the protocol: a JSON array of 300k numbers takes seconds). */
async function canvasPixels(page: Page, id: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const c = await page.evaluate((id) => {
    const c = document.getElementById(id) as HTMLCanvasElement;
    const bytes = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { width: c.width, height: c.height, b64: btoa(bin) };
  }, id);
  return { width: c.width, height: c.height, data: new Uint8Array(Buffer.from(c.b64, 'base64')) };
}

/** The four feature maps of a grayscale image in float64: the demo's filters, 'same' padding. */
function referenceMaps(gray: Float32Array, width: number, height: number): Float64Array {
  const p: ConvParams = {
    N: 1,
    C: 1,
    H: height,
    W: width,
    K: FILTERS.length,
    R: 3,
    S: 3,
    groups: 1,
    strideH: 1,
    strideW: 1,
    dilationH: 1,
    dilationW: 1,
    padTop: 1,
    padBottom: 1,
    padLeft: 1,
    padRight: 1,
    OH: height,
    OW: width,
    relu: false,
  };
  const weight = Float32Array.from(FILTERS.flatMap((f: { taps: number[] }) => f.taps));
  return convReference(p, gray, weight, null);
}

/** Largest byte difference between a canvas and the expected RGBA, and how many bytes differ by more than 1. */
function diff(got: Uint8Array, want: ArrayLike<number>): { max: number; over1: number } {
  let max = 0,
    over1 = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    max = Math.max(max, d);
    if (d > 1) over1++;
  }
  return { max, over1 };
}

describe('demo page (COOP/COEP)', () => {
  let page: Page;
  let errors: string[];
  // Three timed runs per layer keep the button test short; the page defaults to 7.
  beforeAll(async () => {
    ({ page, errors } = await demo(`${server.demoUrl}?runs=3`));
  });

  it('loads without errors, cross-origin isolated, on wasm SIMD', async () => {
    const s = await page.evaluate(() => {
      const d = window.__fastconvDemo!;
      return {
        isolated: globalThis.crossOriginIsolated,
        sab: typeof SharedArrayBuffer,
        info: d.info,
        explain: d.explain,
        ms: d.ms,
        status: document.getElementById('status')!.textContent,
      };
    });
    expect(errors).toEqual([]);
    expect(s.isolated).toBe(true);
    expect(s.sab).toBe('function');
    expect(s.info.available.wasmSimd).toBe(true);
    // Chromium validates relaxed SIMD: once the browser entry loads that build, it is the one used.
    expect(['simd', 'relaxed']).toContain(s.info.wasmVariant);
    expect(s.info.selected).toBe('wasm');
    expect(s.explain.backend).toBe('wasm');
    expect(s.explain.isa).toMatch(SIMD_ISA);
    // The page's main thread cannot block for workers: its sync conv2d runs on one thread, and explain()
    // says so; the async form may split (asyncThreads) in this isolated page.
    expect(s.explain.threads).toBe(1);
    expect(s.explain.asyncThreads).toBeGreaterThanOrEqual(1);
    expect(s.ms).toBeGreaterThan(0);
    expect(s.status).toMatch(/isa wasm-(relaxed-)?simd .*threads \d+.*ms/);
  });

  it('draws the grayscale sample and the four feature maps a float64 reference predicts', async () => {
    const rgba = sampleImage(SAMPLE_WIDTH, SAMPLE_HEIGHT);
    const gray: Float32Array = grayscale(rgba, SAMPLE_WIDTH, SAMPLE_HEIGHT);
    const src = await canvasPixels(page, 'source');
    expect([src.width, src.height]).toEqual([SAMPLE_WIDTH, SAMPLE_HEIGHT]);
    const wantSrc = new Uint8Array(gray.length * 4);
    gray.forEach((g, i) => {
      wantSrc.fill(Math.round(g * 255), 4 * i, 4 * i + 3);
      wantSrc[4 * i + 3] = 255;
    });
    expect(diff(src.data, wantSrc).max).toBe(0);

    const maps = referenceMaps(gray, SAMPLE_WIDTH, SAMPLE_HEIGHT);
    const plane = SAMPLE_WIDTH * SAMPLE_HEIGHT;
    for (let k = 0; k < FILTERS.length; k++) {
      const got = await canvasPixels(page, `map${k}`);
      expect([got.width, got.height]).toEqual([SAMPLE_WIDTH, SAMPLE_HEIGHT]);
      const want: Uint8ClampedArray = mapToRgba(maps.subarray(k * plane, (k + 1) * plane), FILTERS[k].kind);
      const d = diff(got.data, want);
      // float32 vs float64 may round a byte the other way at a .5 boundary; nothing more.
      expect(d.over1, `${FILTERS[k].name}: bytes off by more than 1 (max ${d.max})`).toBe(0);
      // A blank or constant canvas would also be "close" to a mostly dark map: the maps must have content.
      expect(new Set(got.data).size, `${FILTERS[k].name} has structure`).toBeGreaterThan(20);
    }
  });

  it('processes a dropped image', async () => {
    await page.evaluate(async () => {
      const c = new OffscreenCanvas(64, 48);
      const ctx = c.getContext('2d')!;
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, 64, 48);
      ctx.fillStyle = '#fff';
      ctx.fillRect(16, 12, 32, 24);
      const file = new File([await c.convertToBlob({ type: 'image/png' })], 'box.png', { type: 'image/png' });
      const dt = new DataTransfer();
      dt.items.add(file);
      document
        .getElementById('drop')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.waitForFunction(() => window.__fastconvDemo!.width === 64, null, { timeout: 10_000 });
    const v = await canvasPixels(page, 'map0');
    expect([v.width, v.height]).toEqual([64, 48]);
    // Vertical edges of the white box at x = 15..16 and 47..48; nothing in the flat interior.
    const at = (x: number, y: number) => v.data[4 * (y * 64 + x)];
    expect(at(16, 24)).toBe(255);
    expect(at(32, 24)).toBe(0);
    expect(errors).toEqual([]);
  });

  it('runs the layer suite (bench/layers.json) from the benchmark button and draws the bars', async () => {
    await page.click('#bench');
    await page.waitForFunction(() => window.__fastconvBench?.done, null, { timeout: 100_000, polling: 250 });
    const bench = await page.evaluate(() => window.__fastconvBench!);
    expect(bench.error).toBeUndefined();
    expect(bench.results.map((r: { id: string }) => r.id)).toEqual(SUITE_IDS);
    for (const r of bench.results) {
      expect(Number.isFinite(r.gflops) && r.gflops > 0, `${r.id} ${r.gflops}`).toBe(true);
      expect(r.isa).toMatch(SIMD_ISA);
    }
    expect(await page.locator('#bench-out svg rect').count()).toBe(SUITE_IDS.length);
    console.log(
      `in-page suite (runs ${bench.runs}): ` +
        bench.results.map((r: { id: string; gflops: number }) => `${r.id} ${r.gflops.toFixed(1)}`).join(', ') +
        `; geomean ${bench.geomean.toFixed(1)} GFLOP/s`
    );
    expect(errors).toEqual([]);
  });
});

describe('demo page without COOP/COEP', () => {
  it('still works, single-threaded, not cross-origin isolated', async () => {
    const plain = await startServer({ port: 0, isolate: false });
    try {
      const { page, errors } = await demo(plain.demoUrl);
      const s = await page.evaluate(() => ({ isolated: globalThis.crossOriginIsolated, d: window.__fastconvDemo! }));
      expect(s.isolated).toBe(false);
      expect(s.d.explain).toMatchObject({ backend: 'wasm', threads: 1 });
      expect(s.d.explain.isa).toMatch(SIMD_ISA);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await plain.close();
    }
  });
});
