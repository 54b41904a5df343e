// Memory under repeated calls: after a warm-up, thousands of sync and async calls on native and wasm
// (shapes cycling so the workspaces and the wasm arena resize) must not grow RSS or the wasm memory.
// Bounds: RSS growth <= RSS_BOUND_MB after warm-up (measured: a few MB of noise); wasm memory exactly
// unchanged after warm-up (the arena reuses its high-water mark).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/types.js';
import type { WasmBackend } from '../src/backends/wasm.js';
import { createWasmBackend } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';
import { spawnNodeWorker } from '../src/backends/wasm-pool.node.js';
import { dispatcher } from '../src/dispatch.js';
import { Conv1d, Conv2d, conv2d, conv2dAsync } from '../src/index.node.js';
import { normalizeConv } from '../src/shape.js';
import { expectNative, nativeBackend, nativeOnly, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';

afterAll(restoreNativeIsa);

const CALLS = 10_000; // per operation, as issue 6 asks
// Under AddressSanitizer (native/asan/run.sh) freed memory sits in a quarantine of up to 256 MB, so RSS
// says nothing there; the calls still run, which is what the sanitizer checks.
const RSS_BOUND_MB = process.env.FASTCONV_ASAN ? Infinity : 24;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const rssMB = () => {
  gc();
  gc();
  return process.memoryUsage().rss / 2 ** 20;
};

const rng = new Rng(77);
/** A few small shapes (incl. a depthwise and a 1-D one), cycled so buffers of several sizes are in play. */
const SHAPES = [
  { x: [1, 8, 16, 16], w: [8, 8, 3, 3], o: { padding: 1 } },
  { x: [2, 3, 20, 17], w: [5, 3, 5, 5], o: { stride: 2 } },
  { x: [1, 12, 14, 14], w: [12, 1, 3, 3], o: { groups: 12, padding: 'same' as const } },
  { x: [1, 4, 1, 60], w: [6, 4, 1, 7], o: { dilation: 2 } },
].map(({ x, w, o }) => {
  const input = { data: rng.floats(x.reduce((a, b) => a * b, 1)), shape: x };
  const weight = { data: rng.floats(w.reduce((a, b) => a * b, 1)), shape: w };
  const n = normalizeConv(2, input, weight, o);
  return { input, weight, o, p: n.params, out: new Float32Array(n.params.N * n.params.K * n.params.OH * n.params.OW) };
});

async function growth(run: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < 300; i++) await run(i);
  const before = rssMB();
  for (let i = 0; i < CALLS; i++) await run(i);
  return rssMB() - before;
}

/** A wasm backend whose instance (and so its memory) the test can see. */
function wasmWithMemory(variant: 'simd' | 'scalar'): { backend: Backend; bytes: () => number } {
  const Original = WebAssembly.Instance;
  let instance: WebAssembly.Instance | undefined;
  WebAssembly.Instance = class extends Original {
    constructor(m: WebAssembly.Module, i?: WebAssembly.Imports) {
      super(m, i);
      instance = this;
    }
  } as typeof WebAssembly.Instance;
  try {
    const backend = createWasmBackend(new WebAssembly.Module(loadWasmBytes(variant) as BufferSource), variant);
    const memory = (instance!.exports as { memory: WebAssembly.Memory }).memory;
    return { backend, bytes: () => memory.buffer.byteLength };
  } finally {
    WebAssembly.Instance = Original;
  }
}

