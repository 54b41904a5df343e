// Conv2d / Conv1d layers in the spirit of torch.nn.Conv2d: they own their weight and bias (initialized as
// PyTorch's reset_parameters does), run forward through the public conv functions and backward through
// src/backward.ts, and accumulate parameter gradients in `.weight.grad` / `.bias.grad`.
//
// Transformed weights (GEMM panels, Winograd-domain filters, FFT spectra) are made once per layer and
// backend and kept in a WeightStore between forward calls. The store is cleared whenever the weights may
// have changed: on assignment of .weight, on every read of .weight.data (the way to change them in place),
// and on backward() (an optimizer step follows). Code that keeps a reference to the weight array and
// writes through it later must call weightsChanged().

import type { Algorithm, Backend, WeightStore } from './backends/types.js';
import { ALGORITHMS } from './backends/types.js';
import type { BackwardOptions, GradientName, Gradients } from './backward.js';
import { conv1dBackward, conv1dBackwardAsync, conv2dBackward, conv2dBackwardAsync } from './backward.js';
import type { CallContext } from './conv.js';
import { convolve, convolveAsync } from './conv.js';
import type { BackendChoice, ConvOptions, Layout, Padding, Tensor } from './shape.js';
import {
  ACTIVATIONS,
  checkBackendChoice,
  checkEnum,
  checkOptionsObject,
  checkPositiveInt,
  MAX_ELEMENTS,
  perDim,
  readTensor,
  resolvePadding,
  tensorArg,
} from './shape.js';

/** A trainable tensor: its data, shape and the gradient accumulated by backward() since zeroGrad(). */
export interface Parameter extends Tensor {
  grad: Float32Array;
}

export interface ConvLayerOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number | readonly number[];
  stride?: number | readonly number[];
  padding?: Padding;
  dilation?: number | readonly number[];
  groups?: number;
  /** Learnable bias (default true). */
  bias?: boolean;
  backend?: BackendChoice;
  algorithm?: 'auto' | Algorithm;
  layout?: Layout;
  activation?: 'none' | 'relu' | 'relu6';
  /** Seed for the initial weights (reproducible); default Math.random. */
  seed?: number;
  /** Time every applicable algorithm on the first forward of each input shape and keep the fastest. */
  tune?: boolean;
}

const LAYER_OPTION_KEYS = [
  'inChannels',
  'outChannels',
  'kernelSize',
  'stride',
  'padding',
  'dilation',
  'groups',
  'bias',
  'backend',
  'algorithm',
  'layout',
  'activation',
  'seed',
  'tune',
];

/** mulberry32: a small seedable generator, enough to make initial weights reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(n: number, bound: number, random: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (random() * 2 - 1) * bound;
  return a;
}

/** The validated parameter and the array behind it (read internally without going through the getter). */
function asParameter(name: string, t: Tensor, shape: number[], dims: string, onRead: () => void): [Parameter, Float32Array] {
  const g = (t as Partial<Parameter> | null)?.grad;
  const { data, shape: s } = tensorArg(name, t, shape.length, dims);
  if (s.some((d, i) => d !== shape[i]))
    throw new RangeError(`${name} must have shape [${shape.join(', ')}], got [${s.join(', ')}]`);
  const grad = g instanceof Float32Array && g.length === data.length ? g : new Float32Array(data.length);
  // Reading .data is how callers change weights in place, so it invalidates the transformed copies.
  const param = {
    get data() {
      onRead();
      return data;
    },
    shape: s,
    grad,
  };
  return [param as Parameter, data];
}

