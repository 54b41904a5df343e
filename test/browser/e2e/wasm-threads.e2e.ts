// Wasm threads in real Chromium: a page served with COOP/COEP (bench/demo/serve.mjs) is cross-origin
// isolated, so the wasm backend splits conv2dAsync across Web Workers (backendInfo().threads > 1), and
// its results match the float64 reference for every algorithm, at 1 and 2 threads and under concurrent
// calls. The same page without the headers runs one thread and says why.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
// @ts-expect-error plain JS module of the demo
import { startServer } from '../../../bench/demo/serve.mjs';
import { convReference } from '../../../src/backends/js.js';
import type { Algorithm, ConvParams } from '../../../src/backends/types.js';
import { Rng } from '../../random.js';
import { compare, describeParams, NORMWISE_TOLERANCE, planeSlack, TOLERANCE } from '../../tester.js';
import { launchChromium, openPage } from '../session.js';

const PAGE = '/test/browser/threads.html';

let browser: Browser;
let isolated: { origin: string; close(): Promise<void> };
let plain: { origin: string; close(): Promise<void> };

beforeAll(async () => {
  [browser, isolated, plain] = await Promise.all([
    launchChromium(),
    startServer({ port: 0 }),
    startServer({ port: 0, isolate: false }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await isolated?.close();
  await plain?.close();
});

interface Case {
  algo: Algorithm;
  p: ConvParams;
  input: number[];
  weight: number[];
  bias: number[];
}

/** Shapes big enough to split in two (>= 2 x minFlopsPerThread = 8 MFLOP: explain() says 1 thread below), with odd sizes, batch, groups, dilation. */
function cases(): Case[] {
  const rng = new Rng(4242);
  const base = { strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, relu: false };
  const shapes: [Algorithm, Partial<ConvParams>][] = [
    ['winograd', { N: 2, C: 24, H: 37, W: 41, K: 20, R: 3, S: 3, groups: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 }],
    [
      'winograd',
      {
        N: 1,
        C: 32,
        H: 30,
        W: 29,
        K: 32,
        R: 3,
        S: 3,
        groups: 2,
        dilationH: 2,
        dilationW: 2,
        padTop: 2,
        padBottom: 2,
        padLeft: 2,
        padRight: 2,
        relu: true,
      },
    ],
    ['im2col', { N: 1, C: 40, H: 33, W: 35, K: 36, R: 3, S: 3, groups: 1, padTop: 1, padBottom: 0, padLeft: 2, padRight: 1 }],
    [
      'im2col',
      {
        N: 4,
        C: 16,
        H: 31,
        W: 27,
        K: 24,
        R: 5,
        S: 3,
        groups: 1,
        strideH: 2,
        strideW: 2,
        padTop: 2,
        padBottom: 2,
        padLeft: 1,
        padRight: 1,
      },
    ],
    [
      'direct',
      { N: 2, C: 96, H: 61, W: 39, K: 96, R: 3, S: 3, groups: 96, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, relu: true },
    ],
    ['fft', { N: 1, C: 12, H: 50, W: 47, K: 10, R: 9, S: 9, groups: 1, padTop: 4, padBottom: 4, padLeft: 4, padRight: 4 }],
  ];
  return shapes.map(([algo, s]) => {
    const q = { ...base, ...s } as ConvParams;
    q.OH = Math.floor((q.H + q.padTop + q.padBottom - q.dilationH * (q.R - 1) - 1) / q.strideH) + 1;
    q.OW = Math.floor((q.W + q.padLeft + q.padRight - q.dilationW * (q.S - 1) - 1) / q.strideW) + 1;
    const wLen = q.K * (q.C / q.groups) * q.R * q.S;
    return {
      algo,
      p: q,
      input: Array.from(rng.floats(q.N * q.C * q.H * q.W)),
      weight: Array.from(rng.floats(wLen)),
      bias: Array.from(rng.floats(q.K)),
    };
  });
}

interface PageResult {
  info: { threads: number; threadsOff: string | null; isolated: boolean; isa: string };
  outs: { used: number; data: number[] }[];
}
interface LayersResult {
  bytes: number[];
  after: number[];
  outs: { data: number[] }[];
}

// What test/browser/threads.html publishes.
declare global {
  interface Window {
    __threadsPageReady?: boolean;
    __runThreads(threads: number, list: Case[]): Promise<PageResult>;
    __runLayers(threads: number, list: Case[]): Promise<LayersResult>;
  }
}

/** The page's __runThreads (test/browser/threads.html): ready(), setNumThreads, every case via conv2dAsync at once. */
async function runInPage(page: Page, threads: number, list: Case[]): Promise<PageResult> {
  await page.waitForFunction(() => window.__threadsPageReady === true, null, { timeout: 30_000 });
  return page.evaluate(({ threads, list }) => window.__runThreads(threads, list), { threads, list });
}

function check(list: Case[], outs: { data: number[] }[], label: string): void {
  list.forEach((c, i) => {
    const want = convReference(c.p, Float32Array.from(c.input), Float32Array.from(c.weight), Float32Array.from(c.bias));
    const S = convReference(c.p, Float32Array.from(c.input), Float32Array.from(c.weight), Float32Array.from(c.bias), true);
    const r = compare(outs[i].data, want, S, TOLERANCE[c.algo], planeSlack(S, c.p.OH * c.p.OW, NORMWISE_TOLERANCE[c.algo]));
    expect(r.ok, `${label} ${c.algo} ${describeParams(c.p)}: ${r.mismatches.length} mismatches`).toBe(true);
  });
}

it('a COOP/COEP page splits conv2dAsync across Web Workers, and the results match the reference', async () => {
  const { page, errors } = await openPage(browser, isolated.origin + PAGE);
  const list = cases();
  const two = await runInPage(page, 2, list);
  expect(two.info.isolated).toBe(true);
  expect(two.info.isa).toMatch(/^wasm-(relaxed-)?simd$/);
  expect(two.info.threadsOff).toBeNull();
  expect(two.info.threads).toBe(2);
  for (const o of two.outs) expect(o.used).toBe(2);
  check(list, two.outs, '2 threads');
  const one = await runInPage(page, 1, list);
  expect(one.info.threads).toBe(1);
  check(list, one.outs, '1 thread');
  expect(errors).toEqual([]);
  await page.close();
});

it('layers with weight stores alternate on the Web Workers (3 rounds, all in flight) and match the reference; dispose frees them', async () => {
  const { page, errors } = await openPage(browser, isolated.origin + PAGE);
  await page.waitForFunction(() => window.__threadsPageReady === true, null, { timeout: 30_000 });
  const list = cases();
  const r = await page.evaluate(({ list }) => window.__runLayers(2, list), { list });
  check(list, r.outs, 'layers, 2 threads');
  for (const [i, c] of list.entries())
    expect(r.bytes[i] > 0, `${c.algo} holds its transformed weights`).toBe(c.algo !== 'direct');
  expect(r.after.every((b) => b === 0)).toBe(true);
  expect(errors).toEqual([]);
  await page.close();
});

it('without COOP/COEP the page runs one thread and says why', async () => {
  const { page, errors } = await openPage(browser, plain.origin + PAGE);
  const list = cases().slice(0, 2);
  const r = await runInPage(page, 2, list);
  expect(r.info.isolated).toBe(false);
  expect(r.info.threads).toBe(1);
  expect(r.info.threadsOff).toMatch(/cross-origin isolated/);
  check(list, r.outs, 'not isolated');
  expect(errors).toEqual([]);
  await page.close();
});