describe(`memory over ${CALLS} calls after warm-up`, () => {
  it.skipIf(!expectNative)(nativeOnly('native sync, async and public API: RSS bounded'), async () => {
    const be = nativeBackend();
    const pick = (i: number) => SHAPES[i % SHAPES.length];
    const results: Record<string, number> = {};
    results.sync = await growth((i) => {
      const s = pick(i);
      be.conv2d(s.p, s.input.data, s.weight.data, null, s.out, 'im2col');
    });
    results.async = await growth((i) => {
      const s = pick(i);
      return be.conv2dAsync(s.p, s.input.data, s.weight.data, null, s.out, i % 2 ? 'direct' : 'im2col');
    });
    results.api = await growth((i) => {
      const s = pick(i);
      return i % 2
        ? conv2d(s.input, s.weight, { ...s.o, backend: 'native' })
        : conv2dAsync(s.input, s.weight, { ...s.o, backend: 'native' });
    });
    console.log(`native RSS growth (MB): ${JSON.stringify(results, (_, v) => (typeof v === 'number' ? +v.toFixed(1) : v))}`);
    for (const [k, v] of Object.entries(results)) expect(v, k).toBeLessThanOrEqual(RSS_BOUND_MB);
  });

  for (const variant of ['simd', 'scalar'] as const) {
    it(`wasm-${variant}: wasm memory unchanged and RSS bounded`, async () => {
      const { backend, bytes } = wasmWithMemory(variant);
      const pick = (i: number) => SHAPES[i % SHAPES.length];
      let after = 0;
      const grew = await growth((i) => {
        const s = pick(i);
        if (i === 0) after = bytes();
        return i % 2
          ? backend.conv2dAsync(s.p, s.input.data, s.weight.data, null, s.out, 'im2col')
          : backend.conv2d(s.p, s.input.data, s.weight.data, null, s.out, 'direct');
      });
      console.log(`wasm-${variant}: memory ${(bytes() / 2 ** 20).toFixed(1)} MiB, RSS growth ${grew.toFixed(1)} MB`);
      expect(bytes()).toBe(after);
      expect(grew).toBeLessThanOrEqual(RSS_BOUND_MB);
    });
  }

  // Not in the sanitizer run (native/asan/run.sh), which checks the addon: this case runs no native code,
  // and under the preloaded ASan runtime the wasm workers' futex wake-ups went missing (each call then
  // waited out the pool's bounded wait slices and 10,300 calls took minutes). The normal suite runs it.
  it.skipIf(Boolean(process.env.FASTCONV_ASAN))(
    'wasm-simd threads: the shared memory stays put and RSS bounded with every call split across 2 workers',
    async () => {
      const Original = WebAssembly.Memory;
      let shared: WebAssembly.Memory | undefined;
      WebAssembly.Memory = class extends Original {
        constructor(d: WebAssembly.MemoryDescriptor) {
          super(d);
          if (d.shared) shared = this;
        }
      } as typeof WebAssembly.Memory;
      let backend: WasmBackend;
      try {
        backend = createWasmBackend(new WebAssembly.Module(loadWasmBytes('simd') as BufferSource), 'simd', {
          module: new WebAssembly.Module(loadWasmBytes('simd-threads' as never) as BufferSource),
          spawn: spawnNodeWorker,
          canBlock: true,
          threads: 2,
        });
      } finally {
        WebAssembly.Memory = Original;
      }
      backend.minFlopsPerThread = 0;
      const pick = (i: number) => SHAPES[i % SHAPES.length];
      let after = 0;
      try {
        const grew = await growth((i) => {
          const s = pick(i);
          const r =
            i % 2
              ? backend.conv2dAsync(s.p, s.input.data, s.weight.data, null, s.out, 'im2col')
              : backend.conv2d(s.p, s.input.data, s.weight.data, null, s.out, 'direct');
          if (i === 0) after = shared?.buffer.byteLength ?? -1;
          return r;
        });
        console.log(
          `wasm-simd threads: shared memory ${((shared?.buffer.byteLength ?? 0) / 2 ** 20).toFixed(1)} MiB, RSS growth ${grew.toFixed(1)} MB`
        );
        expect(shared, 'the threaded build made a shared memory').toBeDefined();
        expect(shared!.buffer.byteLength).toBe(after);
        expect(grew).toBeLessThanOrEqual(RSS_BOUND_MB);
      } finally {
        backend.dispose();
      }
    }
  );

  it('layers: creating, using and disposing 500 Conv2d layers returns the memory; a disposed layer refuses work', async () => {
    const x = { data: rng.floats(2 * 16 * 12 * 12), shape: [2, 16, 12, 12] };
    const make = () => new Conv2d({ inChannels: 16, outChannels: 32, kernelSize: 3, padding: 1, seed: 1 });
    // A long warm-up: V8 grows its young generation (up to 16 MB semi-spaces) under this allocation rate,
    // which would otherwise count as growth.
    for (let i = 0; i < 600; i++) {
      const l = make();
      l.forward(x);
      l.dispose();
    }
    const before = rssMB();
    for (let i = 0; i < 500; i++) {
      const l = make();
      l.forward(x);
      l.dispose();
    }
    const grew = rssMB() - before;
    console.log(`layers: RSS growth over 500 create/forward/dispose ${grew.toFixed(1)} MB`);
    expect(grew).toBeLessThanOrEqual(RSS_BOUND_MB);
    const l = make();
    l.dispose();
    expect(() => l.forward(x)).toThrow(/disposed/);
  });

  // Weight stores live in a heap below the arena (assembly/store_heap.ts): layers made, used and disposed
  // must hand their blocks back, so the heap returns to empty and the memory stops growing.
  for (const label of ['wasm-simd', 'wasm-scalar'] as const) {
    it(`${label} layers: 300 create/forward/dispose cycles leave the wasm memory and the store heap flat`, async () => {
      const be = dispatcher().backendFor(label) as WasmBackend;
      const x2 = { data: rng.floats(2 * 16 * 12 * 12), shape: [2, 16, 12, 12] };
      const x1 = { data: rng.floats(3 * 900), shape: [1, 3, 900] };
      const cycle = async (i: number) => {
        const a = new Conv2d({
          inChannels: 16,
          outChannels: 8 + (i % 3) * 8,
          kernelSize: 3,
          padding: 1,
          seed: 1,
          backend: label,
          algorithm: i % 2 ? 'winograd' : 'im2col',
        });
        const b = new Conv1d({
          inChannels: 3,
          outChannels: 4,
          kernelSize: 63,
          padding: 31,
          seed: 2,
          backend: label,
          algorithm: 'fft',
        });
        const keep = new Conv2d({ inChannels: 16, outChannels: 16, kernelSize: 3, padding: 1, seed: 3, backend: label });
        a.forward(x2);
        b.forward(x1);
        keep.forward(x2);
        await a.forwardAsync(x2);
        await b.forwardAsync(x1);
        expect(a.packedWeightBytes * b.packedWeightBytes * keep.packedWeightBytes).toBeGreaterThan(0);
        a.dispose();
        b.dispose();
        keep.dispose();
      };
      for (let i = 0; i < 30; i++) await cycle(i);
      const before = be.memoryUse();
      expect(before.stores).toBe(0);
      for (let i = 0; i < 300; i++) await cycle(i);
      const after = be.memoryUse();
      console.log(
        `${label} layers: wasm memory ${(after.memory / 2 ** 20).toFixed(1)} MiB, store heap ${after.stores} bytes after 300 cycles`
      );
      expect(after).toEqual(before);
      // Layers dropped without dispose(): their stores are freed once collected.
      for (let i = 0; i < 20; i++)
        new Conv2d({ inChannels: 16, outChannels: 16, kernelSize: 3, padding: 1, backend: label }).forward(x2);
      expect(be.memoryUse().stores).toBeGreaterThan(0);
      for (let i = 0; i < 50 && be.memoryUse().stores > 0; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(be.memoryUse().stores).toBe(0);
    });
  }

  it.skipIf(!expectNative)(
    nativeOnly('layers: dispose() frees the transformed weights (L3-sized Winograd filters, measured)'),
    () => {
      const be = nativeBackend();
      const x = { data: rng.floats(256 * 14 * 14), shape: [1, 256, 14, 14] };
      const w = { data: rng.floats(256 * 256 * 9), shape: [256, 256, 3, 3] };
      const layer = new Conv2d({
        inChannels: 256,
        outChannels: 256,
        kernelSize: 3,
        padding: 1,
        backend: 'native',
        algorithm: 'winograd',
      });
      layer.weight = w;
      layer.forward(x);
      const perLayer = layer.packedWeightBytes / 2 ** 20;
      layer.dispose();
      expect(perLayer).toBeGreaterThan(4);
      expect(layer.packedWeightBytes).toBe(0);
      // The same stores without layers around them, so that no JavaScript garbage blurs the measurement.
      const p = normalizeConv(2, x, w, { padding: 1 }).params;
      const out = new Float32Array(256 * 14 * 14);
      const fill = () => {
        const s = be.createWeightStore!();
        be.conv2d(p, x.data, w.data, null, out, 'winograd', s);
        return s;
      };
      fill().clear();
      const before = rssMB();
      for (let i = 0; i < 40; i++) fill().clear();
      const freed = rssMB() - before;
      // Control: the measurement sees stores that are kept.
      const kept = Array.from({ length: 8 }, fill);
      const held = rssMB() - before - freed;
      for (const s of kept) s.clear();
      console.log(
        `layers: ${perLayer.toFixed(1)} MB of transformed weights per layer; RSS growth over 40 filled and cleared stores ${freed.toFixed(1)} MB; 8 kept stores ${held.toFixed(1)} MB`
      );
      expect(freed).toBeLessThanOrEqual(RSS_BOUND_MB);
      expect(held).toBeGreaterThan(6 * perLayer);
    }
  );
});