abstract class ConvLayer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  private readonly settings: ConvOptions;
  private readonly weightShape: number[];
  private w!: Parameter;
  private wData!: Float32Array;
  private b: Parameter | null = null;
  private bData: Float32Array | null = null;
  /** Transformed weights per backend that keeps them (native, wasm). */
  private readonly stores = new Map<Backend, WeightStore>();
  private readonly context: CallContext = {
    store: (backend) => {
      if (this.disposed || !backend.createWeightStore) return undefined;
      let s = this.stores.get(backend);
      if (!s) {
        s = backend.createWeightStore();
        this.stores.set(backend, s);
      }
      return s;
    },
  };
  private lastInput: Tensor | null = null;
  /** 1 where the fused activation's derivative was 1 at the last forward: y > 0 for ReLU, 0 < y < 6 for ReLU6 (PyTorch's hardtanh backward; NaN gives 0). */
  private reluMask: Uint8Array | null = null;
  private lastAlgorithm: Algorithm | undefined;
  private disposed = false;

  protected constructor(
    private readonly dims: 1 | 2,
    options: ConvLayerOptions
  ) {
    const o = checkOptionsObject('layer options', options) as unknown as ConvLayerOptions;
    for (const key of Object.keys(o)) {
      if (!LAYER_OPTION_KEYS.includes(key))
        throw new TypeError(`options.${key} is not a known layer option (known: ${LAYER_OPTION_KEYS.join(', ')})`);
    }
    this.inChannels = checkPositiveInt('inChannels', o.inChannels);
    this.outChannels = checkPositiveInt('outChannels', o.outChannels);
    const groups = o.groups === undefined ? 1 : checkPositiveInt('groups', o.groups);
    if (this.inChannels % groups !== 0) throw new RangeError(`groups (${groups}) must divide inChannels (${this.inChannels})`);
    if (this.outChannels % groups !== 0) throw new RangeError(`groups (${groups}) must divide outChannels (${this.outChannels})`);
    if (o.tune !== undefined && typeof o.tune !== 'boolean') throw new TypeError(`tune must be a boolean, got ${typeof o.tune}`);
    if (o.kernelSize === undefined) throw new TypeError('kernelSize is required (a number or an array of one per dimension)');
    this.kernelSize = perDim('kernelSize', o.kernelSize, dims, 1);
    const stride = perDim('stride', o.stride, dims, 1, 1),
      dilation = perDim('dilation', o.dilation, dims, 1, 1);
    resolvePadding(o.padding, dims, this.kernelSize, dilation, stride); // fail at construction, not at the first forward
    this.settings = {
      stride,
      dilation,
      padding: o.padding,
      groups,
      backend: o.backend,
      algorithm: o.algorithm,
      layout: o.layout,
      activation: o.activation,
      tune: o.tune,
    };
    this.weightShape = [this.outChannels, this.inChannels / groups, ...this.kernelSize];
    const weightCount = this.weightShape.reduce((a, b) => a * b, 1);
    if (weightCount > MAX_ELEMENTS) {
      throw new RangeError(
        `outChannels x inChannels/groups x kernelSize: the weight would be [${this.weightShape.join(', ')}], ` +
          `${weightCount} elements, more than the supported ${MAX_ELEMENTS}`
      );
    }
    // The layout and the other call options are checked now, not at the first forward (where a bad
    // layout would surface as a channel mismatch).
    const layouts = dims === 2 ? (['NCHW', 'NHWC'] as const) : (['NCW', 'NWC'] as const);
    checkEnum<string>('layout', o.layout, layouts, layouts[0]);
    checkEnum('activation', o.activation, ACTIVATIONS, 'none');
    checkBackendChoice('backend', o.backend);
    checkEnum<string>('algorithm', o.algorithm, ['auto', ...ALGORITHMS], 'auto');

    // PyTorch's reset_parameters: kaiming_uniform_(a = sqrt(5)) gives bound = gain * sqrt(3 / fan_in) with
    // gain = sqrt(2 / (1 + 5)), i.e. exactly 1 / sqrt(fan_in); the bias uses the same bound.
    const fanIn = this.weightShape.slice(1).reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    const random = o.seed === undefined ? Math.random : seeded(checkPositiveInt('seed', o.seed, 0));
    this.weight = {
      data: uniform(
        this.weightShape.reduce((a, b) => a * b, 1),
        bound,
        random
      ),
      shape: this.weightShape,
    };
    if (o.bias ?? true) this.bias = { data: uniform(this.outChannels, bound, random), shape: [this.outChannels] };
  }

  get weight(): Parameter {
    return this.w;
  }
  /** Replaces the weight (shape [K, C/groups, ...kernel] checked); its `grad` is kept if it has one. */
  set weight(t: Tensor) {
    [this.w, this.wData] = asParameter(
      'weight',
      t,
      this.weightShape,
      this.dims === 2 ? '[K, C/groups, R, S]' : '[K, C/groups, R]',
      () => this.weightsChanged()
    );
    this.weightsChanged();
  }

  get bias(): Parameter | null {
    return this.b;
  }
  set bias(t: Tensor | null) {
    if (t === null) {
      this.b = this.bData = null;
      return;
    }
    // The bias is passed to every call as is: nothing to invalidate.
    [this.b, this.bData] = asParameter('bias', t, [this.outChannels], '[K]', () => {});
  }

  /** Drops the transformed weights; call after writing to a weight array obtained before the last forward. */
  weightsChanged(): void {
    for (const s of this.stores.values()) s.clear();
  }

  /** Bytes of transformed weights this layer holds in backend memory (0 after dispose()). */
  get packedWeightBytes(): number {
    let total = 0;
    for (const s of this.stores.values()) total += s.bytes;
    return total;
  }

  numParameters(): number {
    return this.wData.length + (this.bData ? this.bData.length : 0);
  }

  /** The algorithm the last forward used (undefined before the first forward). */
  get algorithm(): Algorithm | undefined {
    return this.lastAlgorithm;
  }

  /** The weight as the calls see it (its array read without invalidating the stores). */
  private weightTensor(): Tensor {
    return { data: this.wData, shape: this.w.shape };
  }

  /**
   * The call options for this layer. One literal with fixed keys: a spread with a conditional part built
   * a new hidden class on every call, which cost a tiny layer (LeNet's) more than its convolution
   * (bench/README.md).
   */
  private convOptions(out?: Float32Array): ConvOptions {
    const s = this.settings;
    return {
      stride: s.stride,
      dilation: s.dilation,
      padding: s.padding,
      groups: s.groups,
      backend: s.backend,
      algorithm: s.algorithm,
      layout: s.layout,
      activation: s.activation,
      tune: s.tune,
      bias: this.bData,
      out,
    };
  }

  /**
   * The input read once (readTensor), its channel count checked against inChannels: a mismatch is the
   * input's fault, not the weight's, whatever the convolution's own check would say.
   */
  private checkInput(input: Tensor): Tensor {
    const t = readTensor(input, 'input') as Tensor;
    const shape = t?.shape;
    if (Array.isArray(shape)) {
      const unbatched = shape.length === this.dims + 1;
      const last = this.settings.layout === 'NHWC' || this.settings.layout === 'NWC';
      const at = last ? shape.length - 1 : unbatched ? 0 : 1;
      if ((unbatched || shape.length === this.dims + 2) && typeof shape[at] === 'number' && shape[at] !== this.inChannels) {
        throw new RangeError(
          `input.shape[${at}] (channels) must be this layer's inChannels = ${this.inChannels}, got ${shape[at]}`
        );
      }
    }
    return t;
  }

  private alive(): void {
    if (this.disposed) throw new Error('this layer was disposed');
  }

  private training = true;

  /** Training mode (the default, as in PyTorch): forward keeps what backward() needs. */
  train(mode = true): this {
    this.training = mode;
    if (!mode) {
      this.lastInput = null;
      this.reluMask = null;
    }
    return this;
  }

  /**
   * Inference mode: forward keeps nothing for backward() (no saved input, and with a fused ReLU no mask
   * pass over the output, which costs about as much as the ReLU itself); backward() then throws.
   */
  eval(): this {
    return this.train(false);
  }

  /** Whether forward keeps what backward() needs (train()) or not (eval()). */
  get isTraining(): boolean {
    return this.training;
  }

  private remember(input: Tensor, y: Tensor, algorithm: Algorithm): Tensor {
    this.lastAlgorithm = algorithm;
    if (!this.training) return y;
    this.lastInput = input;
    const act = this.settings.activation;
    if (act === 'relu' || act === 'relu6') {
      const m = this.reluMask?.length === y.data.length ? this.reluMask : new Uint8Array(y.data.length);
      if (act === 'relu') for (let i = 0; i < m.length; i++) m[i] = y.data[i] > 0 ? 1 : 0;
      else for (let i = 0; i < m.length; i++) m[i] = y.data[i] > 0 && y.data[i] < 6 ? 1 : 0;
      this.reluMask = m;
    }
    return y;
  }

  /** y = conv(input, weight) + bias (then ReLU if configured); `out` receives the result when given. */
  forward(input: Tensor, out?: Float32Array): Tensor {
    this.alive();
    input = this.checkInput(input);
    const r = convolve(this.dims, input, this.weightTensor(), this.convOptions(out), this.context);
    return this.remember(input, r.y, r.algorithm);
  }

  async forwardAsync(input: Tensor, out?: Float32Array): Promise<Tensor> {
    this.alive();
    input = this.checkInput(input);
    const r = await convolveAsync(this.dims, input, this.weightTensor(), this.convOptions(out), this.context);
    return this.remember(input, r.y, r.algorithm);
  }

  private backwardCall(gradOutput: Tensor, needs?: readonly GradientName[]): [Tensor, Tensor, Tensor, BackwardOptions] {
    this.alive();
    if (!this.training) throw new Error('backward() needs the layer in training mode: call layer.train() before the forward');
    if (!this.lastInput) throw new Error('backward() needs a forward() first: it differentiates the last forward call');
    let gy = readTensor(gradOutput, 'gradOutput') as Tensor;
    if (this.reluMask) {
      const g = tensorArg('gradOutput', gy, this.lastInput.shape.length, "(the forward output's shape)", true);
      if (g.data.length !== this.reluMask.length) {
        throw new RangeError(
          `gradOutput must have the last forward output's ${this.reluMask.length} elements, got ${g.data.length}`
        );
      }
      const masked = new Float32Array(g.data.length);
      for (let i = 0; i < masked.length; i++) masked[i] = this.reluMask[i] ? g.data[i] : 0;
      gy = { data: masked, shape: g.shape };
    }
    const { out: _, activation: __, tune: ___, ...opts } = this.convOptions();
    const wanted = needs ?? (['input', 'weight', ...(this.b ? ['bias' as const] : [])] as GradientName[]);
    // An optimizer step usually follows a backward pass and changes the weights in place.
    this.weightsChanged();
    return [this.lastInput, this.weightTensor(), gy, { ...opts, needs: wanted }];
  }

  private accumulate(g: Gradients): Gradients {
    if (g.gradWeight) {
      const a = this.w.grad,
        d = g.gradWeight.data;
      for (let i = 0; i < a.length; i++) a[i] += d[i];
    }
    if (g.gradBias && this.b) {
      const a = this.b.grad,
        d = g.gradBias;
      for (let i = 0; i < a.length; i++) a[i] += d[i];
    }
    return g;
  }

  /**
   * Gradients of the last forward call given dL/dy (through the fused ReLU, if any); adds them to
   * weight.grad / bias.grad. `needs` skips what is not wanted (e.g. ['weight', 'bias'] for a first layer).
   */
  backward(gradOutput: Tensor, needs?: readonly GradientName[]): Gradients {
    const [x, w, gy, opts] = this.backwardCall(gradOutput, needs);
    return this.accumulate((this.dims === 2 ? conv2dBackward : conv1dBackward)(x, w, gy, opts));
  }

  async backwardAsync(gradOutput: Tensor, needs?: readonly GradientName[]): Promise<Gradients> {
    const [x, w, gy, opts] = this.backwardCall(gradOutput, needs);
    return this.accumulate(await (this.dims === 2 ? conv2dBackwardAsync : conv1dBackwardAsync)(x, w, gy, opts));
  }

  zeroGrad(): void {
    this.w.grad.fill(0);
    this.b?.grad.fill(0);
  }

  /** Frees the transformed weights and the saved activations; the layer cannot be used after. */
  dispose(): void {
    this.disposed = true;
    this.weightsChanged();
    this.stores.clear();
    this.lastInput = null;
    this.reluMask = null;
  }
}

