// The demo page: unbundled, importing the package's browser build from dist/ exactly as a user's
// <script type="module"> would. State the tests read is published on window.__fastconvDemo and
// window.__fastconvBench.

import * as fastconv from '../../dist/src/index.browser.js';
import { barChart } from './chart.mjs';
import { FILTERS, featureMaps, grayscale, mapToRgba } from './edges.mjs';
import { SAMPLE_HEIGHT, SAMPLE_WIDTH, sampleImage } from './sample.mjs';
import { geomean, runSuite } from './suite.mjs';

const $ = (id) => document.getElementById(id);
const MAX_SIDE = 640; // dropped photos are scaled down: the point is to watch, not to wait

const params = new URLSearchParams(location.search);
const state = { ready: false, error: null, width: 0, height: 0, ms: null, info: null, filters: FILTERS.map((f) => f.name) };
window.__fastconvDemo = state;
window.__fastconvBench = { done: false, results: [] };

function draw(canvas, rgba, width, height) {
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
}

function grayRgba(gray) {
  const px = new Uint8ClampedArray(gray.length * 4);
  for (let i = 0; i < gray.length; i++) {
    px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = Math.round(gray[i] * 255);
    px[4 * i + 3] = 255;
  }
  return px;
}

// The demo asks for wasm by name: 'auto' picks by a sub-millisecond probe, which a browser's coarsened
// timer can misrank, and this page is about the wasm build. An engine without wasm gets 'auto' (js).
const OPTIONS = { backend: 'wasm' };
function chooseBackend() {
  const a = fastconv.backendInfo().available;
  if (!a.wasmSimd && !a.wasmScalar) OPTIONS.backend = 'auto';
}

/** Runs the four filters on RGBA pixels and draws everything. */
function render(rgba, width, height) {
  const gray = grayscale(rgba, width, height);
  draw($('source'), grayRgba(gray), width, height);
  featureMaps(fastconv.conv2d, gray, width, height, OPTIONS); // first call on a new size is not representative
  const times = [];
  let y;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    y = featureMaps(fastconv.conv2d, gray, width, height, OPTIONS);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const plane = width * height;
  FILTERS.forEach((f, k) => {
    draw($(`map${k}`), mapToRgba(y.data.subarray(k * plane, (k + 1) * plane), f.kind), width, height);
    $(`cap${k}`).textContent = f.name;
  });
  const how = fastconv.explain(
    { data: gray, shape: [1, 1, height, width] },
    { data: new Float32Array(36), shape: [4, 1, 3, 3] },
    { padding: 'same', ...OPTIONS }
  );
  const isolated = globalThis.crossOriginIsolated === true;
  Object.assign(state, {
    width,
    height,
    ms: times[2],
    explain: how,
    info: fastconv.backendInfo(),
    crossOriginIsolated: isolated,
  });
  $('status').textContent =
    `backend ${how.backend} · isa ${how.isa} · threads ${how.threads} · ${how.algorithm} · ` +
    `crossOriginIsolated ${isolated} · ${width}×${height} image, 4 filters: ${times[2].toFixed(2)} ms (median of 5)`;
}

function showSample() {
  render(sampleImage(SAMPLE_WIDTH, SAMPLE_HEIGHT), SAMPLE_WIDTH, SAMPLE_HEIGHT);
}

async function showFile(file) {
  const bitmap = await createImageBitmap(file);
  const k = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * k)),
    height = Math.max(1, Math.round(bitmap.height * k));
  const ctx = new OffscreenCanvas(width, height).getContext('2d');
  ctx.drawImage(bitmap, 0, 0, width, height);
  render(ctx.getImageData(0, 0, width, height).data, width, height);
}

async function benchmark() {
  const button = $('bench');
  button.disabled = true;
  window.__fastconvBench = { done: false, results: [] };
  try {
    const { layers } = await (await fetch('../layers.json')).json();
    const only = params.get('layers')?.split(',');
    const chosen = only ? layers.filter((l) => only.includes(l.id)) : layers;
    const runs = Number(params.get('runs') ?? 7);
    // ?backend=wasm-simd (or wasm-relaxed, wasm-scalar) times one named build: compare.mjs sets it so
    // that the page and Node run the same wasm.
    const backend = params.get('backend') ?? OPTIONS.backend;
    const results = await runSuite(fastconv, chosen, {
      backend,
      runs,
      onLayer: (r) => {
        $('bench-status').textContent = `${r.id} ${r.gflops.toFixed(1)} GFLOP/s…`;
      },
      pause: () => new Promise((ok) => setTimeout(ok, 0)),
    });
    const info = fastconv.backendInfo();
    const title =
      `fastconv wasm in ${navigator.userAgent.match(/Chrom\w+\/[\d.]+|Firefox\/[\d.]+|Version\/[\d.]+ Safari/)?.[0] ?? 'this browser'}` +
      ` (${results[0]?.isa}, ${results[0]?.threads} thread${results[0]?.threads === 1 ? '' : 's'}), GFLOP/s, median of ${runs}`;
    $('bench-out').innerHTML = barChart(results, { title });
    $('bench-status').textContent = `done: geometric mean ${geomean(results).toFixed(1)} GFLOP/s`;
    window.__fastconvBench = {
      done: true,
      results,
      geomean: geomean(results),
      runs,
      info,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
    };
  } catch (e) {
    $('bench-status').textContent = `benchmark failed: ${e.message}`;
    window.__fastconvBench = { done: true, error: String(e), results: [] };
  } finally {
    button.disabled = false;
  }
}

function wireInputs() {
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files?.[0];
    if (file) showFile(file).catch(fail);
  });
  $('file').addEventListener('change', (e) => {
    const f = e.target.files?.[0];
    if (f) showFile(f).catch(fail);
  });
  $('sample').addEventListener('click', showSample);
  $('bench').addEventListener('click', benchmark);
}

function fail(e) {
  state.error = String(e?.stack ?? e);
  $('status').textContent = `error: ${e?.message ?? e}`;
}

try {
  wireInputs();
  await fastconv.ready();
  chooseBackend();
  showSample();
  state.ready = true;
  if (params.has('bench')) benchmark();
} catch (e) {
  fail(e);
}
