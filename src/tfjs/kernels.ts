// fastconv's TF.js kernels. Each reads the tensors' typed arrays and runs fastconv with explicit 4-sided
// padding. Forward convolutions are ConvJobs (convjob.ts: a PackedConv per filter tensor keeps fastconv's
// transformed weights; NHWC 1x1 convolutions are one matrix product with no transposition) whose output
// tensor is computed when first read (deferred.ts), so a batch norm and activations after it join it.
// Whatever fastconv should not run (non-float32 data, an empty batch or output, NaN/Inf where TF.js's
// skipped padded taps and fastconv's zero-padded products differ, attributes TF.js rejects) goes to
// tfjs-backend-cpu's kernel, so the answer or the error is TF.js's own.

import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { conv2dBackward, convTranspose2d } from '../api.js';
import type { FastconvBackend } from './backend.js';
import { runCpuKernel } from './backend.js';
import { makeJob } from './convjob.js';
import type { PendingConv } from './deferred.js';
import { evaluate, LINEAR, pendingTensor } from './deferred.js';
import type { ConvGeometry, DataFormat } from './geometry.js';
import { allFinite, convGeometry, depthwiseToKCRS, filterToKCRS, kcrsToDepthwise, kcrsToFilter } from './geometry.js';

type Args = { inputs: NamedTensorInfoMap; backend: FastconvBackend; attrs?: NamedAttrMap };
type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: DataFormat;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
}

/**
 * Calls per kernel that fastconv ran and that went to tfjs-backend-cpu instead (the tests check that
 * the fast path is the one they exercise).
 */
export const kernelCounts: { fastconv: Record<string, number>; cpu: Record<string, number> } = { fastconv: {}, cpu: {} };
const count = (where: Record<string, number>, name: string) => {
  where[name] = (where[name] ?? 0) + 1;
};

/** A kernel call fastconv does not run: tfjs-backend-cpu's kernel of the same name. */
function fallbackTo(name: string, args: Args): TensorInfo {
  count(kernelCounts.cpu, name);
  return cpu(name, args);
}
const fallback = fallbackTo;

/** tfjs-backend-cpu's kernel of that name, run on our backend (a MathBackendCPU: same data store). */
function cpu(name: string, args: Args): TensorInfo {
  return runCpuKernel(name, args);
}

/** The tensor's float32 values, or null (another dtype, complex, or strings). */
function floats(backend: FastconvBackend, t: TensorInfo | undefined): Float32Array | null {
  if (t?.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId)?.values;
  return v instanceof Float32Array ? v : null;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The regular filter as [K, C, R, S] (cached per tensor). */
function regularFilter(backend: FastconvBackend, f: TensorInfo): Float32Array | null {
  if (f.dtype !== 'float32' || f.shape.length !== 4) return null;
  const [R, S, C, K] = f.shape;
  return backend.filterCopy(f.dataId, 'KCRS', (v) => filterToKCRS(v, R, S, C, K));
}

/** The depthwise filter as [C*M, 1, R, S] (cached per tensor). */
function depthwiseFilter(backend: FastconvBackend, f: TensorInfo): Float32Array | null {
  if (f.dtype !== 'float32' || f.shape.length !== 4) return null;
  const [R, S, C, M] = f.shape;
  return backend.filterCopy(f.dataId, 'depthwise', (v) => depthwiseToKCRS(v, R, S, C, M));
}

function layoutOf(g: ConvGeometry): 'NHWC' | 'NCHW' {
  return g.channelsLast ? 'NHWC' : 'NCHW';
}

/**
 * A per-output-channel vector for `t` when it is one (a scalar, [K], or NHWC's [1, ..., K]); undefined for a
 * shape that broadcasts some other way (then TF.js's own kernel applies it).
 */
function channelVector(backend: FastconvBackend, t: TensorInfo, K: number, channelsLast: boolean): Float32Array | undefined {
  const v = floats(backend, t);
  if (!v) return undefined;
  const n = size(t.shape);
  if (n === 1) return new Float32Array(K).fill(v[0]);
  if (n !== K) return undefined;
  if (t.shape.length === 1) return v;
  return channelsLast && t.shape[t.shape.length - 1] === K ? v : undefined;
}

const ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'prelu', 'leakyrelu', 'elu', 'sigmoid']);

/**
 * TF.js's activation formulas (tfjs-backend-cpu's, so NaN, -0 and the float rounding agree), in place, for
 * the activations the convolution's last pass does not apply (bits.ts does linear, relu, relu6).
 */
