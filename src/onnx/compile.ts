// Load-time compilation of an ONNX graph for concrete input shapes: a trace over the graph in which every
// node whose inputs are all known (initializers, Constant, the Shape of anything: torch's
// Shape/Gather/Unsqueeze/Concat subgraphs) is evaluated once and kept as a constant, and every other node
// becomes a step. Conv absorbs a following BatchNormalization (into its weights and bias) and a
// following Relu or Clip(0, 6) (fastconv's fused relu / relu6); its weights live in a fastconv Conv2d/Conv1d layer, so
// they are packed once per model. Gemm/MatMul with a constant right side run as 1x1 convolutions too.

import type { ConvLayerOptions, ConvTransposeOptions, Tensor } from '../index.node.js';
import type { InPlace, OpContext } from './ops.js';
import { Attrs, activationOf, clipBounds, OPS, SHAPE_ONLY, siluInPlace } from './ops.js';
import type { OnnxGraph, OnnxNode, Value } from './parse.js';
import { OnnxError } from './parse.js';
import { alloc, binary, numel, transpose } from './tensor.js';

/** What the runner needs from fastconv: its public API (index.node.ts or index.browser.ts). */
export interface FastconvApi {
  Conv2d: new (o: ConvLayerOptions) => ConvLayerLike;
  Conv1d: new (o: ConvLayerOptions) => ConvLayerLike;
  convTranspose2d(x: Tensor, w: Tensor, o: ConvTransposeOptions): Tensor;
  convTranspose1d(x: Tensor, w: Tensor, o: ConvTransposeOptions): Tensor;
  convTranspose2dAsync(x: Tensor, w: Tensor, o: ConvTransposeOptions): Promise<Tensor>;
  convTranspose1dAsync(x: Tensor, w: Tensor, o: ConvTransposeOptions): Promise<Tensor>;
  explain(x: Tensor, w: Tensor, o: object): { backend: string; algorithm: string; threads: number; isa: string };
  maxPool2d(x: Tensor, o: object): Tensor;
  avgPool2d(x: Tensor, o: object): Tensor;
}
export interface ConvLayerLike {
  weight: Tensor;
  bias: Tensor | null;
  readonly algorithm: string | undefined;
  /** Inference mode: the layer keeps nothing for backward (no mask pass after a fused ReLU). */
  eval(): unknown;
  forward(x: Tensor, out?: Float32Array): Tensor;
  forwardAsync(x: Tensor, out?: Float32Array): Promise<Tensor>;
  dispose(): void;
}

export type BackendOption = 'auto' | 'native' | 'wasm' | 'js' | 'wasm-simd' | 'wasm-scalar' | 'wasm-relaxed';

export interface Step {
  /** The ONNX nodes this step runs, first to last (a fused Conv+BatchNormalization+Relu is one step). */
  nodes: OnnxNode[];
  kind: string;
  inputs: number[];
  outputs: number[];
  run(xs: (Value | undefined)[]): Value[];
  runAsync?(xs: (Value | undefined)[]): Promise<Value[]>;
  /** For explain(): the fastconv call behind a convolution step. */
  conv?: { layer?: ConvLayerLike; x: Tensor; w: Tensor; options: object };
  outShape?: number[];
  ms: number;
}

export interface Plan {
  steps: Step[];
  /** Slot contents before a run: constants filled in, everything else undefined. */
  initial: (Value | undefined)[];
  inputSlots: number[];
  outputSlots: number[];
  /** Per slot, the index of the last step that reads it (so the run can drop it after). */
  lastUse: number[];
  outputShapes: number[][];
}

/** Per-model state shared by the plans of different input shapes: folded weights and layers. */
export interface ModelState {
  api: FastconvApi;
  backend: BackendOption;
  layers: Map<string, ConvLayerLike>;
}

const RELU_FUSABLE = new Set(['Relu']);

interface Entry {
  value: Value;
  dynamic: boolean;
  slot: number;
}

