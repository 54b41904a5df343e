// Type tests of the public API, for both entry points: a change to an exported signature or to the
// shape of Tensor, ConvOptions, Explanation or BackendInfo fails `npm test` here (pretest type-checks
// this file with test/tsconfig.json) instead of surfacing in users' builds. The file is never run:
// expectTypeOf and the @ts-expect-error lines are compile-time assertions, and vitest's runtime
// include (*.test.ts) leaves *.test-d.ts out.
//
// Exact equality for what users write and read (Tensor, the option objects, every function's parameters
// and result); for Explanation and BackendInfo, exact on the fields users read, so either may gain fields.

import { expectTypeOf } from 'vitest';
import * as browser from '../src/index.browser.js';
import * as node from '../src/index.node.js';

type Tensor = { data: Float32Array; shape: number[] };
type IndexTensor = { data: Int32Array; shape: number[] };
type Algorithm = 'direct' | 'im2col' | 'winograd' | 'fft';
type BackendName = 'native' | 'wasm' | 'js';
type BackendChoice = 'auto' | BackendName | 'wasm-relaxed' | 'wasm-simd' | 'wasm-scalar';
type Layout = 'NCHW' | 'NHWC' | 'NCW' | 'NWC';
type Ints = number | readonly number[];
type ConvOptions = {
  bias?: Float32Array | null;
  stride?: Ints;
  padding?: number | readonly number[] | 'same' | 'valid';
  dilation?: Ints;
  groups?: number;
  layout?: Layout;
  activation?: 'none' | 'relu' | 'relu6';
  out?: Float32Array;
  backend?: BackendChoice;
  algorithm?: 'auto' | Algorithm;
  tune?: boolean;
};
type Gradients = { gradInput?: Tensor; gradWeight?: Tensor; gradBias?: Float32Array };
type Pooled = { output: Tensor; indices: IndexTensor };

declare const x: node.Tensor;
declare const w: node.Tensor;
declare const gy: node.Tensor;
declare const flag: boolean;

// ---- the data types ----
expectTypeOf<node.Tensor>().toEqualTypeOf<Tensor>();
expectTypeOf<node.IndexTensor>().toEqualTypeOf<IndexTensor>();
expectTypeOf<node.ConvOptions>().toEqualTypeOf<ConvOptions>();
expectTypeOf<node.Padding>().toEqualTypeOf<number | readonly number[] | 'same' | 'valid'>();
expectTypeOf<node.Layout>().toEqualTypeOf<Layout>();
expectTypeOf<node.Algorithm>().toEqualTypeOf<Algorithm>();
expectTypeOf<node.BackendName>().toEqualTypeOf<BackendName>();
expectTypeOf<node.BackendChoice>().toEqualTypeOf<BackendChoice>();
expectTypeOf<node.GradientName>().toEqualTypeOf<'input' | 'weight' | 'bias'>();
expectTypeOf<node.Gradients>().toEqualTypeOf<Gradients>();
expectTypeOf<Omit<node.BackwardOptions, 'needs'>>().toEqualTypeOf<Omit<ConvOptions, 'out'>>();
expectTypeOf<node.BackwardOptions['needs']>().toEqualTypeOf<readonly ('input' | 'weight' | 'bias')[] | undefined>();
expectTypeOf<node.PoolLayout>().toEqualTypeOf<'NCHW' | 'NHWC'>();
expectTypeOf<node.Parameter>().toEqualTypeOf<{ data: Float32Array; shape: number[]; grad: Float32Array }>();

expectTypeOf<
  Pick<node.Explanation, 'backend' | 'isa' | 'threads' | 'asyncThreads' | 'algorithm' | 'reason' | 'outputShape'>
>().toEqualTypeOf<{
  backend: BackendName;
  isa: string;
  threads: number;
  asyncThreads: number;
  algorithm: Algorithm;
  reason: string;
  outputShape: number[];
}>();
expectTypeOf<Pick<node.Explanation['params'], 'N' | 'C' | 'H' | 'W' | 'K' | 'OH' | 'OW' | 'groups' | 'relu'>>().toEqualTypeOf<{
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  OH: number;
  OW: number;
  groups: number;
  relu: boolean;
}>();

