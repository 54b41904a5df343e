// The ONNX model object: feeds checked against the graph's declared inputs, one compiled plan per input
// shape (the declared shape at load; another batch size compiles once more on first use), runs in order.

import type { Tensor } from '../index.node.js';
import type { BackendOption, FastconvApi, ModelState, Plan } from './compile.js';
import { compile } from './compile.js';
import type { OnnxGraph, Value } from './parse.js';
import { OnnxError, parseModel } from './parse.js';

export interface OnnxTensorInfo {
  name: string;
  shape: (number | string)[];
  dtype: 'float32';
}

export interface LoadOptions {
  /** fastconv backend of the convolutions (default 'auto'); the other ops run in JavaScript. */
  backend?: BackendOption;
}

export interface ExplainedStep {
  /** The ONNX op types this step runs, fused ones joined by '+' (e.g. 'Conv+BatchNormalization+Relu'). */
  op: string;
  nodes: string[];
  backend: string;
  algorithm?: string;
  threads?: number;
  outputShape: number[];
  /** Milliseconds of this step in the last run, and its share of that run. */
  ms: number;
  share: number;
}

const BACKENDS: readonly BackendOption[] = ['auto', 'native', 'wasm', 'js', 'wasm-simd', 'wasm-scalar', 'wasm-relaxed'];
const MAX_PLANS = 8;
/** 256 MB of float32 per input: far above any CNN's, far below what would exhaust memory. */
const MAX_INPUT_ELEMENTS = 2 ** 26;

export class OnnxModel {
  readonly inputs: OnnxTensorInfo[];
  readonly outputs: OnnxTensorInfo[];
  private readonly plans = new Map<string, Plan>();
  private last: Plan | undefined;
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private busy = false;

  constructor(
    private readonly graph: OnnxGraph,
    private readonly state: ModelState
  ) {
    if (graph.inputs.length === 0) throw new OnnxError('the graph has no inputs');
    this.inputs = graph.inputs.map((v) => {
      if (v.dtype !== 'float32')
        throw new OnnxError(`graph input '${v.name}' is not a float tensor (only float inputs are supported)`);
      if (!v.shape) throw new OnnxError(`graph input '${v.name}' has no declared shape`);
      for (const d of v.shape)
        if (typeof d === 'number' && !(Number.isInteger(d) && d >= 1))
          throw new OnnxError(`graph input '${v.name}' has dimension ${d}`);
      // The load-time plan runs the graph once on this shape: a corrupt dimension must not allocate gigabytes.
      const n = v.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
      if (n > MAX_INPUT_ELEMENTS)
        throw new OnnxError(`graph input '${v.name}' declares ${n} elements, more than the supported ${MAX_INPUT_ELEMENTS}`);
      return { name: v.name, shape: v.shape, dtype: 'float32' as const };
    });
    // The declared shape with every symbolic dimension (a dynamic batch) at 1 is the load-time plan.
    const plan = this.plan(this.inputs.map((i) => i.shape.map((d) => (typeof d === 'number' ? d : 1))));
    this.outputs = graph.outputs.map((o, i) => ({
      name: o.name,
      dtype: 'float32' as const,
      shape: plan.outputShapes[i].map((d, j) => (typeof o.shape?.[j] === 'string' ? (o.shape[j] as string) : d)),
    }));
  }

  private plan(shapes: number[][]): Plan {
    const key = shapes.map((s) => s.join('x')).join(';');
    let p = this.plans.get(key);
    if (!p) {
      const oldest = this.plans.keys().next();
      if (this.plans.size >= MAX_PLANS && !oldest.done) this.plans.delete(oldest.value);
      p = compile(this.graph, shapes, this.state);
      this.plans.set(key, p);
    }
    return p;
  }