export function compile(g: OnnxGraph, inputShapes: number[][], state: ModelState): Plan {
  const env = new Map<string, Entry>();
  const initial: (Value | undefined)[] = [];
  const newSlot = (v: Value | undefined): number => {
    initial.push(v);
    return initial.length - 1;
  };
  for (const [name, v] of g.initializers) env.set(name, { value: v, dynamic: false, slot: newSlot(v) });
  const inputSlots = g.inputs.map((inp, i) => {
    const slot = newSlot(undefined);
    env.set(inp.name, { value: alloc('float32', inputShapes[i]), dynamic: true, slot });
    return slot;
  });

  // How many readers each value has: a node's output can be absorbed into its producer only when that
  // producer is its sole reader and it is not a graph output.
  const readers = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  for (const o of g.outputs) readers.set(o.name, (readers.get(o.name) ?? 0) + 1e9);
  const producer = new Map<string, number>();
  for (const [i, n] of g.nodes.entries()) for (const o of n.outputs) if (o) producer.set(o, i);
  const soleReader = (name: string, from: number): number | undefined => {
    if (readers.get(name) !== 1) return undefined;
    for (let j = from + 1; j < g.nodes.length; j++) if (g.nodes[j].inputs.includes(name)) return j;
    return undefined;
  };
  /** The nodes reading `name` (each once), when no graph output is among its readers. */
  const readerNodes = (name: string, from: number): number[] => {
    const out: number[] = [];
    for (let j = from + 1; j < g.nodes.length; j++) if (g.nodes[j].inputs.includes(name)) out.push(j);
    return readers.get(name) === out.length ? out : [];
  };

  const steps: Step[] = [];
  const absorbed = new Set<number>();
  // Constant nodes first: torch places them right before their reader, which may come after the conv
  // whose fusion needs their value (Clip's bounds).
  g.nodes.forEach((node, ni) => {
    if (node.op !== 'Constant' || node.inputs.length > 0) return;
    const at = new Attrs(node);
    const ctx: OpContext = {
      node,
      opset: g.opset,
      at,
      present: () => false,
      constant: () => undefined,
      requireConst: () => undefined,
      fail: (msg) => {
        throw new OnnxError(`${node.label}: ${msg}`);
      },
    };
    const [v] = OPS.Constant(ctx)([]);
    const unread = at.unread();
    if (unread.length) at.fail(unread[0], 'of Constant is not supported');
    if (node.outputs[0]) env.set(node.outputs[0], { value: v, dynamic: false, slot: newSlot(v) });
    absorbed.add(ni);
  });
  for (let ni = 0; ni < g.nodes.length; ni++) {
    if (absorbed.has(ni)) continue;
    const node = g.nodes[ni];
    if (node.domain !== '' && node.domain !== 'ai.onnx')
      throw new OnnxError(`${node.label}: domain '${node.domain}' is not supported`);
    const ins = node.inputs.map((name) => {
      if (!name) return undefined;
      const e = env.get(name);
      if (!e) {
        const p = producer.get(name);
        throw new OnnxError(
          `${node.label}: input '${name}' ${p !== undefined && p > ni ? 'is produced by a later node (the graph is not topologically sorted)' : 'is produced by no node, initializer or graph input'}`
        );
      }
      return e;
    });
    const at = new Attrs(node);
    const ctx: OpContext = {
      node,
      opset: g.opset,
      at,
      present: (i) => ins[i] !== undefined,
      constant: (i) => {
        const e = ins[i];
        return e && !e.dynamic ? e.value : undefined;
      },
      requireConst: (i, what) => {
        const e = ins[i];
        if (!e) return undefined;
        if (e.dynamic)
          throw new OnnxError(
            `${node.label}: input ${i} (${what}) is computed at run time; it must be a constant (or computed from shapes only)`
          );
        return e.value;
      },
      fail: (msg) => {
        throw new OnnxError(`${node.label}: ${msg}`);
      },
      pool2d: state.api,
    };
    const define = (outs: Value[], dynamic: boolean, names = node.outputs): number[] =>
      names.map((name, i) => {
        if (!name) return -1;
        if (!outs[i]) throw new OnnxError(`${node.label}: output ${i} '${name}' is not produced by this op`);
        const slot = newSlot(dynamic ? undefined : outs[i]);
        env.set(name, { value: outs[i], dynamic, slot });
        return slot;
      });
    const anyDynamic = ins.some((e) => e?.dynamic);

    if (
      node.op === 'Conv' ||
      node.op === 'ConvTranspose' ||
      ((node.op === 'Gemm' || node.op === 'MatMul') && anyDynamic && isConstWeight(ctx))
    ) {
      if (!anyDynamic && node.op !== 'Gemm' && node.op !== 'MatMul')
        throw new OnnxError(`${node.label}: a convolution of constants is not supported`);
      const fuse: Fuse = {
        soleReader,
        readerNodes,
        absorbed,
        constOf: (name) => {
          const e = env.get(name);
          return e && !e.dynamic ? e.value : undefined;
        },
        ready: (name) => {
          const e = env.get(name);
          return e?.dynamic ? e : undefined;
        },
      };
      const built =
        node.op === 'Conv'
          ? convStep(ctx, ins, g, ni, fuse, state)
          : node.op === 'ConvTranspose'
            ? convTransposeStep(ctx, ins, state)
            : linearStep(ctx, ins, g, ni, fuse, state);
      const unread = at.unread();
      if (unread.length) at.fail(unread[0], `of ${node.op} is not supported`);
      const first = ins[0];
      if (!first) ctx.fail('needs an input');
      const stepIns = [first, ...(built.extra ?? [])];
      const y = built.run(stepIns.map((e) => e.value));
      built.step.inputs = stepIns.map((e) => e.slot);
      built.step.outputs = define(y, true, [built.outName]);
      built.step.outShape = y[0].shape;
      steps.push(built.step);
      continue;
    }

    const prepare = OPS[node.op];
    if (!prepare) throw new OnnxError(`${node.label}: op '${node.op}' is not supported`);
    const kernel = prepare(ctx);
    const unread = at.unread();
    if (unread.length) at.fail(unread[0], `of ${node.op} is not supported`);
    const values = ins.map((e) => e?.value);
    if (!anyDynamic || SHAPE_ONLY.has(node.op)) {
      define(kernel(values), false);
      continue;
    }

    // A residual Add (or any elementwise op) followed by its only reader Relu: one pass instead of two.
    const nodes = [node];
    let run = kernel,
      outNames = node.outputs;
    const r = ['Add', 'Sub', 'Mul'].includes(node.op) ? soleReader(node.outputs[0], ni) : undefined;
    if (r !== undefined && RELU_FUSABLE.has(g.nodes[r].op) && g.nodes[r].attrs.size === 0 && g.nodes[r].inputs.length === 1) {
      absorbed.add(r);
      nodes.push(g.nodes[r]);
      outNames = g.nodes[r].outputs;
      run = (xs) => {
        const [y] = kernel(xs);
        const d = y.data,
          n = d.length;
        for (let i = 0; i < n; i++) d[i] = Math.max(d[i], 0);
        return [y];
      };
    }
    const traced = run(values);
    steps.push({
      nodes,
      kind: nodes.map((n) => n.op).join('+'),
      inputs: ins.map((e) => e?.slot ?? -1),
      outputs: define(traced, true, outNames),
      run,
      ms: 0,
      outShape: traced[0]?.shape,
    });
  }

  const outputs = g.outputs.map((o) => {
    const e = env.get(o.name);
    if (!e) throw new OnnxError(`graph output '${o.name}' is produced by no node`);
    if (e.value.dtype !== 'float32') throw new OnnxError(`graph output '${o.name}' is not a float tensor (${e.value.dtype})`);
    return e;
  });
  const outputSlots = outputs.map((e) => e.slot);
  const lastUse = initial.map(() => -1);
  for (const [i, s] of steps.entries()) for (const slot of s.inputs) if (slot >= 0) lastUse[slot] = i;
  for (const s of outputSlots) lastUse[s] = steps.length;
  const outputShapes = outputs.map((e) => e.value.shape);
  return { steps, initial, inputSlots, outputSlots, lastUse, outputShapes };
}