function activateInPlace(
  y: Float32Array,
  activation: string,
  alpha: Float32Array | null,
  leak: number,
  K: number,
  channelsLast: boolean,
  P: number
): void {
  switch (activation) {
    case 'elu':
      for (let i = 0; i < y.length; i++) {
        const v = y[i];
        y[i] = v >= 0 ? v : Math.exp(v) - 1;
      }
      break;
    case 'sigmoid':
      for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i]));
      break;
    case 'leakyrelu':
      for (let i = 0; i < y.length; i++) {
        const v = y[i];
        y[i] = v < 0 ? leak * v : v;
      }
      break;
    case 'prelu': {
      // The callers pass alpha whenever the activation is prelu.
      const a = alpha ?? new Float32Array(K);
      if (channelsLast) {
        for (let i = 0; i < y.length; i++) {
          const v = y[i];
          y[i] = v < 0 ? a[i % K] * v : v;
        }
      } else {
        for (let i = 0; i < y.length; i++) {
          const v = y[i];
          y[i] = v < 0 ? a[Math.floor(i / P) % K] * v : v;
        }
      }
      break;
    }
    default:
      break;
  }
}

interface Forward {
  depthwise: boolean;
  fused: boolean;
}

/**
 * tfjs-backend-cpu's depthwise kernels read the data as NHWC whatever dataFormat says; fastconv honours
 * NCHW, so the cases it leaves to cpu (an empty output plane, say) run there transposed, to agree with it.
 */
function depthwiseFallback(name: string, args: Args): TensorInfo {
  const attrs = (args.attrs ?? {}) as unknown as ConvAttrs;
  const x = args.inputs.x as TensorInfo | undefined;
  if (attrs.dataFormat !== 'NCHW' || !x || x.shape.length !== 4) return fallback(name, args);
  const { backend } = args;
  const xt = cpu('Transpose', { inputs: { x }, backend, attrs: { perm: [0, 2, 3, 1] } });
  const pad = Array.isArray(attrs.pad) ? [[0, 0], attrs.pad[2], attrs.pad[3], [0, 0]] : attrs.pad;
  try {
    const y = fallback(name, {
      ...args,
      inputs: { ...args.inputs, x: xt },
      attrs: { ...args.attrs, pad, dataFormat: 'NHWC' } as NamedAttrMap,
    });
    const out = cpu('Transpose', { inputs: { x: y }, backend, attrs: { perm: [0, 3, 1, 2] } });
    backend.disposeIntermediateTensorInfo(y);
    return out;
  } finally {
    backend.disposeIntermediateTensorInfo(xt);
  }
}

/** Conv2D, FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2D. */
function forward(name: string, kind: Forward): KernelFunc {
  const fallback = kind.depthwise ? depthwiseFallback : fallbackTo;
  return ((args: Args): TensorInfo => {
    const { inputs, backend } = args;
    const attrs = (args.attrs ?? {}) as unknown as ConvAttrs;
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const activation = kind.fused ? (attrs.activation ?? 'linear') : 'linear';
    // An unknown activation or prelu without weights: TF.js's own error.
    if (!x || !filter || !ACTIVATIONS.has(activation) || (activation === 'prelu' && !preluActivationWeights))
      return fallback(name, args);
    const xv = floats(backend, x);
    const g =
      xv &&
      convGeometry(
        x.shape,
        filter.shape,
        attrs.strides,
        attrs.dilations,
        attrs.pad,
        attrs.dimRoundingMode,
        kind.depthwise,
        attrs.dataFormat
      );
    if (!xv || !g) return fallback(name, args);
    const { info } = g;
    const K = info.outChannels;

    let biasVec: Float32Array | null = null;
    let biasLater = false;
    if (bias) {
      const v = channelVector(backend, bias, K, g.channelsLast);
      if (v) biasVec = v;
      else biasLater = true;
    }
    let alpha: Float32Array | null = null;
    let alphaLater = false;
    if (activation === 'prelu') {
      const v = preluActivationWeights ? channelVector(backend, preluActivationWeights, K, g.channelsLast) : undefined;
      if (v) alpha = v;
      else alphaLater = true;
    }
    // A bias broadcast some other way comes before the activation: from there on TF.js's kernels run.
    const activationHere = !biasLater && !alphaLater;

    const isPointwise = pointwise(g, kind.depthwise);
    const fv = floats(backend, filter);
    const kcrs = isPointwise ? null : kind.depthwise ? depthwiseFilter(backend, filter) : regularFilter(backend, filter);
    const job =
      fv && (isPointwise || kcrs)
        ? makeJob(
            backend,
            {
              pointwise: isPointwise,
              depthwise: kind.depthwise,
              g,
              xv,
              filterId: filter.dataId,
              filter: fv,
              kcrs,
              bias: biasVec,
              biasId: biasVec && bias ? bias.dataId : null,
            },
            null
          )
        : null;
    if (!job) return fallback(name, args);
    count(kernelCounts.fastconv, name);
    if (activationHere && EPILOGUE_ACTIVATIONS.has(activation)) {
      const p: PendingConv = { job, epi: { ...LINEAR, act: activation as 'linear' | 'relu' | 'relu6' } };
      if (backend.deferConvolutions) return pendingTensor(backend, info.outShape, p);
      return backend.makeTensorInfo(info.outShape, 'float32', evaluate(backend, p));
    }
    const y = evaluate(backend, { job, epi: LINEAR });
    if (activationHere) {
      activateInPlace(y, activation, alpha, attrs.leakyreluAlpha ?? 0.2, K, g.channelsLast, info.outHeight * info.outWidth);
      return backend.makeTensorInfo(info.outShape, 'float32', y);
    }
    let result = backend.makeTensorInfo(info.outShape, 'float32', y);
    if (bias && biasLater) {
      const old = result;
      result = cpu('Add', { inputs: { a: result, b: bias }, backend });
      backend.disposeIntermediateTensorInfo(old);
    }
    if (activation !== 'linear') {
      const old = result;
      result = applyActivationByKernel(backend, result, activation, preluActivationWeights, attrs.leakyreluAlpha, g.channelsLast);
      backend.disposeIntermediateTensorInfo(old);
    }
    return result;
  }) as unknown as KernelFunc;
}