  private feeds(feeds: unknown): { plan: Plan; values: Value[] } {
    if (this.disposed) throw new Error('this model was disposed');
    if (feeds === null || typeof feeds !== 'object')
      throw new TypeError(
        `feeds must be an object { [inputName]: { data, shape } }, got ${feeds === null ? 'null' : typeof feeds}`
      );
    const f = feeds as Record<string, unknown>;
    for (const k of Object.keys(f))
      if (!this.inputs.some((i) => i.name === k))
        throw new RangeError(`feeds.${k}: the model has no input '${k}' (inputs: ${this.inputs.map((i) => i.name).join(', ')})`);
    const values = this.inputs.map((info) => {
      const t = f[info.name] as Partial<Tensor> | undefined;
      if (!t || typeof t !== 'object')
        throw new TypeError(
          `feeds['${info.name}'] must be a tensor { data: Float32Array, shape }, got ${t === null ? 'null' : typeof t}`
        );
      if (!(t.data instanceof Float32Array)) throw new TypeError(`feeds['${info.name}'].data must be a Float32Array`);
      const shape = t.shape;
      if (!Array.isArray(shape) || shape.length !== info.shape.length)
        throw new RangeError(`feeds['${info.name}'].shape must have rank ${info.shape.length} ([${info.shape.join(', ')}])`);
      shape.forEach((d, i) => {
        const want = info.shape[i];
        if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || (typeof want === 'number' && d !== want)) {
          throw new RangeError(
            `feeds['${info.name}'].shape[${i}] must be ${typeof want === 'number' ? want : 'a positive integer'}, got ${d}`
          );
        }
      });
      const n = shape.reduce((a: number, b: number) => a * b, 1);
      if (t.data.length !== n)
        throw new RangeError(`feeds['${info.name}'].data has ${t.data.length} elements, shape [${shape.join(', ')}] needs ${n}`);
      return { dtype: 'float32' as const, shape: shape.slice(), data: t.data };
    });
    return { plan: this.plan(values.map((v) => v.shape)), values };
  }

  private begin(plan: Plan, values: Value[]): (Value | undefined)[] {
    const slots = plan.initial.slice();
    plan.inputSlots.forEach((s, i) => {
      slots[s] = values[i];
    });
    this.last = plan;
    return slots;
  }

  private finish(plan: Plan, slots: (Value | undefined)[]): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    // Copies: an output may alias an input (Identity) or a constant the plan keeps.
    plan.outputSlots.forEach((s, i) => {
      const v = slots[s];
      if (!v) throw new OnnxError(`graph output '${this.graph.outputs[i].name}' was not computed`);
      out[this.graph.outputs[i].name] = { data: Float32Array.from(v.data), shape: v.shape.slice() };
    });
    return out;
  }

  private release(plan: Plan, slots: (Value | undefined)[], stepIndex: number, inputs: number[]): void {
    for (const s of inputs) if (s >= 0 && plan.lastUse[s] === stepIndex && plan.initial[s] === undefined) slots[s] = undefined;
  }

  /** Runs the model on the calling thread (Node, Web Workers). Feeds: { [inputName]: { data: Float32Array, shape } }. */
  runSync(feeds: Record<string, Tensor>): Record<string, Tensor> {
    if (this.busy) throw new Error('runSync() was called while a run() of this model is in progress; await it first');
    const { plan, values } = this.feeds(feeds);
    const slots = this.begin(plan, values);
    plan.steps.forEach((step, i) => {
      const t0 = performance.now();
      const ys = step.run(step.inputs.map((s) => (s >= 0 ? slots[s] : undefined)));
      step.outputs.forEach((s, j) => {
        if (s >= 0) slots[s] = ys[j];
      });
      step.ms = performance.now() - t0;
      this.release(plan, slots, i, step.inputs);
    });
    return this.finish(plan, slots);
  }

  /** Runs the model; the convolutions run off the calling thread. Calls on one model run one after another. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const job = this.queue.then(() => this.runNow(feeds));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private async runNow(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const { plan, values } = this.feeds(feeds);
    this.busy = true;
    try {
      const slots = this.begin(plan, values);
      for (let i = 0; i < plan.steps.length; i++) {
        const step = plan.steps[i],
          xs = step.inputs.map((s) => (s >= 0 ? slots[s] : undefined));
        const t0 = performance.now();
        const ys = step.runAsync ? await step.runAsync(xs) : step.run(xs);
        step.ms = performance.now() - t0;
        step.outputs.forEach((s, j) => {
          if (s >= 0) slots[s] = ys[j];
        });
        this.release(plan, slots, i, step.inputs);
      }
      return this.finish(plan, slots);
    } finally {
      this.busy = false;
    }
  }

  /** Each step of the last run's plan (the load-time plan before any run): fused ops, backend, algorithm, time share. */
  explain(): ExplainedStep[] {
    const plan = this.last ?? this.plans.values().next().value;
    if (!plan) return [];
    const total = plan.steps.reduce((a, s) => a + s.ms, 0);
    return plan.steps.map((s) => {
      let backend = 'js',
        algorithm: string | undefined,
        threads: number | undefined;
      if (s.conv) {
        const e = this.state.api.explain(s.conv.x, s.conv.w, s.conv.options);
        backend = `${e.backend}${e.isa ? `-${e.isa}` : ''}`;
        algorithm = s.conv.layer?.algorithm ?? e.algorithm;
        threads = e.threads;
      } else if (s.kind === 'ConvTranspose') backend = 'fastconv';
      return {
        op: s.kind,
        nodes: s.nodes.map((n) => n.name),
        backend,
        algorithm,
        threads,
        outputShape: s.outShape?.slice() ?? [],
        ms: s.ms,
        share: total > 0 ? s.ms / total : 0,
      };
    });
  }

  /** Frees the packed weights (the model cannot run after). */
  dispose(): void {
    this.disposed = true;
    for (const l of this.state.layers.values()) l.dispose();
    this.state.layers.clear();
    this.plans.clear();
    this.last = undefined;
  }
}

export function createModel(api: FastconvApi, bytes: Uint8Array, options: LoadOptions | undefined): OnnxModel {
  if (options !== undefined && (options === null || typeof options !== 'object'))
    throw new TypeError('options must be an object { backend }');
  const backend = options?.backend ?? 'auto';
  if (!BACKENDS.includes(backend))
    throw new RangeError(`options.backend must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`);
  const graph = parseModel(bytes);
  try {
    return new OnnxModel(graph, { api, backend, layers: new Map() });
  } catch (e) {
    if (e instanceof OnnxError || e instanceof TypeError || e instanceof RangeError) {
      if (e instanceof OnnxError) throw e;
      // A fastconv argument error while compiling names a fastconv argument: say which model part caused it.
      throw new OnnxError(`the model could not be compiled: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}
