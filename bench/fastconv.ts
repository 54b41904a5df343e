// fastconv as the bench sees it: the built package (dist/src/index.node.js) loaded at run time,
// so the bench compiles and runs its peers even while src/ is missing or broken.
import { availableParallelism } from 'node:os';
import type { KernelFamily } from './args.js';
import type { Impl, Prepared } from './impl.js';
import type { Layer, LayerData } from './suite.js';
import { outputSize } from './suite.js';

export interface Tensor {
  data: Float32Array;
  shape: number[];
}
type ConvFn = (input: Tensor, weight: Tensor, options?: Record<string, unknown>) => Tensor;

/** The slice of the public API (issue 2's contract) the bench uses. */
export interface FastconvApi {
  conv2d: ConvFn;
  conv1d: ConvFn;
  backendInfo(): {
    selected: string;
    available: Record<string, boolean>;
    isa: string;
    threads: number;
    reason: string;
    errors?: Record<string, string>;
    wasmVariant?: string | null;
  };
  explain?(
    input: Tensor,
    weight: Tensor,
    options?: Record<string, unknown>
  ): { backend: string; isa: string; threads: number; algorithm: string; reason: string };
  setNumThreads?(n: number): void;
  Conv2d?: new (o: Record<string, unknown>) => ConvLayer;
  Conv1d?: new (o: Record<string, unknown>) => ConvLayer;
}

/** issue 3's reusable layer: weights set (and packed) once, then forward(input, out) per call. */
interface ConvLayer {
  weight: Tensor;
  bias: Tensor | null;
  forward(input: Tensor, out?: Float32Array): Tensor;
  dispose?(): void;
}

/** 'layer': through Conv2d/Conv1d (what a model would use; may cache packed weights); 'fn': the functional conv2d/conv1d. */
export type ApiMode = 'layer' | 'fn';

export type Arena = 'native' | 'wasm' | 'js';
export const ALGORITHMS = ['direct', 'im2col', 'winograd', 'fft'] as const;

export async function loadFastconv(): Promise<FastconvApi | string> {
  const url = new URL('../src/index.node.js', import.meta.url).href;
  try {
    const api = (await import(url)) as Partial<FastconvApi>;
    if (typeof api.conv2d !== 'function' || typeof api.backendInfo !== 'function')
      return `${url} does not export conv2d/backendInfo`;
    return api as FastconvApi;
  } catch (e) {
    return `fastconv did not load (${(e as Error).message.split('\n')[0]}); run \`npm run build\``;
  }
}

export function isAvailable(api: FastconvApi, arena: Arena): boolean {
  const a = api.backendInfo().available;
  return arena === 'wasm' ? Boolean(a.wasmSimd || a.wasmScalar || a.wasm) : Boolean(a[arena]);
}

export function allThreads(): number {
  return availableParallelism();
}

function tensors(l: Layer, d: LayerData): { x: Tensor; w: Tensor } {
  return { x: { data: d.x, shape: l.inputShape }, w: { data: d.w, shape: l.weightShape } };
}

/** The `backend` option of the calls: the arena, or one wasm build ('wasm-scalar') under --isa. */
let backendChoice: string | null = null;

function options(l: Layer, d: LayerData, arena: Arena, algorithm: string, out: Float32Array): Record<string, unknown> {
  return {
    bias: d.b,
    stride: l.stride,
    padding: l.padding,
    dilation: l.dilation,
    groups: l.groups,
    backend: backendChoice ?? arena,
    algorithm,
    out,
    ...(l.layout ? { layout: l.layout } : {}),
  };
}

/** Threads the backend reports it will use for this call (explain), or null if it cannot say. */
function threadsUsed(api: FastconvApi, l: Layer, d: LayerData, arena: Arena, out: Float32Array): number | null {
  if (!api.explain) return null;
  const { x, w } = tensors(l, d);
  try {
    return api.explain(x, w, options(l, d, arena, 'auto', out)).threads;
  } catch {
    return null;
  }
}

/** Sets the thread count only when it changes: switching may resize a pool, and that is not the conv's cost. */
function threadSwitch(api: FastconvApi): (n: number) => void {
  let current = -1;
  return (n) => {
    if (n !== current && api.setNumThreads) {
      api.setNumThreads(n);
      current = n;
    }
  };
}