expectTypeOf<
  Pick<node.BackendInfo, 'selected' | 'wasmVariant' | 'isa' | 'threads' | 'threadsOff' | 'forced' | 'reason'>
>().toEqualTypeOf<{
  selected: BackendName;
  wasmVariant: 'relaxed' | 'simd' | 'scalar' | null;
  isa: string;
  threads: number;
  threadsOff: string | null;
  forced: BackendChoice;
  reason: string;
}>();
expectTypeOf<node.BackendInfo['probe']>().toEqualTypeOf<node.ProbeResult[]>();
expectTypeOf<Omit<node.ProbeResult, 'key'>>().toEqualTypeOf<{
  ok: boolean;
  medianMs?: number;
  gflops?: number;
  error?: string;
}>();
expectTypeOf<node.BackendInfo['errors']>().toEqualTypeOf<Partial<Record<node.ProbeResult['key'], string>>>();

// ---- convolution ----
type Conv<R> = (input: Tensor, weight: Tensor, options?: ConvOptions) => R;
expectTypeOf(node.conv2d).toEqualTypeOf<Conv<Tensor>>();
expectTypeOf(node.conv1d).toEqualTypeOf<Conv<Tensor>>();
expectTypeOf(node.conv2dAsync).toEqualTypeOf<Conv<Promise<Tensor>>>();
expectTypeOf(node.conv1dAsync).toEqualTypeOf<Conv<Promise<Tensor>>>();
expectTypeOf(node.explain).toEqualTypeOf<Conv<node.Explanation>>();
expectTypeOf(node.outputShape).parameters.toEqualTypeOf<
  [inputShape: readonly number[], weightShape: readonly number[], options?: ConvOptions]
>();
expectTypeOf(node.outputShape).returns.toEqualTypeOf<number[]>();
// @ts-expect-error a bare Float32Array is not a tensor: the input needs its shape
node.conv2d(new Float32Array(4), w);
// @ts-expect-error options are checked: activation names are lower case
node.conv2d(x, w, { activation: 'Relu' });

type Backward<R> = (input: Tensor, weight: Tensor, gradOutput: Tensor, options?: node.BackwardOptions) => R;
expectTypeOf(node.conv2dBackward).toEqualTypeOf<Backward<Gradients>>();
expectTypeOf(node.conv1dBackward).toEqualTypeOf<Backward<Gradients>>();
expectTypeOf(node.conv2dBackwardAsync).toEqualTypeOf<Backward<Promise<Gradients>>>();
expectTypeOf(node.conv1dBackwardAsync).toEqualTypeOf<Backward<Promise<Gradients>>>();
// @ts-expect-error the backward has no output buffer option
node.conv2dBackward(x, w, gy, { out: new Float32Array(1) });

type Transpose<R> = (input: Tensor, weight: Tensor, options?: node.ConvTransposeOptions) => R;
expectTypeOf(node.convTranspose2d).toEqualTypeOf<Transpose<Tensor>>();
expectTypeOf(node.convTranspose1d).toEqualTypeOf<Transpose<Tensor>>();
expectTypeOf(node.convTranspose2dAsync).toEqualTypeOf<Transpose<Promise<Tensor>>>();
expectTypeOf(node.convTranspose1dAsync).toEqualTypeOf<Transpose<Promise<Tensor>>>();
expectTypeOf<node.ConvTransposeOptions>().toEqualTypeOf<{
  bias?: Float32Array | null;
  stride?: Ints;
  padding?: Ints;
  outputPadding?: Ints;
  dilation?: Ints;
  groups?: number;
  layout?: Layout;
  backend?: BackendChoice;
  algorithm?: 'auto' | Algorithm;
}>();

