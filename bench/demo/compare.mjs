// The in-page suite against the same suite in Node, build by build: bench/demo/suite.mjs runs in this
// process (dist/src/index.node.js) and in the demo page in Chromium (the benchmark button's code path),
// both forced to the same wasm build (`wasm-simd`, `wasm-relaxed`), alternating for `--rounds` rounds so
// machine drift hits both alike. Prints per-layer medians over rounds and the page/Node ratio (issue 4:
// within 15 % for the same build).
//
//   node bench/demo/compare.mjs [--rounds 5] [--runs 7] [--builds simd,relaxed] [--json out.json]

import { readFileSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
import { geomean, runSuite } from './suite.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('--rounds', 5)),
  runs = Number(arg('--runs', 7));
const builds = arg('--builds', 'simd,relaxed').split(',');
for (const b of builds)
  if (!['simd', 'relaxed', 'scalar'].includes(b)) throw new RangeError(`--builds: unknown wasm build '${b}'`);
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const { layers } = JSON.parse(readFileSync(new URL('../layers.json', import.meta.url), 'utf8'));
// Node 20 validates relaxed SIMD only behind this flag, and only for modules compiled after it is set:
// before fastconv loads, so that Node can run the build Chromium runs.
if (builds.includes('relaxed')) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const api = await import(new URL('../../dist/src/index.node.js', import.meta.url).href);
// The page's benchmark button makes synchronous calls, which stay on one thread in a browser; in Node the
// same calls would use the wasm worker threads, so Node is held to one thread to compare one build.
api.setNumThreads(1);
const server = await startServer({ port: 0 });
const browser = await chromium.launch({
  executablePath: process.env.FASTCONV_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS,
});

async function pageRound(build) {
  const page = await browser.newPage();
  try {
    await page.goto(`${server.demoUrl}?bench&runs=${runs}&backend=wasm-${build}`);
    await page.waitForFunction(() => window.__fastconvBench?.done, null, { timeout: 600_000, polling: 500 });
    const b = await page.evaluate(() => window.__fastconvBench);
    if (b.error) throw new Error(b.error);
    return b.results;
  } finally {
    await page.close();
  }
}

const node = Object.fromEntries(builds.map((b) => [b, []])),
  web = Object.fromEntries(builds.map((b) => [b, []]));
for (let r = 0; r < rounds; r++) {
  for (const b of builds) {
    node[b].push(await runSuite(api, layers, { backend: `wasm-${b}`, runs }));
    web[b].push(await pageRound(b));
  }
  process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}
await browser.close();
await server.close();

const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const f = (v) => v.toFixed(1).padStart(5);
const report = {};
for (const b of builds) {
  const rows = layers.map((l, i) => {
    const n = med(node[b].map((rs) => rs[i].gflops)),
      w = med(web[b].map((rs) => rs[i].gflops));
    // Best round too: on a loaded machine the fastest round is the better estimate of what the code can do.
    const nBest = Math.max(...node[b].map((rs) => rs[i].gflops)),
      wBest = Math.max(...web[b].map((rs) => rs[i].gflops));
    return {
      id: l.id,
      name: l.name,
      algorithm: node[b][0][i].algorithm,
      node: n,
      page: w,
      ratio: w / n,
      nodeBest: nBest,
      pageBest: wBest,
      pageIsa: web[b][0][i].isa,
    };
  });
  const gm = (key) => geomean(rows.map((r) => ({ gflops: r[key] })));
  const summary = {
    build: b,
    nodeIsa: node[b][0][0].isa,
    pageIsa: web[b][0][0].isa,
    rounds,
    runs,
    nodeGeomean: gm('node'),
    pageGeomean: gm('page'),
  };
  console.log(
    `\nwasm-${b}: GFLOP/s, Node ${process.version} (${summary.nodeIsa}) vs Chromium (${summary.pageIsa}); each figure: median of ${runs} runs; then median | best of ${rounds} rounds`
  );
  console.log('layer               algo     Node  page  page/Node |  Node  page  page/Node (best)');
  for (const r of rows) {
    console.log(
      `${`${r.id} ${r.name}`.padEnd(19)} ${String(r.algorithm).padEnd(7)} ${f(r.node)} ${f(r.page)}  ${r.ratio.toFixed(2).padStart(5)}     | ${f(r.nodeBest)} ${f(r.pageBest)}  ${(r.pageBest / r.nodeBest).toFixed(2).padStart(5)}`
    );
  }
  console.log(
    `geomean                     ${f(gm('node'))} ${f(gm('page'))}  ${(gm('page') / gm('node')).toFixed(2).padStart(5)}     | ` +
      `${f(gm('nodeBest'))} ${f(gm('pageBest'))}  ${(gm('pageBest') / gm('nodeBest')).toFixed(2).padStart(5)}`
  );
  const outside = rows.filter((r) => Math.abs(r.ratio - 1) > 0.15).map((r) => r.id);
  console.log(outside.length ? `outside ±15 %: ${outside.join(', ')}` : 'every layer within ±15 %');
  report[b] = { summary, rows, node: node[b], page: web[b] };
}
const out = arg('--json');
if (out) writeFileSync(out, JSON.stringify(report, null, 1));
