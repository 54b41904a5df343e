// The in-page suite against the same suite in Node, for the same wasm build: bench/demo/suite.mjs runs
// in this process (dist/src/index.node.js, backend 'wasm') and in the demo page in Chromium (the
// benchmark button's code path), alternating for `--rounds` rounds so machine drift hits both alike.
// Prints per-layer medians over rounds and the page/Node ratio (issue 4: within 15 %).
//
//   node bench/demo/compare.mjs [--rounds 3] [--runs 7] [--json out.json]

import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
import { geomean, runSuite } from './suite.mjs';

const arg = (name, fallback) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : fallback; };
const rounds = Number(arg('--rounds', 3)), runs = Number(arg('--runs', 7));
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

const { layers } = JSON.parse(readFileSync(new URL('../layers.json', import.meta.url), 'utf8'));
const api = await import(new URL('../../dist/src/index.node.js', import.meta.url).href);
// The page's benchmark button makes synchronous calls, which stay on one thread in a browser; in Node the
// same calls would use the wasm worker threads, so Node is held to one thread to compare one build.
api.setNumThreads(1);
const server = await startServer({ port: 0 });
const browser = await chromium.launch({ executablePath: process.env.FASTCONV_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });

async function pageRound() {
  const page = await browser.newPage();
  try {
    await page.goto(`${server.demoUrl}?bench&runs=${runs}`);
    await page.waitForFunction(() => window.__fastconvBench?.done, null, { timeout: 600_000, polling: 500 });
    const b = await page.evaluate(() => window.__fastconvBench);
    if (b.error) throw new Error(b.error);
    return b.results;
  } finally {
    await page.close();
  }
}

const node = [], web = [];
for (let r = 0; r < rounds; r++) {
  node.push(await runSuite(api, layers, { backend: 'wasm', runs }));
  web.push(await pageRound());
  process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}
await browser.close();
await server.close();

const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const rows = layers.map((l, i) => {
  const n = med(node.map((rs) => rs[i].gflops)), w = med(web.map((rs) => rs[i].gflops));
  // Best round too: on a loaded machine the fastest round is the better estimate of what the code can do.
  const nBest = Math.max(...node.map((rs) => rs[i].gflops)), wBest = Math.max(...web.map((rs) => rs[i].gflops));
  return { id: l.id, name: l.name, algorithm: node[0][i].algorithm, node: n, page: w, ratio: w / n, nodeBest: nBest, pageBest: wBest };
});
const summary = {
  isa: node[0][0].isa, rounds, runs,
  nodeGeomean: geomean(rows.map((r) => ({ gflops: r.node }))), pageGeomean: geomean(rows.map((r) => ({ gflops: r.page }))),
};
const f = (v) => v.toFixed(1).padStart(5);
const gm = (key) => geomean(rows.map((r) => ({ gflops: r[key] })));
console.log(`GFLOP/s, ${summary.isa}, ${process.version} vs Chromium; each figure: median of ${runs} runs; then median | best of ${rounds} rounds`);
console.log('layer               algo     Node  page  page/Node |  Node  page  page/Node (best)');
for (const r of rows) {
  console.log(`${`${r.id} ${r.name}`.padEnd(19)} ${String(r.algorithm).padEnd(7)} ${f(r.node)} ${f(r.page)}  ${r.ratio.toFixed(2).padStart(5)}     | ${f(r.nodeBest)} ${f(r.pageBest)}  ${(r.pageBest / r.nodeBest).toFixed(2).padStart(5)}`);
}
console.log(`geomean                     ${f(gm('node'))} ${f(gm('page'))}  ${(gm('page') / gm('node')).toFixed(2).padStart(5)}     | ` +
  `${f(gm('nodeBest'))} ${f(gm('pageBest'))}  ${(gm('pageBest') / gm('nodeBest')).toFixed(2).padStart(5)}`);
const out = arg('--json');
if (out) writeFileSync(out, JSON.stringify({ summary, rows, node, page: web }, null, 1));