// ---- pooling: maxPool2d's result follows returnIndices ----
expectTypeOf(node.maxPool2d(x, { kernelSize: 2 })).toEqualTypeOf<Tensor>();
expectTypeOf(node.maxPool2d(x, { kernelSize: [2, 2], returnIndices: false })).toEqualTypeOf<Tensor>();
expectTypeOf(node.maxPool2d(x, { kernelSize: 2, returnIndices: true })).toEqualTypeOf<Pooled>();
expectTypeOf(node.maxPool2dAsync(x, { kernelSize: 2 })).toEqualTypeOf<Promise<Tensor>>();
expectTypeOf(node.maxPool2dAsync(x, { kernelSize: 2, returnIndices: true })).toEqualTypeOf<Promise<Pooled>>();
// A returnIndices only known at run time types as the plain tensor (the overloads pick on the literal).
expectTypeOf(node.maxPool2d(x, { kernelSize: 2, returnIndices: flag })).toEqualTypeOf<Tensor>();
// @ts-expect-error without returnIndices: true there are no indices
void node.maxPool2d(x, { kernelSize: 2 }).indices;
// @ts-expect-error kernelSize is required
node.maxPool2d(x, {});
expectTypeOf(node.maxPool2dBackward).parameters.toEqualTypeOf<
  [gradOutput: Tensor, input: Tensor | { shape: number[] }, options: node.MaxPoolOptions & { indices?: IndexTensor }]
>();
expectTypeOf(node.maxPool2dBackward).returns.toEqualTypeOf<Tensor>();
expectTypeOf(node.avgPool2d).parameters.toEqualTypeOf<[input: Tensor, options: node.AvgPoolOptions]>();
expectTypeOf(node.avgPool2d).returns.toEqualTypeOf<Tensor>();
expectTypeOf(node.avgPool2dBackward).returns.toEqualTypeOf<Tensor>();
expectTypeOf(node.avgPool2dAsync).returns.toEqualTypeOf<Promise<Tensor>>();
expectTypeOf(node.avgPool2dBackwardAsync).returns.toEqualTypeOf<Promise<Tensor>>();
expectTypeOf(node.maxPool2dBackwardAsync).returns.toEqualTypeOf<Promise<Tensor>>();
expectTypeOf<node.MaxPoolOptions>().toEqualTypeOf<{
  kernelSize: Ints;
  stride?: Ints;
  padding?: Ints;
  dilation?: Ints;
  ceilMode?: boolean;
  returnIndices?: boolean;
  layout?: 'NCHW' | 'NHWC';
}>();
expectTypeOf<node.AvgPoolOptions>().toEqualTypeOf<{
  kernelSize: Ints;
  stride?: Ints;
  padding?: Ints;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  layout?: 'NCHW' | 'NHWC';
}>();

// ---- layers ----
for (const Layer of [node.Conv2d, node.Conv1d] as const) {
  const a = new Layer(3, 8, 3);
  const b = new Layer(3, 8, [3, 3], { stride: 2, padding: 'same', bias: false, seed: 1 });
  const c = new Layer({ inChannels: 3, outChannels: 8, kernelSize: 3, activation: 'relu' });
  expectTypeOf(a).toEqualTypeOf(b);
  expectTypeOf(a).toEqualTypeOf(c);
  expectTypeOf(a.forward).parameters.toEqualTypeOf<[input: Tensor, out?: Float32Array]>();
  expectTypeOf(a.forward).returns.toEqualTypeOf<Tensor>();
  expectTypeOf(a.forwardAsync).returns.toEqualTypeOf<Promise<Tensor>>();
  expectTypeOf(a.backward).parameters.toEqualTypeOf<[gradOutput: Tensor, needs?: readonly ('input' | 'weight' | 'bias')[]]>();
  expectTypeOf(a.backward).returns.toEqualTypeOf<Gradients>();
  expectTypeOf(a.backwardAsync).returns.toEqualTypeOf<Promise<Gradients>>();
  expectTypeOf(a.weight).toEqualTypeOf<node.Parameter>();
  expectTypeOf(a.bias).toEqualTypeOf<node.Parameter | null>();
  expectTypeOf(a.algorithm).toEqualTypeOf<Algorithm | undefined>();
  expectTypeOf(a.inChannels).toEqualTypeOf<number>();
  expectTypeOf(a.kernelSize).toEqualTypeOf<number[]>();
  expectTypeOf(a.numParameters()).toEqualTypeOf<number>();
  expectTypeOf(a.packedWeightBytes).toEqualTypeOf<number>();
  expectTypeOf(a.zeroGrad).returns.toEqualTypeOf<void>();
  expectTypeOf(a.weightsChanged).returns.toEqualTypeOf<void>();
  expectTypeOf(a.dispose).returns.toEqualTypeOf<void>();
  // @ts-expect-error the positional form needs the kernel size
  new Layer(3, 8);
  // @ts-expect-error the options form needs outChannels
  new Layer({ inChannels: 3, kernelSize: 3 });
  // @ts-expect-error inChannels is read-only
  a.inChannels = 4;
}
expectTypeOf<node.ConvLayerRest>().toEqualTypeOf<Omit<node.ConvLayerOptions, 'inChannels' | 'outChannels' | 'kernelSize'>>();