function isConstWeight(c: OpContext): boolean {
  const b = c.constant(1);
  return !!b && b.dtype === 'float32' && b.shape.length === 2 && !c.constant(0);
}

interface Built {
  step: Step;
  outName: string;
  run(xs: (Value | undefined)[]): Value[];
  /** Run-time inputs of the step after the convolution's own (a fused residual). */
  extra?: Entry[];
}

function convAttrs(c: OpContext, rank: number, kernel: number[], inSpatial: number[], transposed: boolean) {
  const at = c.at;
  const ks = at.ints('kernel_shape');
  if (ks && (ks.length !== rank || ks.some((k, i) => k !== kernel[i])))
    at.fail('kernel_shape', `[${ks.join(', ')}] does not match the weight's [${kernel.join(', ')}]`);
  const strides = at.ints('strides') ?? kernel.map(() => 1),
    dil = at.ints('dilations') ?? kernel.map(() => 1);
  const group = at.int('group', 1);
  let pads = at.ints('pads') ?? kernel.map(() => 0).concat(kernel.map(() => 0));
  const autoPad = at.string('auto_pad', 'NOTSET');
  if (strides.length !== rank) at.fail('strides', `must have ${rank} entries`);
  if (dil.length !== rank) at.fail('dilations', `must have ${rank} entries`);
  if (pads.length !== 2 * rank) at.fail('pads', `must have ${2 * rank} entries`);
  if ([...strides, ...dil, group].some((v) => !Number.isInteger(v) || v < 1))
    c.fail('strides, dilations and group must be positive integers');
  if (pads.some((p) => !Number.isInteger(p) || p < 0)) at.fail('pads', 'must be non-negative integers');
  if (autoPad === 'VALID') pads = pads.map(() => 0);
  else if ((autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') && !transposed) {
    pads = new Array<number>(2 * rank);
    for (let i = 0; i < rank; i++) {
      const out = Math.ceil(inSpatial[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - inSpatial[i]);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + rank] = total - pads[i];
    }
  } else if (autoPad !== 'NOTSET') at.fail('auto_pad', `= '${autoPad}' is not supported${transposed ? ' on ConvTranspose' : ''}`);
  return { strides, dil, group, pads };
}

/** ONNX pads [b1, b2, e1, e2] as fastconv's explicit padding ([top, bottom, left, right]; 1-D [left, right]). */
const fastconvPadding = (pads: number[], rank: number): number[] =>
  rank === 2 ? [pads[0], pads[2], pads[1], pads[3]] : [pads[0], pads[1]];

interface Fuse {
  soleReader(name: string, from: number): number | undefined;
  readerNodes(name: string, from: number): number[];
  absorbed: Set<number>;
  /** A run-time value already computed at this point of the graph. */
  ready(name: string): Entry | undefined;
  /** A value known at load time (initializer, folded node), else undefined. */
  constOf(name: string): Value | undefined;
}

/** A step's data input at run time: compile() checked it exists, so a gap here is a planner bug. */
function stepInput(c: OpContext, v: Value | undefined): Value {
  if (!v) c.fail('a step ran without its input');
  return v;
}

function convStep(c: OpContext, ins: (Entry | undefined)[], g: OnnxGraph, ni: number, fuse: Fuse, state: ModelState): Built {
  const { soleReader, absorbed } = fuse;
  const x = ins[0],
    w = ins[1],
    b = ins[2];
  if (!x || !w) c.fail('needs an input and a weight');
  if (w.dynamic || b?.dynamic) c.fail('the weight and bias must be constants (initializers)');
  if (w.value.dtype !== 'float32' || x.value.dtype !== 'float32') c.fail('only float tensors are supported');
  const rank = w.value.shape.length - 2;
  if (rank !== 1 && rank !== 2)
    c.fail(`only 1-D and 2-D convolutions are supported (the weight has rank ${w.value.shape.length})`);
  if (x.value.shape.length !== rank + 2)
    c.fail(`the input has rank ${x.value.shape.length}, a ${rank}-D convolution needs ${rank + 2}`);
  const [K, Cg] = w.value.shape,
    kernel = w.value.shape.slice(2),
    C = x.value.shape[1];
  const a = convAttrs(c, rank, kernel, x.value.shape.slice(2), false);
  if (C !== Cg * a.group) c.fail(`input channels ${C} do not match weight [${w.value.shape.join(', ')}] with group ${a.group}`);
  if (b && (b.value.shape.length !== 1 || b.value.shape[0] !== K))
    c.fail(`bias shape [${b.value.shape.join(', ')}] is not [${K}]`);

  // Fusions: the only reader of the output a BatchNormalization with constant parameters, then a Relu.
  const nodes = [c.node];
  let outName = c.node.outputs[0],
    bn: Value[] | undefined,
    eps = 1e-5,
    activation: 'none' | 'relu' | 'relu6' = 'none';
  let r = soleReader(outName, ni);
  if (
    r !== undefined &&
    g.nodes[r].op === 'BatchNormalization' &&
    g.nodes[r].inputs[0] === outName &&
    c.node.outputs.length === 1
  ) {
    const n = g.nodes[r];
    const params = n.inputs.slice(1, 5).map((name) => fuse.constOf(name));
    const battr = new Attrs(n);
    battr.ignore('momentum');
    battr.expect('training_mode', (v) => v === 0, 'only inference, 0');
    battr.expect('spatial', (v) => v === 1, 'only 1');
    const e = battr.float('epsilon', 1e-5);
    if (
      params.every((p) => p && p.dtype === 'float32' && p.data.length === K) &&
      n.outputs.filter((o) => o).length === 1 &&
      battr.unread().length === 0
    ) {
      bn = params as Value[];
      eps = e;
      absorbed.add(r);
      nodes.push(n);
      outName = n.outputs[0];
      r = soleReader(outName, r);
    }
  }
  // Then an activation: Relu and Clip(0, 6) are fastconv's fused ones; the others run in place on the convolution's
  // output (one pass instead of an op reading and writing a copy).
  let epilogue: InPlace | undefined;
  if (r !== undefined && g.nodes[r].inputs[0] === outName) {
    const n = g.nodes[r];
    const sub: OpContext = {
      ...c,
      node: n,
      at: new Attrs(n),
      present: (i) => !!n.inputs[i],
      constant: (i) => (n.inputs[i] ? fuse.constOf(n.inputs[i]) : undefined),
      requireConst: (i) => {
        if (!n.inputs[i]) return undefined;
        const v = fuse.constOf(n.inputs[i]);
        if (!v) throw new OnnxError(`${n.label}: input ${i} is computed at run time`);
        return v;
      },
    };
    let act: InPlace | undefined,
      lo = -Infinity,
      hi = Infinity;
    try {
      act = activationOf(sub);
      if (n.op === 'Clip') [lo, hi] = clipBounds(sub);
    } catch {
      act = undefined; /* e.g. Clip bounds computed at run time: the node stays a step of its own */
    }
    if (act && sub.at.unread().length === 0) {
      absorbed.add(r);
      nodes.push(n);
      outName = n.outputs[0];
      // ReLU and Clip(0, 6) (ReLU6) are the engines' own epilogues, in the conv's output stage; other
      // bounds are a clamp pass here.
      if (n.op === 'Relu' || (n.op === 'Clip' && lo === 0 && hi === Infinity)) activation = 'relu';
      else if (n.op === 'Clip' && lo === 0 && hi === 6) activation = 'relu6';
      else epilogue = act;
    }
  }

  // x * sigmoid(x) (SiLU) and x * hardsigmoid(x) as torch exports them: the conv output read by the
  // activation and by the Mul of the two, the activation's output by that Mul alone.
  if (r === undefined && activation === 'none' && !epilogue) {
    const rs = fuse.readerNodes(outName, ni);
    if (rs.length === 2) {
      const [ai, mi] = ['Sigmoid', 'HardSigmoid'].includes(g.nodes[rs[0]].op) ? rs : [rs[1], rs[0]];
      const A = g.nodes[ai],
        M = g.nodes[mi];
      const at = new Attrs(A),
        alpha = A.op === 'HardSigmoid' ? at.float('alpha', 0.2) : 0,
        beta = A.op === 'HardSigmoid' ? at.float('beta', 0.5) : 0;
      const gates =
        (A.op === 'Sigmoid' || A.op === 'HardSigmoid') &&
        at.unread().length === 0 &&
        A.inputs[0] === outName &&
        M.op === 'Mul' &&
        M.attrs.size === 0 &&
        M.inputs.length === 2 &&
        M.inputs.includes(outName) &&
        M.inputs.includes(A.outputs[0]) &&
        soleReader(A.outputs[0], ai) === mi &&
        A.outputs.length === 1;
      if (gates) {
        absorbed.add(ai);
        absorbed.add(mi);
        nodes.push(A, M);
        outName = M.outputs[0];
        epilogue =
          A.op === 'Sigmoid'
            ? siluInPlace
            : (d) => {
                const n = d.length;
                for (let i = 0; i < n; i++) {
                  const v = d[i];
                  d[i] = v * Math.min(Math.max(alpha * v + beta, 0), 1);
                }
              };
      }
    }
  }

  // A residual: Add(conv, skip) with skip already computed and of the output's shape, then maybe Relu,
  // added in place on the conv's output.
  let residual: Entry | undefined,
    residualRelu = false;
  if (
    r !== undefined &&
    activation === 'none' &&
    !epilogue &&
    g.nodes[r].op === 'Add' &&
    g.nodes[r].inputs.length === 2 &&
    g.nodes[r].attrs.size === 0
  ) {
    const n = g.nodes[r],
      other = n.inputs[0] === outName ? n.inputs[1] : n.inputs[0];
    const skip = other !== outName ? fuse.ready(other) : undefined;
    const sp = x.value.shape.slice(2);
    const outShape = [
      x.value.shape[0],
      K,
      ...sp.map((d, i) => Math.floor((d + a.pads[i] + a.pads[i + rank] - a.dil[i] * (kernel[i] - 1) - 1) / a.strides[i]) + 1),
    ];
    if (
      skip &&
      skip.value.dtype === 'float32' &&
      skip.value.shape.length === outShape.length &&
      skip.value.shape.every((d, i) => d === outShape[i])
    ) {
      residual = skip;
      absorbed.add(r);
      nodes.push(n);
      outName = n.outputs[0];
      const q = soleReader(outName, r);
      if (q !== undefined && g.nodes[q].op === 'Relu' && g.nodes[q].attrs.size === 0) {
        residualRelu = true;
        absorbed.add(q);
        nodes.push(g.nodes[q]);
        outName = g.nodes[q].outputs[0];
      }
    }
  }

  const key = `${ni}|${a.pads.join(',')}|${activation}|${nodes.length}`;
  let layer = state.layers.get(key);
  if (!layer) {
    let weight = w.value.data as Float32Array,
      bias = b ? (b.value.data as Float32Array) : null;
    if (bn) {
      const [scale, shift, mean, variance] = bn.map((p) => p.data);
      const per = numel(w.value.shape.slice(1));
      weight = new Float32Array(weight.length);
      bias = new Float32Array(K);
      for (let k = 0; k < K; k++) {
        // In float64: the folded weight is rounded to float32 once.
        const s = scale[k] / Math.sqrt(variance[k] + eps);
        for (let j = k * per; j < (k + 1) * per; j++) weight[j] = (w.value.data[j] as number) * s;
        bias[k] = ((b ? b.value.data[k] : 0) - mean[k]) * s + shift[k];
      }
    }
    const Layer = rank === 2 ? state.api.Conv2d : state.api.Conv1d;
    layer = new Layer({
      inChannels: C,
      outChannels: K,
      kernelSize: kernel,
      stride: a.strides,
      dilation: a.dil,
      groups: a.group,
      padding: fastconvPadding(a.pads, rank),
      bias: bias !== null,
      activation,
      backend: state.backend,
      seed: 1,
    });
    layer.eval();
    layer.weight = { data: weight, shape: w.value.shape };
    if (bias) layer.bias = { data: bias, shape: [K] };
    state.layers.set(key, layer);
  }
  const L = layer;
  // One output buffer per step and plan, written by every run: a fresh multi-megabyte array per call
  // costs its page faults each time (runs of a model are serialized, and outputs are copied out).
  let buf: Float32Array | undefined;
  const outFor = (_: Value): Float32Array | undefined => buf;
  const epi = (y: Tensor, skip: Value | undefined): Value[] => {
    buf ??= y.data;
    const d = y.data;
    if (skip) {
      const s = skip.data;
      const n = d.length;
      if (residualRelu) for (let i = 0; i < n; i++) d[i] = Math.max(d[i] + s[i], 0);
      else for (let i = 0; i < n; i++) d[i] += s[i];
    }
    epilogue?.(d);
    return [{ dtype: 'float32', data: d, shape: y.shape }];
  };
  const run = ([v, skip]: (Value | undefined)[]): Value[] => {
    const x = stepInput(c, v);
    return epi(L.forward(x as Tensor, outFor(x)), skip);
  };
  const step: Step = {
    nodes,
    kind: nodes.map((n) => n.op).join('+'),
    inputs: [],
    outputs: [],
    run,
    ms: 0,
    runAsync: async ([v, skip]) => {
      const x = stepInput(c, v);
      return epi(await L.forwardAsync(x as Tensor, outFor(x)), skip);
    },
    conv: {
      layer: L,
      x: { data: x.value.data as Float32Array, shape: x.value.shape },
      w: L.weight,
      options: {
        stride: a.strides,
        dilation: a.dil,
        groups: a.group,
        padding: fastconvPadding(a.pads, rank),
        activation,
        backend: state.backend,
      },
    },
  };
  return { step, outName, run, extra: residual ? [residual] : undefined };
}

function convTransposeStep(c: OpContext, ins: (Entry | undefined)[], state: ModelState): Built {
  const x = ins[0],
    w = ins[1],
    b = ins[2];
  if (!x || !w) c.fail('needs an input and a weight');
  if (w.dynamic || b?.dynamic) c.fail('the weight and bias must be constants (initializers)');
  const rank = w.value.shape.length - 2;
  if (rank !== 1 && rank !== 2) c.fail('only 1-D and 2-D transposed convolutions are supported');
  const kernel = w.value.shape.slice(2);
  const a = convAttrs(c, rank, kernel, x.value.shape.slice(2), true);
  const outPad = c.at.ints('output_padding') ?? kernel.map(() => 0);
  if (c.at.has('output_shape')) c.at.fail('output_shape', 'is not supported (export with explicit pads)');
  if (a.pads.some((p, i) => i < rank && p !== a.pads[i + rank]))
    c.at.fail('pads', `[${a.pads.join(', ')}] is asymmetric, which ConvTranspose does not support here`);
  const options: ConvTransposeOptions = {
    stride: a.strides,
    dilation: a.dil,
    groups: a.group,
    padding: a.pads.slice(0, rank),
    outputPadding: outPad,
    bias: b ? (b.value.data as Float32Array) : null,
    backend: state.backend as ConvTransposeOptions['backend'],
  };
  const wt: Tensor = { data: w.value.data as Float32Array, shape: w.value.shape };
  const api = state.api;
  const run = ([v]: (Value | undefined)[]): Value[] => [
    { dtype: 'float32', ...(rank === 2 ? api.convTranspose2d : api.convTranspose1d)(v as Tensor, wt, options) },
  ];
  const step: Step = {
    nodes: [c.node],
    kind: 'ConvTranspose',
    inputs: [],
    outputs: [],
    run,
    ms: 0,
    runAsync: async ([v]) => [
      {
        dtype: 'float32',
        ...(await (rank === 2 ? api.convTranspose2dAsync : api.convTranspose1dAsync)(v as Tensor, wt, options)),
      },
    ],
  };
  return { step, outName: c.node.outputs[0], run };
}

/**
 * Gemm / MatMul with a constant [K, N] right side: a 1x1 convolution over the rows, so the weights are
 * packed once and the product runs on fastconv's GEMM ([M, K] is read as M images of K channels).
 */
function linearStep(c: OpContext, ins: (Entry | undefined)[], g: OnnxGraph, ni: number, fuse: Fuse, state: ModelState): Built {
  const { soleReader, absorbed } = fuse;
  const isGemm = c.node.op === 'Gemm';
  const alpha = isGemm ? c.at.float('alpha', 1) : 1,
    beta = isGemm ? c.at.float('beta', 1) : 1;
  const tA = isGemm ? c.at.int('transA', 0) : 0,
    tB = isGemm ? c.at.int('transB', 0) : 0;
  const x = ins[0],
    B = ins[1],
    Cv = ins[2];
  if (!x || !B) c.fail('needs A and B');
  const Bv = B.value;
  if (Cv?.dynamic) c.fail('a bias computed at run time is not supported');
  if (tA) c.at.fail('transA', '= 1 is not supported with a run-time A');
  const Bt = tB ? Bv : transpose(Bv, [1, 0]); // [N, K]: the conv weight
  const [N, K] = Bt.shape;
  const xs = x.value.shape;
  if (isGemm && xs.length !== 2) c.fail(`A must be 2-D, got [${xs.join(', ')}]`);
  if (xs.length < 1 || xs[xs.length - 1] !== K) c.fail(`A [${xs.join(', ')}] does not match B [${Bv.shape.join(', ')}]`);
  let bias: Float32Array | null = null;
  let biasFull: Value | undefined;
  if (Cv) {
    const cv = Cv.value;
    if (cv.data.length === N && (cv.shape.length === 1 || cv.shape[0] === 1)) bias = Float32Array.from(cv.data, (v) => v * beta);
    else if (cv.data.length === 1) bias = new Float32Array(N).fill(cv.data[0] * beta);
    else biasFull = cv;
  }
  let activation: 'none' | 'relu' = 'none',
    outName = c.node.outputs[0];
  const nodes = [c.node];
  const r = soleReader(outName, ni);
  if (r !== undefined && RELU_FUSABLE.has(g.nodes[r].op) && g.nodes[r].attrs.size === 0 && !biasFull) {
    absorbed.add(r);
    nodes.push(g.nodes[r]);
    outName = g.nodes[r].outputs[0];
    activation = 'relu';
  }
  const key = `${ni}|linear|${activation}`;
  let layer = state.layers.get(key);
  if (!layer) {
    const weight = Float32Array.from(Bt.data, (v) => v * alpha);
    layer = new state.api.Conv2d({
      inChannels: K,
      outChannels: N,
      kernelSize: 1,
      bias: bias !== null,
      activation,
      backend: state.backend,
      seed: 1,
    });
    layer.eval();
    layer.weight = { data: weight, shape: [N, K, 1, 1] };
    if (bias) layer.bias = { data: bias, shape: [N] };
    state.layers.set(key, layer);
  }
  const L = layer;
  const shapeOut = (s: number[]) => [...s.slice(0, -1), N];
  const finish = (v: Value, y: Tensor): Value[] => {
    const out: Value = { dtype: 'float32', shape: shapeOut(v.shape), data: y.data };
    return [biasFull ? binary(out, biasFull, 'float32', (p, q) => p + beta * q, c.node.label) : out];
  };
  const asImages = (v: Value): Tensor => ({ data: v.data as Float32Array, shape: [v.data.length / K, K, 1, 1] });
  const run = ([v]: (Value | undefined)[]): Value[] => {
    const a = stepInput(c, v);
    return finish(a, L.forward(asImages(a)));
  };
  const step: Step = {
    nodes,
    kind: nodes.map((n) => n.op).join('+'),
    inputs: [],
    outputs: [],
    run,
    ms: 0,
    runAsync: async ([v]) => {
      const a = stepInput(c, v);
      return finish(a, await L.forwardAsync(asImages(a)));
    },
    conv: { layer: L, x: asImages(x.value), w: L.weight, options: { activation, backend: state.backend } },
  };
  return { step, outName, run };
}
