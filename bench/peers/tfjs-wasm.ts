// TensorFlow.js on its WebAssembly backend (XNNPACK, SIMD). TF.js is channels-last, so it gets
// NHWC input and HWIO filters prepared once, outside the timed region; its output is transposed
// back to NCHW only for the correctness check.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Impl, PeerFactory, Prepared } from '../impl.js';
import type { Layer, LayerData } from '../suite.js';

type Tf = typeof import('@tensorflow/tfjs-core');

/** NCHW -> NHWC (batch 1 per image, any N). */
function toNHWC(a: Float32Array, N: number, C: number, H: number, W: number): Float32Array {
  const o = new Float32Array(a.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) o[(n * H * W + i) * C + c] = a[(n * C + c) * H * W + i];
  return o;
}

function toNCHW(a: Float32Array, N: number, C: number, H: number, W: number): Float32Array {
  const o = new Float32Array(a.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) o[(n * C + c) * H * W + i] = a[(n * H * W + i) * C + c];
  return o;
}

/** [K, Cg, R, S] -> [R, S, Cg, K] (HWIO), or for depthwise [R, S, C, 1]. */
function toHWIO(w: Float32Array, K: number, Cg: number, R: number, S: number): Float32Array {
  const o = new Float32Array(w.length);
  for (let k = 0; k < K; k++)
    for (let c = 0; c < Cg; c++)
      for (let r = 0; r < R; r++)
        for (let s = 0; s < S; s++) o[((r * S + s) * Cg + c) * K + k] = w[((k * Cg + c) * R + r) * S + s];
  return o;
}

function prepare(tf: Tf, l: Layer, d: LayerData): Prepared | string {
  const depthwise = l.groups === l.C && l.K === l.C;
  if (l.groups !== 1 && !depthwise) return 'TF.js has no grouped convolution other than depthwise';
  const x = tf.tensor4d(toNHWC(d.x, l.N, l.C, l.H, l.W), [l.N, l.H, l.W, l.C]);
  const filter = depthwise
    ? tf.tensor4d(toHWIO(d.w, l.C, 1, l.R, l.S), [l.R, l.S, l.C, 1]) // [R,S,1,C] and [R,S,C,1] share a memory order
    : tf.tensor4d(toHWIO(d.w, l.K, l.C, l.R, l.S), [l.R, l.S, l.C, l.K]);
  const bias = tf.tensor1d(d.b);
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [l.padH, l.padH],
    [l.padW, l.padW],
    [0, 0],
  ];
  const strides: [number, number] = [l.strideH, l.strideW];
  const dilations: [number, number] = [l.dilH, l.dilW];
  // Explicit padding is not implemented by every wasm kernel (tf.conv1d with a numeric pad returned
  // a wrongly shaped result), so pad with tf.pad inside the timed call and convolve 'valid'.
  const call = () =>
    tf.tidy(() => {
      const xp = l.padH || l.padW ? tf.pad(x, pad) : x;
      return depthwise
        ? tf.fused.depthwiseConv2d({
            x: xp,
            filter: filter as import('@tensorflow/tfjs-core').Tensor4D,
            strides,
            pad: 'valid',
            dilations,
            bias,
          })
        : tf.fused.conv2d({ x: xp, filter, strides, pad: 'valid', dilations, bias });
    });
  let last: import('@tensorflow/tfjs-core').Tensor | null = null;
  return {
    run: () => {
      last?.dispose();
      last = call();
    },
    output: async () => {
      if (!last) last = call();
      const nhwc = (await last.data()) as Float32Array;
      return toNCHW(nhwc, l.N, l.K, l.OH, l.OW);
    },
    dispose: () => {
      last?.dispose();
      x.dispose();
      filter.dispose();
      bias.dispose();
    },
  };
}

let ready: Promise<Tf> | null = null;

async function load(): Promise<Tf> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // In Node the backend would fetch() its .wasm; point it at the installed files instead.
  const require = createRequire(import.meta.url);
  const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
  wasm.setWasmPaths(dist);
  await tf.setBackend('wasm');
  await tf.ready();
  return tf;
}

export const tfjsWasm: PeerFactory = {
  name: 'tfjs',
  arena: 'wasm',
  async create(threads) {
    let tf: Tf;
    ready ??= load();
    try {
      tf = await ready;
    } catch (e) {
      return `tfjs-backend-wasm not loadable: ${(e as Error).message.split('\n')[0]}`;
    }
    // Node has no SharedArrayBuffer workers for TF.js wasm: it runs single-threaded whatever we ask.
    if (!threads.includes(1)) return 'TF.js wasm runs single-threaded in Node; no 1-thread run requested';
    return [
      {
        id: 'tfjs-wasm/1t',
        family: 'peer',
        arena: 'wasm',
        threads: 1,
        prepare: async (l, d) => prepare(tf, l, d),
      } satisfies Impl,
    ];
  },
};