// ---- backends and threads ----
expectTypeOf(node.backendInfo).parameters.toEqualTypeOf<[]>();
expectTypeOf(node.backendInfo).returns.toEqualTypeOf<node.BackendInfo>();
expectTypeOf(node.setBackend).parameters.toEqualTypeOf<[name: BackendChoice]>();
expectTypeOf(node.setBackend).returns.toEqualTypeOf<void>();
// @ts-expect-error not a backend
node.setBackend('gpu');
expectTypeOf(node.setNumThreads).parameters.toEqualTypeOf<[n: number]>();
expectTypeOf(node.setNumThreads).returns.toEqualTypeOf<void>();
expectTypeOf(node.disposeWasmThreads).toEqualTypeOf<() => void>();

// ---- the two entry points: the same API except ready() ----
expectTypeOf(node.ready).toEqualTypeOf<() => Promise<void>>();
// @ts-expect-error Node loads every backend at import: ready() takes no options there
void node.ready({ wasm: {} });
expectTypeOf(browser.ready).parameters.toEqualTypeOf<[opts?: browser.ReadyOptions]>();
expectTypeOf(browser.ready).returns.toEqualTypeOf<Promise<void>>();
type WasmBuild = 'simd' | 'relaxed' | 'scalar' | 'simd-threads' | 'relaxed-threads';
expectTypeOf<browser.ReadyOptions>().toEqualTypeOf<{ wasm?: Partial<Record<WasmBuild, string | URL | BufferSource>> }>();
void browser.ready({ wasm: { simd: '/static/fastconv-simd.wasm', scalar: new URL('https://example.org/s.wasm') } });
// @ts-expect-error not a wasm build
void browser.ready({ wasm: { avx512: '/x.wasm' } });

// The same names, and every shared export with the same type.
expectTypeOf<keyof typeof browser>().toEqualTypeOf<keyof typeof node>();
type Shared = Exclude<keyof typeof node, 'ready'>;
expectTypeOf<Pick<typeof browser, Shared>>().toEqualTypeOf<Pick<typeof node, Shared>>();
expectTypeOf<browser.Tensor>().toEqualTypeOf<node.Tensor>();
expectTypeOf<browser.ConvOptions>().toEqualTypeOf<node.ConvOptions>();
expectTypeOf<browser.Explanation>().toEqualTypeOf<node.Explanation>();
expectTypeOf<browser.BackendInfo>().toEqualTypeOf<node.BackendInfo>();
expectTypeOf<browser.Gradients>().toEqualTypeOf<node.Gradients>();
expectTypeOf<browser.ConvTransposeOptions>().toEqualTypeOf<node.ConvTransposeOptions>();
expectTypeOf<browser.MaxPoolOptions>().toEqualTypeOf<node.MaxPoolOptions>();
expectTypeOf<browser.AvgPoolOptions>().toEqualTypeOf<node.AvgPoolOptions>();
expectTypeOf<browser.ConvLayerOptions>().toEqualTypeOf<node.ConvLayerOptions>();