/** The fused activations an epilogue applies (the others run on the evaluated output). */
const EPILOGUE_ACTIVATIONS = new Set(['linear', 'relu', 'relu6']);

/** A channels-last 1x1 convolution without padding: one matrix product over the pixels (convjob.ts). */
function pointwise(g: ConvGeometry, depthwise: boolean): boolean {
  const { info, padding } = g;
  return g.channelsLast && !depthwise && info.filterHeight === 1 && info.filterWidth === 1 && padding.every((p) => p === 0);
}

/** The activation through TF.js's own kernels (the shapes activateInPlace does not take). */
function applyActivationByKernel(
  backend: FastconvBackend,
  x: TensorInfo,
  activation: string,
  alpha: TensorInfo | undefined,
  leak: number | undefined,
  channelsLast: boolean
): TensorInfo {
  switch (activation) {
    case 'relu':
      return cpu('Relu', { inputs: { x }, backend });
    case 'relu6':
      return cpu('Relu6', { inputs: { x }, backend });
    case 'elu':
      return cpu('Elu', { inputs: { x }, backend });
    case 'sigmoid':
      return cpu('Sigmoid', { inputs: { x }, backend });
    case 'leakyrelu':
      return cpu('LeakyRelu', { inputs: { x }, backend, attrs: { alpha: leak ?? 0.2 } });
    case 'prelu': {
      if (!alpha) throw new Error('Error in fused conv2d: prelu activation needs preluActivationWeights');
      if (!channelsLast && alpha.shape.length === 1 && alpha.shape[0] !== 1) {
        // As tfjs-backend-cpu does: a 1-D alpha follows the channels, which NCHW puts before the spatial dims.
        const r = cpu('Reshape', { inputs: { x: alpha }, backend, attrs: { shape: [alpha.shape[0], 1, 1] } });
        const out = cpu('Prelu', { inputs: { x, alpha: r }, backend });
        backend.disposeIntermediateTensorInfo(r);
        return out;
      }
      return cpu('Prelu', { inputs: { x, alpha }, backend });
    }
    default:
      return cpu('Identity', { inputs: { x }, backend });
  }
}

