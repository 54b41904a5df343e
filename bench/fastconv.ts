// fastconv as the bench sees it: the built package (dist/src/index.node.js) loaded at run time,
// so the bench compiles and runs its peers even while src/ is missing or broken.
import { availableParallelism } from 'node:os';
import type { Impl, Prepared } from './impl.js';
import type { Layer, LayerData } from './suite.js';
import { outputSize } from './suite.js';

export interface Tensor { data: Float32Array; shape: number[] }
type ConvFn = (input: Tensor, weight: Tensor, options?: Record<string, unknown>) => Tensor;

/** The slice of the public API (issue 2's contract) the bench uses. */
export interface FastconvApi {
  conv2d: ConvFn;
  conv1d: ConvFn;
  backendInfo(): { selected: string; available: Record<string, boolean>; isa: string; threads: number; reason: string; errors?: Record<string, string> };
  explain?(input: Tensor, weight: Tensor, options?: Record<string, unknown>): { backend: string; isa: string; threads: number; algorithm: string; reason: string };
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
    if (typeof api.conv2d !== 'function' || typeof api.backendInfo !== 'function') return `${url} does not export conv2d/backendInfo`;
    return api as FastconvApi;
  } catch (e) {
    return `fastconv did not load (${(e as Error).message.split('\n')[0]}); run \`npm run build\``;
  }
}

export function isAvailable(api: FastconvApi, arena: Arena): boolean {
  const a = api.backendInfo().available;
  return arena === 'wasm' ? Boolean(a.wasmSimd || a.wasmScalar || a.wasm) : Boolean(a[arena]);
}

export function allThreads(): number { return availableParallelism(); }

function tensors(l: Layer, d: LayerData): { x: Tensor; w: Tensor } {
  return { x: { data: d.x, shape: l.inputShape }, w: { data: d.w, shape: l.weightShape } };
}

function options(l: Layer, d: LayerData, arena: Arena, algorithm: string, out: Float32Array): Record<string, unknown> {
  return { bias: d.b, stride: l.stride, padding: l.padding, dilation: l.dilation, groups: l.groups, backend: arena, algorithm, out };
}

/** Threads the backend reports it will use for this call (explain), or null if it cannot say. */
function threadsUsed(api: FastconvApi, l: Layer, d: LayerData, arena: Arena, out: Float32Array): number | null {
  if (!api.explain) return null;
  const { x, w } = tensors(l, d);
  try { return api.explain(x, w, options(l, d, arena, 'auto', out)).threads; } catch { return null; }
}

/** Sets the thread count only when it changes: switching may resize a pool, and that is not the conv's cost. */
function threadSwitch(api: FastconvApi): (n: number) => void {
  let current = -1;
  return (n) => { if (n !== current && api.setNumThreads) { api.setNumThreads(n); current = n; } };
}

function makeLayer(api: FastconvApi, arena: Arena, algorithm: string, l: Layer, d: LayerData): ConvLayer | null {
  const Ctor = l.op === 'conv1d' ? api.Conv1d : api.Conv2d;
  if (!Ctor) return null;
  const layer = new Ctor({
    inChannels: l.C, outChannels: l.K, kernelSize: l.op === 'conv1d' ? l.S : [l.R, l.S],
    stride: l.stride, padding: l.padding, dilation: l.dilation, groups: l.groups, bias: true, backend: arena, algorithm,
  });
  layer.weight = { data: d.w, shape: l.weightShape };
  layer.bias = { data: d.b, shape: [l.K] };
  return layer;
}

function prepare(api: FastconvApi, mode: ApiMode, setThreads: (n: number) => void, arena: Arena, algorithm: string, threads: number,
                 l: Layer, d: LayerData): Prepared | string {
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
      call = () => { layer.forward(x, out); };
      dispose = () => layer.dispose?.();
    } else {
      const opts = options(l, d, arena, algorithm, out);
      const conv = l.op === 'conv1d' ? api.conv1d : api.conv2d;
      call = () => { conv(x, w, opts); };
    }
    call();
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
  return { before: () => setThreads(threads), run: call, output: () => out, dispose };
}

/** Every (algorithm, thread count) of one fastconv backend; inapplicable ones say why at prepare time. */
export function fastconvImpls(api: FastconvApi, arena: Arena, threads: number[], mode: ApiMode): Impl[] {
  const setThreads = threadSwitch(api);
  const impls: Impl[] = [];
  for (const t of threads) {
    for (const algorithm of ALGORITHMS) {
      impls.push({
        id: `fastconv-${arena}/${algorithm}/${t}t`, family: 'fastconv', arena, threads: t, algorithm,
        prepare: async (l, d) => prepare(api, mode, setThreads, arena, algorithm, t, l, d),
      });
    }
  }
  return impls;
}

/** What 'auto' picks for a layer (for the table), or null when the API cannot say. */
export function autoChoice(api: FastconvApi, arena: Arena, l: Layer, d: LayerData): string | null {
  if (!api.explain) return null;
  const { x, w } = tensors(l, d);
  try { return api.explain(x, w, options(l, d, arena, 'auto', new Float32Array(outputSize(l)))).algorithm; } catch { return null; }
}

/** One call with the automatic algorithm, for the benny pass. */
export function autoCall(api: FastconvApi, arena: Arena, l: Layer, d: LayerData): () => void {
  const out = new Float32Array(outputSize(l));
  const { x, w } = tensors(l, d);
  const opts = options(l, d, arena, 'auto', out);
  const conv = l.op === 'conv1d' ? api.conv1d : api.conv2d;
  return () => { conv(x, w, opts); };
}