/** The options after the three leading arguments of the positional form. */
export type ConvLayerRest = Omit<ConvLayerOptions, 'inChannels' | 'outChannels' | 'kernelSize'>;

/** `new Conv2d(8, 16, 3, { stride: 2 })`, torch.nn.Conv2d's argument order, as the options object. */
function layerOptions(
  first: ConvLayerOptions | number,
  outChannels: unknown,
  kernelSize: unknown,
  rest: unknown
): ConvLayerOptions {
  if (typeof first !== 'number') {
    if (outChannels !== undefined)
      throw new TypeError('a layer takes one options object, or (inChannels, outChannels, kernelSize, options?)');
    return first;
  }
  if (rest !== undefined && (rest === null || typeof rest !== 'object' || Array.isArray(rest))) {
    throw new TypeError(
      `options (the 4th argument) must be an object, got ${rest === null ? 'null' : Array.isArray(rest) ? 'array' : typeof rest}`
    );
  }
  for (const key of ['inChannels', 'outChannels', 'kernelSize']) {
    if (rest && key in rest) throw new TypeError(`options.${key} repeats a positional argument`);
  }
  return { ...(rest as ConvLayerRest | undefined), inChannels: first, outChannels, kernelSize } as ConvLayerOptions;
}

/** A 2-D convolution layer: input [N, C, H, W] (or NHWC), weight [K, C/groups, R, S]. */
export class Conv2d extends ConvLayer {
  constructor(options: ConvLayerOptions);
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], options?: ConvLayerRest);
  constructor(
    first: ConvLayerOptions | number,
    outChannels?: number,
    kernelSize?: number | readonly number[],
    options?: ConvLayerRest
  ) {
    super(2, layerOptions(first, outChannels, kernelSize, options));
  }
}

/** A 1-D convolution layer: input [N, C, W] (or NWC), weight [K, C/groups, R]. */
export class Conv1d extends ConvLayer {
  constructor(options: ConvLayerOptions);
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], options?: ConvLayerRest);
  constructor(
    first: ConvLayerOptions | number,
    outChannels?: number,
    kernelSize?: number | readonly number[],
    options?: ConvLayerRest
  ) {
    super(1, layerOptions(first, outChannels, kernelSize, options));
  }
}