/** Conv2DBackpropInput, DepthwiseConv2dNativeBackpropInput: the transposed convolution of dy. */
function backpropInput(name: string, depthwise: boolean): KernelFunc {
  return ((args: Args): TensorInfo => {
    const { inputs, backend } = args;
    const attrs = (args.attrs ?? {}) as unknown as ConvAttrs;
    const { dy, filter } = inputs as Record<string, TensorInfo | undefined>;
    const inputShape = attrs.inputShape;
    if (!dy || !filter || !Array.isArray(inputShape)) return fallback(name, args);
    const dyv = floats(backend, dy);
    // Conv2DBackpropInput has no dilations attribute (TF.js: 1); the depthwise one has.
    const g =
      dyv &&
      convGeometry(
        inputShape.slice(),
        filter.shape,
        attrs.strides,
        depthwise ? attrs.dilations : 1,
        attrs.pad,
        attrs.dimRoundingMode,
        depthwise,
        depthwise ? 'NHWC' : attrs.dataFormat
      );
    if (!dyv || !g || !sameShape(dy.shape, g.info.outShape) || !allFinite(dyv)) return fallback(name, args);
    const { info } = g;
    const C = info.inChannels,
      K = info.outChannels;
    const w = depthwise ? depthwiseFilter(backend, filter) : regularFilter(backend, filter);
    if (!w) return fallback(name, args);
    count(kernelCounts.fastconv, name);
    // The forward weight [K, C/groups, R, S] is exactly the transposed convolution's [C_t, K_t/groups, R, S].
    const dx = convTranspose2d(
      { data: dyv, shape: dy.shape.slice() },
      { data: w, shape: [K, depthwise ? 1 : C, info.filterHeight, info.filterWidth] },
      {
        stride: g.stride,
        dilation: g.dilation,
        padding: g.padding,
        outputPadding: g.outputPadding,
        layout: layoutOf(g),
        groups: depthwise ? C : 1,
      }
    ).data;
    return backend.makeTensorInfo(inputShape.slice(), 'float32', dx);
  }) as unknown as KernelFunc;
}

/** Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter: fastconv's grad-weight. */
function backpropFilter(name: string, depthwise: boolean): KernelFunc {
  return ((args: Args): TensorInfo => {
    const { inputs, backend } = args;
    const attrs = (args.attrs ?? {}) as unknown as ConvAttrs;
    const { x, dy } = inputs as Record<string, TensorInfo | undefined>;
    const filterShape = attrs.filterShape;
    if (!x || !dy || !Array.isArray(filterShape)) return fallback(name, args);
    const xv = floats(backend, x),
      dyv = floats(backend, dy);
    const g =
      xv &&
      dyv &&
      convGeometry(
        x.shape,
        filterShape.slice(),
        attrs.strides,
        depthwise ? attrs.dilations : 1,
        attrs.pad,
        attrs.dimRoundingMode,
        depthwise,
        depthwise ? 'NHWC' : attrs.dataFormat
      );
    if (!xv || !dyv || !g || !sameShape(dy.shape, g.info.outShape) || !allFinite(dyv)) return fallback(name, args);
    const { info } = g;
    const C = info.inChannels,
      K = info.outChannels,
      R = info.filterHeight,
      S = info.filterWidth;
    const wShape = [K, depthwise ? 1 : C, R, S];
    count(kernelCounts.fastconv, name);
    // The weight's values are not read for grad-weight, only its shape: zeros stand in.
    const { gradWeight } = conv2dBackward(
      { data: xv, shape: x.shape.slice() },
      { data: new Float32Array(size(wShape)), shape: wShape },
      { data: dyv, shape: dy.shape.slice() },
      {
        stride: g.stride,
        dilation: g.dilation,
        padding: g.padding,
        layout: layoutOf(g),
        groups: depthwise ? C : 1,
        needs: ['weight'],
      }
    );
    if (!gradWeight) throw new Error('fastconv/tfjs: conv2dBackward returned no weight gradient');
    const gw = gradWeight.data;
    const out = depthwise ? kcrsToDepthwise(gw, R, S, C, K / C) : kcrsToFilter(gw, R, S, C, K);
    return backend.makeTensorInfo(filterShape.slice(), 'float32', out);
  }) as unknown as KernelFunc;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The kernels fastconv registers for the 'fastconv' backend. */
export const FASTCONV_KERNELS: KernelConfig[] = [
  ['Conv2D', forward('Conv2D', { depthwise: false, fused: false })],
  ['FusedConv2D', forward('FusedConv2D', { depthwise: false, fused: true })],
  ['DepthwiseConv2dNative', forward('DepthwiseConv2dNative', { depthwise: true, fused: false })],
  ['FusedDepthwiseConv2D', forward('FusedDepthwiseConv2D', { depthwise: true, fused: true })],
  ['Conv2DBackpropInput', backpropInput('Conv2DBackpropInput', false)],
  ['DepthwiseConv2dNativeBackpropInput', backpropInput('DepthwiseConv2dNativeBackpropInput', true)],
  ['Conv2DBackpropFilter', backpropFilter('Conv2DBackpropFilter', false)],
  ['DepthwiseConv2dNativeBackpropFilter', backpropFilter('DepthwiseConv2dNativeBackpropFilter', true)],
].map(([kernelName, kernelFunc]) => ({
  kernelName: kernelName as string,
  backendName: 'fastconv',
  kernelFunc: kernelFunc as KernelFunc,
}));