function makeLayer(api: FastconvApi, arena: Arena, algorithm: string, l: Layer, d: LayerData): ConvLayer | null {
  const Ctor = l.op === 'conv1d' ? api.Conv1d : api.Conv2d;
  if (!Ctor) return null;
  const layer = new Ctor({
    inChannels: l.C,
    outChannels: l.K,
    kernelSize: l.op === 'conv1d' ? l.S : [l.R, l.S],
    stride: l.stride,
    padding: l.padding,
    dilation: l.dilation,
    groups: l.groups,
    bias: true,
    backend: backendChoice ?? arena,
    algorithm,
    ...(l.layout ? { layout: l.layout } : {}),
  });
  layer.weight = { data: d.w, shape: l.weightShape };
  layer.bias = { data: d.b, shape: [l.K] };
  return layer;
}

function prepare(
  api: FastconvApi,
  mode: ApiMode,
  setThreads: (n: number) => void,
  arena: Arena,
  algorithm: string,
  threads: number,
  l: Layer,
  d: LayerData,
  applies?: (l: Layer) => string | null
): Prepared | string {
  const why = applies?.(l);
  if (why) return why;
  const out = new Float32Array(outputSize(l));
  const { x, w } = tensors(l, d);
  setThreads(threads);
  if (threads > 1) {
    const used = threadsUsed(api, l, d, arena, out);
    if (used !== null && used < threads) return `the ${arena} backend runs ${used} thread(s) here`;
  }
  let call: () => void, dispose: (() => void) | undefined;
  try {
    const layer = mode === 'layer' ? makeLayer(api, arena, algorithm, l, d) : null;
    if (layer) {
      call = () => {
        layer.forward(x, out);
      };
      dispose = () => layer.dispose?.();
    } else {
      const opts = options(l, d, arena, algorithm, out);
      const conv = l.op === 'conv1d' ? api.conv1d : api.conv2d;
      call = () => {
        conv(x, w, opts);
      };
    }
    call();
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
  return { before: () => setThreads(threads), run: call, output: () => out, dispose };
}

/**
 * Every (algorithm, thread count) of one fastconv backend (or of `only.algorithms`); inapplicable ones
 * say why at prepare time, as do layers `only.applies` turns down.
 */
export function fastconvImpls(
  api: FastconvApi,
  arena: Arena,
  threads: number[],
  mode: ApiMode,
  only: { algorithms?: readonly string[]; applies?: (l: Layer) => string | null } = {}
): Impl[] {
  const setThreads = threadSwitch(api);
  const impls: Impl[] = [];
  for (const t of threads) {
    for (const algorithm of only.algorithms ?? ALGORITHMS) {
      impls.push({
        id: `fastconv-${arena}/${algorithm}/${t}t`,
        family: 'fastconv',
        arena,
        threads: t,
        algorithm,
        prepare: async (l, d) => prepare(api, mode, setThreads, arena, algorithm, t, l, d, only.applies),
      });
    }
  }
  return impls;
}

/** What --kernel/--tile/--isa fixed, for the log and the result JSON. */
export interface KernelForcing {
  family: KernelFamily | null;
  /** The algorithm that runs the family (depthwise: direct). */
  algorithm: string | null;
  tile: 2 | 4 | null;
  isa: string;
  /** Layers the family does not run on say why (the tile: where F(4x4) would be inexact, F(2x2) runs instead). */
  applies: (l: Layer) => string | null;
  note: string;
}

/** The internal module the built package loaded (one instance: same URL), for the test-only knobs. */
async function internal<T>(rel: string): Promise<T> {
  return (await import(new URL(`../src/${rel}`, import.meta.url).href)) as T;
}

interface KnobBackend {
  setKnob?(name: 'winogradTile', value: number): void;
  winogradTile?(p: Record<string, number | boolean>): number;
}

/** The layer as the engines' normalized parameters (padding is symmetric in the suite). */
function convParams(l: Layer): Record<string, number | boolean> {
  return {
    N: l.N,
    C: l.C,
    H: l.H,
    W: l.W,
    K: l.K,
    R: l.R,
    S: l.S,
    groups: l.groups,
    strideH: l.strideH,
    strideW: l.strideW,
    dilationH: l.dilH,
    dilationW: l.dilW,
    padTop: l.padH,
    padBottom: l.padH,
    padLeft: l.padW,
    padRight: l.padW,
    OH: l.OH,
    OW: l.OW,
    relu: false,
  };
}

/**
 * Puts the bench's calls on one kernel family, ISA and Winograd tile (the --kernel, --isa and --tile
 * flags): the native ISA through the addon's setIsa, a wasm build through the calls' `backend`
 * option, the tile through the backend's winogradTile forcing knob. Throws a RangeError saying why
 * the request cannot run here.
 */
export async function forceKernel(
  api: FastconvApi,
  arena: Arena,
  family: KernelFamily | null,
  tile: 2 | 4 | null,
  isa: string | null
): Promise<KernelForcing> {
  const algorithm = family === null ? null : family === 'depthwise' ? 'direct' : family;
  const shape: (l: Layer) => string | null =
    family === 'depthwise'
      ? (l) => (l.C / l.groups === 1 ? null : 'not a depthwise layer (the depthwise kernels need one input channel per group)')
      : family === 'direct'
        ? (l) => (l.C / l.groups === 1 ? 'a depthwise layer: direct runs the depthwise kernels here (--kernel depthwise)' : null)
        : () => null;
  const dispatch = await internal<{ dispatcher(): { backendFor(choice: string): unknown } }>('dispatch.js');
  const native = await internal<{ setNativeIsa(isa: string): void; nativeInfo(): { isa: string } }>('backends/native.js');
  if (isa !== null) {
    if (arena === 'native') {
      native.setNativeIsa(isa);
    } else {
      const slot = `wasm${isa[0].toUpperCase()}${isa.slice(1)}`;
      if (!api.backendInfo().available[slot]) {
        throw new RangeError(
          `--isa ${isa}: the wasm-${isa} build is not available here (${api.backendInfo().errors?.[slot] ?? 'not loaded'})`
        );
      }
      backendChoice = `wasm-${isa}`;
    }
  }
  let applies = shape;
  if (tile !== null) {
    const be = dispatch.dispatcher().backendFor(backendChoice ?? arena) as KnobBackend;
    if (!be.setKnob || !be.winogradTile)
      throw new RangeError(`--tile: the ${arena} backend of this build has no winogradTile knob`);
    be.setKnob('winogradTile', tile);
    applies = (l) => {
      const t = be.winogradTile?.(convParams(l)) ?? 0;
      if (t === 0) return null; // no Winograd here at all: the call says why, in the backend's words
      return t === tile ? null : `F(${tile}x${tile}) is inexact on this layer (padding >= 2): the knob runs F(${t}x${t}) here`;
    };
  }
  const where =
    arena === 'native'
      ? `native ${native.nativeInfo().isa}`
      : (backendChoice ?? `wasm (${api.backendInfo().wasmVariant ?? 'none'})`);
  const note = [
    family ? `kernel ${family}${family !== algorithm ? ` (the ${algorithm} algorithm)` : ''}` : null,
    tile ? `Winograd F(${tile}x${tile},3x3) forced` : null,
    where,
  ]
    .filter(Boolean)
    .join(', ');
  return { family, algorithm, tile, isa: where, applies, note };
}

/** Whether the forced kernel family runs layer l here: its shape rule, and the backend's own (explain). */
export function kernelRuns(api: FastconvApi, arena: Arena, f: KernelForcing, l: Layer, d: LayerData): boolean {
  if (f.applies(l) !== null || !f.algorithm) return f.applies(l) === null;
  if (!api.explain) return true; // prepare says n/a where it cannot run
  const { x, w } = tensors(l, d);
  try {
    api.explain(x, w, options(l, d, arena, f.algorithm, new Float32Array(outputSize(l))));
    return true;
  } catch {
    return false;
  }
}

/** What 'auto' picks for a layer (for the table), or null when the API cannot say. */
export function autoChoice(api: FastconvApi, arena: Arena, l: Layer, d: LayerData): string | null {
  if (!api.explain) return null;
  const { x, w } = tensors(l, d);
  try {
    return api.explain(x, w, options(l, d, arena, 'auto', new Float32Array(outputSize(l)))).algorithm;
  } catch {
    return null;
  }
}

/** One call with the automatic algorithm, for the benny pass. */
export function autoCall(api: FastconvApi, arena: Arena, l: Layer, d: LayerData): () => void {
  const out = new Float32Array(outputSize(l));
  const { x, w } = tensors(l, d);
  const opts = options(l, d, arena, 'auto', out);
  const conv = l.op === 'conv1d' ? api.conv1d : api.conv2d;
  return () => {
    conv(x, w, opts);
  };
}
