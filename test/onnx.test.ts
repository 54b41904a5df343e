// fastconv/onnx: the committed torch-exported models (test/onnx/gen.py) against PyTorch's float64 outputs,
// on native and wasm, and against onnxruntime-node when it loads; fusions; dynamic batch; load-time errors
// for unsupported ops/attributes; malformed-file fuzzing.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ProtoWriter } from '../bench/peers/protobuf.js';
import { backendInfo } from '../src/index.node.js';
import type { OnnxModel } from '../src/onnx/index.node.js';
import { loadOnnxSync, OnnxError } from '../src/onnx/index.node.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'onnx', 'models');

interface Meta {
  opset: number;
  dynamicBatch: boolean;
  inputs: { name: string; shape: number[] }[];
  outputs: { name: string; shape: number[] }[];
}
interface Fixture {
  name: string;
  bytes: Uint8Array;
  meta: Meta;
  input: Float32Array;
  expected: Float64Array[];
}

function fixture(name: string): Fixture {
  const meta = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as Meta;
  const inBuf = readFileSync(join(DIR, `${name}.in.f32`)),
    outBuf = readFileSync(join(DIR, `${name}.out.f64`));
  const input = new Float32Array(inBuf.buffer.slice(inBuf.byteOffset, inBuf.byteOffset + inBuf.byteLength));
  const all = new Float64Array(outBuf.buffer.slice(outBuf.byteOffset, outBuf.byteOffset + outBuf.byteLength));
  let off = 0;
  const expected = meta.outputs.map((o) => {
    const n = o.shape.reduce((a, b) => a * b, 1);
    const part = all.subarray(off, off + n);
    off += n;
    return part;
  });
  return { name, bytes: new Uint8Array(readFileSync(join(DIR, `${name}.onnx`))), meta, input, expected };
}

const NAMES = readdirSync(DIR)
  .filter((f) => f.endsWith('.onnx'))
  .map((f) => f.slice(0, -5))
  .sort();

/** max |a - b| / max |b|: the 1e-4 criterion of the issue. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let d = 0,
    m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  expect(m).toBeGreaterThan(0);
  return d / m;
}

function check(model: OnnxModel, f: Fixture, out: Record<string, { data: Float32Array; shape: number[] }>): void {
  f.meta.outputs.forEach((o, i) => {
    expect(out[o.name].shape).toEqual(o.shape);
    expect(relErr(out[o.name].data, f.expected[i])).toBeLessThan(1e-4);
  });
  expect(model.outputs.map((o) => o.name)).toEqual(f.meta.outputs.map((o) => o.name));
}

const available = backendInfo().available;
const BACKENDS = (['native', 'wasm'] as const).filter((b) =>
  b === 'native' ? available.native : available.wasmSimd || available.wasmRelaxed || available.wasmScalar
);

describe('committed models', () => {
  it('are all there and small', () => {
    expect(NAMES).toEqual([
      'audio1d',
      'deeplab',
      'densenet',
      'efficientnet',
      'misc',
      'mnasnet',
      'mobilenet_v2',
      'mobilenet_v3',
      'regnet',
      'resnet_basic',
      'resnet_basic_op11',
      'resnet_basic_op17',
      'resnext_bottleneck',
      'shufflenet_v2',
      'squeezenet',
      'vgg',
    ]);
    let total = 0;
    for (const n of NAMES) {
      const b = fixture(n).bytes.length;
      expect(b).toBeLessThan(1 << 20);
      total += b;
    }
    expect(total).toBeLessThan(5 << 20);
  });
});

for (const backend of BACKENDS) {
  describe(`PyTorch agreement on ${backend}`, () => {
    for (const name of NAMES) {
      it(name, async () => {
        const f = fixture(name);
        const model = loadOnnxSync(f.bytes, { backend });
        const feeds = { [f.meta.inputs[0].name]: { data: f.input, shape: f.meta.inputs[0].shape } };
        check(model, f, model.runSync(feeds));
        check(model, f, await model.run(feeds));
        const steps = model.explain();
        expect(steps.length).toBeGreaterThan(0);
        for (const s of steps.filter((t) => t.op.startsWith('Conv+'))) expect(s.backend.startsWith(backend)).toBe(true);
        expect(steps.reduce((a, s) => a + s.share, 0)).toBeCloseTo(1, 5);
        model.dispose();
        expect(() => model.runSync(feeds)).toThrow(/disposed/);
      });
    }
  });
}

describe('compilation', () => {
  it('folds BatchNormalization into the conv and fuses Relu; folds the shape subgraphs', () => {
    // resnet_basic_op11 is exported without torch's own folding: its BatchNormalization nodes are the runner's to fold.
    const ops = loadOnnxSync(fixture('resnet_basic_op11').bytes)
      .explain()
      .map((s) => s.op);
    expect(ops).toContain('Conv+BatchNormalization+Relu');
    expect(ops).toContain('Conv+BatchNormalization');
    // The residual Add and its Relu run in the epilogue of the conv that produces the Add's other input.
    expect(ops.filter((o) => o === 'Conv+BatchNormalization+Add+Relu').length).toBe(5);
    expect(ops.filter((o) => /^(BatchNormalization|Relu|Add|Add\+Relu)$/.test(o))).toEqual([]);
    // EfficientNet's SiLU, x * sigmoid(x): one epilogue.
    expect(
      loadOnnxSync(fixture('efficientnet').bytes)
        .explain()
        .filter((s) => s.op === 'Conv+Sigmoid+Mul').length
    ).toBe(22);
    expect(
      loadOnnxSync(fixture('resnet_basic').bytes)
        .explain()
        .map((s) => s.op)
    ).toContain('Conv+Relu');
    // MobileNetV2: ReLU6 stays Clip(0, 6); the classifier Gemm runs as a 1x1 convolution on fastconv.
    const mb = loadOnnxSync(fixture('mobilenet_v2').bytes).explain();
    expect(mb.map((s) => s.op)).toContain('Conv+BatchNormalization');
    expect(mb.find((s) => s.op === 'Gemm')?.algorithm).toBeDefined();
    expect(mb.filter((s) => s.op === 'BatchNormalization')).toEqual([]);
    // misc: its 63 Constant nodes, Shape, Cast and ConstantOfShape (F.pad's and interpolate's size
    // computations) are all folded at load.
    const misc = loadOnnxSync(fixture('misc').bytes)
      .explain()
      .map((s) => s.op);
    expect(misc.filter((o) => /^(Constant|Shape|Cast|ConstantOfShape|Gather|Unsqueeze)$/.test(o))).toEqual([]);
    expect(misc).toEqual(expect.arrayContaining(['ConvTranspose', 'Resize', 'Pad', 'Split', 'MatMul', 'AveragePool', 'Softmax']));
  });

  it('runs other batch sizes of a batch-dynamic model (each sample as alone)', () => {
    for (const name of ['resnext_bottleneck', 'audio1d']) {
      const f = fixture(name),
        m = loadOnnxSync(f.bytes);
      expect(m.inputs[0].shape[0]).toBe('batch');
      const shape = f.meta.inputs[0].shape,
        per = f.input.length / shape[0],
        outPer = f.expected[0].length / shape[0];
      const full = m.runSync({ input: { data: f.input, shape } }).output;
      expect(relErr(full.data, f.expected[0])).toBeLessThan(1e-4);
      const one = m.runSync({ input: { data: f.input.slice(per, 2 * per), shape: [1, ...shape.slice(1)] } }).output;
      expect(one.shape[0]).toBe(1);
      expect(relErr(one.data, f.expected[0].subarray(outPer, 2 * outPer))).toBeLessThan(1e-4);
    }
  });

  it('results stay valid across runs (the plan reuses its buffers; outputs are copies)', () => {
    const f = fixture('resnet_basic'),
      m = loadOnnxSync(f.bytes),
      shape = f.meta.inputs[0].shape;
    const a = m.runSync({ input: { data: f.input, shape } }).output;
    const other = m.runSync({ input: { data: f.input.map((v) => v * -0.5 + 0.1), shape } }).output;
    expect(relErr(a.data, f.expected[0])).toBeLessThan(1e-4);
    expect(relErr(other.data, f.expected[0])).toBeGreaterThan(1e-2);
    expect(relErr(m.runSync({ input: { data: f.input, shape } }).output.data, f.expected[0])).toBeLessThan(1e-4);
  });

  it('checks feeds', () => {
    const f = fixture('squeezenet'),
      m = loadOnnxSync(f.bytes);
    expect(m.inputs).toEqual([{ name: 'input', shape: [1, 3, 47, 47], dtype: 'float32' }]);
    expect(() => m.runSync({})).toThrow(/feeds\['input'\]/);
    expect(() => m.runSync({ input: { data: new Float32Array(5), shape: [1, 3, 47, 47] } })).toThrow(RangeError);
    expect(() => m.runSync({ input: { data: f.input, shape: [1, 3, 47, 48] } })).toThrow(/shape\[3\] must be 47/);
    expect(() => m.runSync({ input: { data: Array.from(f.input) as never, shape: [1, 3, 47, 47] } })).toThrow(TypeError);
    expect(() => m.runSync({ input: { data: f.input, shape: [1, 3, 47, 47] }, extra: { data: f.input, shape: [1] } })).toThrow(
      /no input 'extra'/
    );
    const before = f.input.slice();
    m.runSync({ input: { data: f.input, shape: [1, 3, 47, 47] } });
    expect(f.input).toEqual(before);
  });
});

// ---- hand-built graphs: attributes torch does not export, and the load-time errors ----------------------

const FLOAT = 1,
  A_INT = 2,
  A_INTS = 7,
  A_STRING = 3;
const A_FLOAT = 1;
type Attr = [string, number, number | number[] | string];
function attr([name, type, v]: Attr): Uint8Array {
  const w = new ProtoWriter().string(1, name).int(20, type);
  if (type === A_INT) w.int(3, v as number);
  else if (type === A_INTS) w.packedInts(8, v as number[]);
  else if (type === A_STRING) w.string(4, v as string);
  const head = w.finish();
  if (type !== A_FLOAT) return head;
  // AttributeProto.f is field 2, wire type 5 (fixed32), which the bench's writer does not emit.
  const out = new Uint8Array(head.length + 5);
  out.set(head);
  out[head.length] = (2 << 3) | 5;
  new DataView(out.buffer).setFloat32(head.length + 1, v as number, true);
  return out;
}
function tensorProto(name: string, dims: number[], data: Float32Array | BigInt64Array): ProtoWriter {
  // INT64 (7) for the shape-like inputs (pads, axes, sizes), FLOAT (1) otherwise.
  return new ProtoWriter()
    .packedInts(1, dims)
    .int(2, data instanceof BigInt64Array ? 7 : FLOAT)
    .string(8, name)
    .bytes(9, new Uint8Array(data.buffer.slice(0)));
}
const i64 = (...v: number[]) => BigInt64Array.from(v.map(BigInt));
function valueInfo(name: string, dims: number[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, new ProtoWriter().int(1, d));
  return new ProtoWriter()
    .string(1, name)
    .message(2, new ProtoWriter().message(1, new ProtoWriter().int(1, FLOAT).message(2, shape)));
}
interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Attr[];
  name?: string;
}
function model(
  nodes: NodeSpec[],
  inits: [string, number[], Float32Array | BigInt64Array][],
  input: number[],
  outputs: [string, number[]][],
  opset = 13
): Uint8Array {
  const g = new ProtoWriter();
  nodes.forEach((n, i) => {
    const w = new ProtoWriter();
    for (const x of n.inputs) w.string(1, x);
    for (const y of n.outputs) w.string(2, y);
    w.string(3, n.name ?? `n${i}`).string(4, n.op);
    for (const a of n.attrs ?? []) w.bytes(5, attr(a));
    g.message(1, w);
  });
  g.string(2, 'g');
  for (const [name, dims, data] of inits) g.message(5, tensorProto(name, dims, data));
  g.message(11, valueInfo('x', input));
  for (const [name, dims] of outputs) g.message(12, valueInfo(name, dims));
  return new ProtoWriter().int(1, 8).message(7, g).message(8, new ProtoWriter().string(1, '').int(2, opset)).finish();
}

const seq = (n: number, f = (i: number) => Math.sin(i * 1.3)) => Float32Array.from({ length: n }, (_, i) => f(i));

/** Direct float64 NCHW convolution with ONNX's pads [t, l, b, r]. */
function refConv(
  x: Float32Array,
  [N, C, H, W]: number[],
  w: Float32Array,
  [K, Cg, R, S]: number[],
  pads: number[],
  stride: number[],
  dil: number[],
  group: number
) {
  const OH = Math.floor((H + pads[0] + pads[2] - dil[0] * (R - 1) - 1) / stride[0]) + 1;
  const OW = Math.floor((W + pads[1] + pads[3] - dil[1] * (S - 1) - 1) / stride[1]) + 1;
  const out = new Float64Array(N * K * OH * OW),
    Kg = K / group;
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = 0;
          const g = Math.floor(k / Kg);
          for (let c = 0; c < Cg; c++)
            for (let r = 0; r < R; r++)
              for (let q = 0; q < S; q++) {
                const h = oh * stride[0] - pads[0] + r * dil[0],
                  ww = ow * stride[1] - pads[1] + q * dil[1];
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                s += x[((n * C + g * Cg + c) * H + h) * W + ww] * w[((k * Cg + c) * R + r) * S + q];
              }
          out[((n * K + k) * OH + oh) * OW + ow] = s;
        }
  return { out, shape: [N, K, OH, OW] };
}

describe('hand-built graphs', () => {
  it('Conv auto_pad SAME_UPPER / SAME_LOWER and asymmetric pads', () => {
    // 8x7 input, stride 2, kernel 3x2: the SAME totals are 1 and 1, so SAME_UPPER pads after, SAME_LOWER before.
    const x = seq(2 * 4 * 8 * 7),
      w = seq(6 * 2 * 3 * 2, (i) => Math.cos(i));
    for (const [autoPad, pads] of [
      ['SAME_UPPER', [0, 0, 1, 1]],
      ['SAME_LOWER', [1, 1, 0, 0]],
      ['NOTSET', [2, 0, 1, 3]],
    ] as const) {
      const ref = refConv(x, [2, 4, 8, 7], w, [6, 2, 3, 2], [...pads], [2, 2], [1, 1], 2);
      const attrs: Attr[] = [
        ['strides', A_INTS, [2, 2]],
        ['group', A_INT, 2],
      ];
      if (autoPad === 'NOTSET') attrs.push(['pads', A_INTS, [...pads]]);
      else attrs.push(['auto_pad', A_STRING, autoPad]);
      const m = loadOnnxSync(
        model(
          [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs }],
          [['w', [6, 2, 3, 2], w]],
          [2, 4, 8, 7],
          [['y', ref.shape]]
        )
      );
      const y = m.runSync({ x: { data: x, shape: [2, 4, 8, 7] } }).y;
      expect(y.shape).toEqual(ref.shape);
      expect(relErr(y.data, ref.out)).toBeLessThan(1e-5);
    }
  });

  it('an unsupported op or attribute is an error at load naming the node, the op and the attribute', () => {
    const w: [string, number[], Float32Array][] = [['w', [2, 1, 3, 3], seq(18)]];
    const bad =
      (n: NodeSpec, inits = w) =>
      () =>
        loadOnnxSync(model([n], inits, [1, 1, 5, 5], [['y', [1, 2, 3, 3]]]));
    expect(bad({ op: 'NonMaxSuppression', inputs: ['x'], outputs: ['y'], name: 'nms' })).toThrow(
      /node 'nms' \(NonMaxSuppression\): op 'NonMaxSuppression' is not supported/
    );
    expect(bad({ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'c1', attrs: [['frobnicate', A_INT, 1]] })).toThrow(
      /node 'c1' \(Conv\): attribute 'frobnicate' of Conv is not supported/
    );
    expect(
      bad({
        op: 'MaxPool',
        inputs: ['x'],
        outputs: ['y'],
        name: 'p',
        attrs: [
          ['kernel_shape', A_INTS, [3, 3]],
          ['storage_order', A_INT, 1],
        ],
      })
    ).toThrow(/node 'p' \(MaxPool\): attribute 'storage_order' = 1 is not supported/);
    expect(
      bad({ op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'], name: 'r', attrs: [['mode', A_STRING, 'cubic']] }, [
        ['s', [4], Float32Array.of(1, 1, 2, 2)],
      ])
    ).toThrow(/node 'r' \(Resize\): attribute 'mode' = 'cubic' is not supported/);
    expect(
      bad({ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'c', attrs: [['auto_pad', A_STRING, 'SAME_MIDDLE']] })
    ).toThrow(/attribute 'auto_pad'/);
    expect(bad({ op: 'Conv', inputs: ['x', 'x'], outputs: ['y'], name: 'c' })).toThrow(
      /node 'c' \(Conv\): the weight and bias must be constants/
    );
    expect(() => loadOnnxSync(model([{ op: 'Relu', inputs: ['z'], outputs: ['y'] }], [], [1, 1, 5, 5], [['y', [1]]]))).toThrow(
      /input 'z' is produced by no node/
    );
    // Wrong types: an INT where INTS belong, a STRING where an INT belongs, an op reading a later node's output.
    expect(bad({ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'c', attrs: [['strides', A_INT, 2]] })).toThrow(
      /node 'c' \(Conv\): attribute 'strides' has attribute type 2, expected 7/
    );
    expect(bad({ op: 'Flatten', inputs: ['x'], outputs: ['y'], name: 'f', attrs: [['axis', A_STRING, 'one']] })).toThrow(
      /node 'f' \(Flatten\): attribute 'axis'/
    );
    expect(() =>
      loadOnnxSync(
        model(
          [
            { op: 'Relu', inputs: ['a'], outputs: ['y'], name: 'r1' },
            { op: 'Relu', inputs: ['x'], outputs: ['a'] },
          ],
          [],
          [1, 1, 5, 5],
          [['y', [1, 1, 5, 5]]]
        )
      )
    ).toThrow(/node 'r1' \(Relu\): input 'a' is produced by a later node/);
    expect(() =>
      loadOnnxSync(
        model(
          [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'c' }],
          [['w', [2, 1, 3, 3], seq(17)]],
          [1, 1, 5, 5],
          [['y', [1, 2, 3, 3]]]
        )
      )
    ).toThrow(/initializer 'w': raw_data holds 68 bytes, 18 FLOAT elements need 72/);
  });
});

// ---- malformed files ----------------------------------------------------------------------------------

describe('malformed files', () => {
  it('truncations, bit flips and byte overwrites are an Error at load (or a model that runs), never a crash or a hang', () => {
    const good = fixture('audio1d').bytes;
    let rng = 12345;
    const rand = () => {
      rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
      return rng / 2 ** 32;
    };
    const cases: Uint8Array[] = [];
    for (let i = 0; i < 150; i++) cases.push(good.slice(0, Math.floor(rand() * good.length)));
    for (let i = 0; i < 200; i++) {
      const b = good.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let j = 0; j < flips; j++) {
        const at = Math.floor(rand() * b.length);
        b[at] ^= 1 << Math.floor(rand() * 8);
      }
      cases.push(b);
    }
    for (let i = 0; i < 100; i++) {
      const b = good.slice();
      b[Math.floor(rand() * Math.min(b.length, 400))] = Math.floor(rand() * 256);
      cases.push(b);
    }
    cases.push(new Uint8Array(0), new Uint8Array(100).fill(0xff), new TextEncoder().encode('not an onnx file at all'));
    let rejected = 0,
      ran = 0;
    const t0 = performance.now();
    for (const b of cases) {
      let m: OnnxModel;
      try {
        m = loadOnnxSync(b, { backend: 'js' });
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message.length).toBeGreaterThan(10);
        rejected++;
        continue;
      }
      // A flip inside a weight leaves a valid model: it must run on well-formed feeds (or refuse them clearly).
      try {
        const inp = m.inputs[0];
        const shape = inp.shape.map((d) => (typeof d === 'number' ? d : 1));
        m.runSync({ [inp.name]: { data: new Float32Array(shape.reduce((a, c) => a * c, 1)), shape } });
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
      }
      ran++;
    }
    expect(rejected + ran).toBe(cases.length);
    expect(rejected).toBeGreaterThan(150);
    expect(performance.now() - t0).toBeLessThan(60_000);
  });

  it('names the problem', () => {
    expect(() => loadOnnxSync(new Uint8Array(0))).toThrow(/empty/);
    expect(() => loadOnnxSync(fixture('misc').bytes.slice(0, 500))).toThrow(OnnxError);
    expect(() => loadOnnxSync('nope' as never as Uint8Array)).toThrow(/ENOENT|no such file/);
  });
});

// ---- onnxruntime-node on the same files --------------------------------------------------------------

type Ort = typeof import('onnxruntime-node');
let ort: Ort | undefined,
  ortError = '';
try {
  ort = await import('onnxruntime-node');
} catch (e) {
  ortError = (e as Error).message.split('\n')[0];
}

// Attributes and ops the torch exports above do not reach, each a one- or two-node graph checked against
// onnxruntime-node (the reference implementation of these ONNX semantics here).
const X = [2, 3, 6, 7];
const OP_CASES: {
  name: string;
  nodes: NodeSpec[];
  inits?: [string, number[], Float32Array | BigInt64Array][];
  input?: number[];
  out: number[];
  opset?: number;
}[] = [
  {
    name: 'Dropout (inference) + Identity',
    nodes: [
      { op: 'Dropout', inputs: ['x'], outputs: ['d'] },
      { op: 'Identity', inputs: ['d'], outputs: ['y'] },
    ],
    out: X,
  },
  {
    name: 'Upsample (opset 9) nearest',
    nodes: [{ op: 'Upsample', inputs: ['x', 's'], outputs: ['y'], attrs: [['mode', A_STRING, 'nearest']] }],
    inits: [['s', [4], Float32Array.of(1, 1, 2, 3)]],
    out: [2, 3, 12, 21],
    opset: 9,
  },
  {
    name: 'Resize linear align_corners (sizes)',
    nodes: [
      {
        op: 'Resize',
        inputs: ['x', '', '', 'sz'],
        outputs: ['y'],
        attrs: [
          ['mode', A_STRING, 'linear'],
          ['coordinate_transformation_mode', A_STRING, 'align_corners'],
        ],
      },
    ],
    inits: [['sz', [4], i64(2, 3, 11, 5)]],
    out: [2, 3, 11, 5],
  },
  {
    name: 'Resize linear half_pixel (scales)',
    nodes: [{ op: 'Resize', inputs: ['x', '', 'sc'], outputs: ['y'], attrs: [['mode', A_STRING, 'linear']] }],
    inits: [['sc', [4], Float32Array.of(1, 1, 1.5, 0.5)]],
    out: [2, 3, 9, 3],
  },
  {
    name: 'Resize nearest round_prefer_ceil half_pixel',
    nodes: [{ op: 'Resize', inputs: ['x', '', 'sc'], outputs: ['y'], attrs: [['nearest_mode', A_STRING, 'round_prefer_ceil']] }],
    inits: [['sc', [4], Float32Array.of(1, 1, 2.5, 1.5)]],
    out: [2, 3, 15, 10],
  },
  {
    name: 'Gemm transA, alpha, beta, full bias, run-time B',
    nodes: [
      { op: 'Flatten', inputs: ['x'], outputs: ['f'], attrs: [['axis', A_INT, 2]] },
      { op: 'Reshape', inputs: ['f', 'shp'], outputs: ['a'] },
      { op: 'Transpose', inputs: ['a'], outputs: ['at'], attrs: [['perm', A_INTS, [1, 0]]] },
      {
        op: 'Gemm',
        inputs: ['at', 'at', 'c'],
        outputs: ['y'],
        attrs: [
          ['transA', A_INT, 1],
          ['alpha', A_FLOAT, 0.5],
          ['beta', A_FLOAT, 2],
        ],
      },
    ],
    inits: [
      ['shp', [2], i64(6, -1)],
      ['c', [6, 6], seq(36)],
    ],
    out: [6, 6],
  },
  {
    name: 'Gemm transB with constant weight + Relu (a 1x1 conv)',
    nodes: [
      { op: 'Flatten', inputs: ['x'], outputs: ['f'] },
      {
        op: 'Gemm',
        inputs: ['f', 'w', 'b'],
        outputs: ['g'],
        attrs: [
          ['transB', A_INT, 1],
          ['alpha', A_FLOAT, 0.25],
        ],
      },
      { op: 'Relu', inputs: ['g'], outputs: ['y'] },
    ],
    inits: [
      ['w', [5, 126], seq(630)],
      ['b', [5], seq(5)],
    ],
    out: [2, 5],
  },
  {
    name: 'MatMul broadcasting batch dims',
    nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
    inits: [['w', [3, 7, 4], seq(84)]],
    out: [2, 3, 6, 4],
  },
  {
    name: 'Softmax opset 11 (coerced to 2-D at axis 1)',
    nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: [['axis', A_INT, 1]] }],
    out: X,
    opset: 11,
  },
  {
    name: 'LogSoftmax axis 2',
    nodes: [{ op: 'LogSoftmax', inputs: ['x'], outputs: ['y'], attrs: [['axis', A_INT, 2]] }],
    out: X,
  },
  {
    name: 'ReduceMean keepdims 0 over [1, 3]',
    nodes: [
      {
        op: 'ReduceMean',
        inputs: ['x'],
        outputs: ['y'],
        attrs: [
          ['axes', A_INTS, [1, 3]],
          ['keepdims', A_INT, 0],
        ],
      },
    ],
    out: [2, 6],
  },
  {
    name: 'Pad reflect and edge',
    nodes: [
      { op: 'Pad', inputs: ['x', 'p'], outputs: ['r'], attrs: [['mode', A_STRING, 'reflect']] },
      { op: 'Pad', inputs: ['r', 'p'], outputs: ['y'], attrs: [['mode', A_STRING, 'edge']] },
    ],
    inits: [['p', [8], i64(0, 0, 2, 1, 0, 0, 1, 3)]],
    out: [2, 3, 12, 15],
  },
  {
    name: 'Pad constant value, negative pads crop',
    nodes: [{ op: 'Pad', inputs: ['x', 'p', 'v'], outputs: ['y'] }],
    inits: [
      ['p', [8], i64(0, 0, -1, 2, 0, 0, 1, -2)],
      ['v', [], Float32Array.of(0.75)],
    ],
    out: [2, 3, 6, 7],
  },
  {
    name: 'Slice negative steps, Squeeze/Unsqueeze',
    nodes: [
      { op: 'Slice', inputs: ['x', 'st', 'en', 'ax', 'sp'], outputs: ['s'] },
      { op: 'Unsqueeze', inputs: ['s', 'ua'], outputs: ['u'] },
      { op: 'Squeeze', inputs: ['u', 'ua'], outputs: ['y'] },
    ],
    inits: [
      ['st', [2], i64(-1, 5)],
      ['en', [2], i64(-100, 0)],
      ['ax', [2], i64(3, 2)],
      ['sp', [2], i64(-2, -2)],
      ['ua', [1], i64(0)],
    ],
    out: [2, 3, 3, 4],
  },
  {
    name: 'Split by sizes, Concat, Sub/Div/Mul broadcasting',
    nodes: [
      { op: 'Split', inputs: ['x', 'sz'], outputs: ['a', 'b'], attrs: [['axis', A_INT, 3]] },
      { op: 'Sub', inputs: ['a', 'r'], outputs: ['c'] },
      { op: 'Div', inputs: ['b', 'q'], outputs: ['d'] },
      { op: 'Mul', inputs: ['c', 'm'], outputs: ['e'] },
      { op: 'Concat', inputs: ['e', 'd'], outputs: ['y'], attrs: [['axis', A_INT, 3]] },
    ],
    inits: [
      ['sz', [2], i64(3, 4)],
      ['r', [3], Float32Array.of(0.5, -1, 2)],
      ['q', [1, 3, 1, 1], Float32Array.of(2, -4, 0.5)],
      ['m', [2, 1, 6, 1], seq(12)],
    ],
    out: X,
  },
  {
    name: 'MaxPool dilations, asymmetric pads, ceil_mode',
    nodes: [
      {
        op: 'MaxPool',
        inputs: ['x'],
        outputs: ['y'],
        attrs: [
          ['kernel_shape', A_INTS, [2, 3]],
          ['dilations', A_INTS, [2, 1]],
          ['pads', A_INTS, [1, 0, 0, 1]],
          ['strides', A_INTS, [2, 2]],
          ['ceil_mode', A_INT, 1],
        ],
      },
    ],
    out: [2, 3, 3, 4],
  },
  {
    name: 'AveragePool SAME_UPPER, count_include_pad 0',
    nodes: [
      {
        op: 'AveragePool',
        inputs: ['x'],
        outputs: ['y'],
        attrs: [
          ['kernel_shape', A_INTS, [3, 2]],
          ['strides', A_INTS, [2, 2]],
          ['auto_pad', A_STRING, 'SAME_UPPER'],
        ],
      },
    ],
    out: [2, 3, 3, 4],
  },
  {
    name: 'GlobalMaxPool, HardSigmoid, LeakyRelu alpha',
    nodes: [
      { op: 'GlobalMaxPool', inputs: ['x'], outputs: ['g'] },
      {
        op: 'HardSigmoid',
        inputs: ['x'],
        outputs: ['h'],
        attrs: [
          ['alpha', A_FLOAT, 0.3],
          ['beta', A_FLOAT, 0.4],
        ],
      },
      { op: 'Mul', inputs: ['h', 'g'], outputs: ['m'] },
      { op: 'LeakyRelu', inputs: ['m'], outputs: ['y'], attrs: [['alpha', A_FLOAT, 0.2]] },
    ],
    out: X,
  },
  {
    name: 'Conv 1-D SAME_LOWER (even kernel) + BatchNormalization + Clip',
    input: [2, 4, 11],
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attrs: [['auto_pad', A_STRING, 'SAME_LOWER']] },
      { op: 'BatchNormalization', inputs: ['c', 'g', 'bb', 'mu', 'v'], outputs: ['n'], attrs: [['epsilon', A_FLOAT, 1e-3]] },
      { op: 'Clip', inputs: ['n', 'lo', 'hi'], outputs: ['y'] },
    ],
    inits: [
      ['w', [6, 4, 4], seq(96)],
      ['g', [6], seq(6, (i) => 1 + i / 4)],
      ['bb', [6], seq(6)],
      ['mu', [6], seq(6, Math.cos)],
      ['v', [6], seq(6, (i) => 0.5 + i)],
      ['lo', [], Float32Array.of(-0.5)],
      ['hi', [], Float32Array.of(1)],
    ],
    out: [2, 6, 11],
  },
  {
    name: 'ConvTranspose 1-D groups, dilation, output_padding',
    input: [2, 4, 9],
    nodes: [
      {
        op: 'ConvTranspose',
        inputs: ['x', 'w', 'b'],
        outputs: ['y'],
        attrs: [
          ['strides', A_INTS, [3]],
          ['pads', A_INTS, [1, 1]],
          ['group', A_INT, 2],
          ['dilations', A_INTS, [2]],
          ['output_padding', A_INTS, [1]],
        ],
      },
    ],
    inits: [
      ['w', [4, 3, 3], seq(36)],
      ['b', [6], seq(6)],
    ],
    out: [2, 6, 28],
  },
  {
    name: 'standalone BatchNormalization, Sigmoid, Tanh, HardSwish',
    nodes: [
      { op: 'BatchNormalization', inputs: ['x', 'g', 'bb', 'mu', 'v'], outputs: ['n'] },
      { op: 'Sigmoid', inputs: ['n'], outputs: ['s'] },
      { op: 'Tanh', inputs: ['n'], outputs: ['t'] },
      { op: 'HardSwish', inputs: ['n'], outputs: ['h'] },
      { op: 'Add', inputs: ['s', 't'], outputs: ['a'] },
      { op: 'Add', inputs: ['a', 'h'], outputs: ['y'] },
    ],
    inits: [
      ['g', [3], seq(3)],
      ['bb', [3], seq(3)],
      ['mu', [3], seq(3, Math.cos)],
      ['v', [3], Float32Array.of(0.5, 1, 2)],
    ],
    out: X,
    opset: 14,
  },
];

describe.skipIf(!ort)(
  `ops against onnxruntime-node${ort ? '' : ` (skipped: onnxruntime-node does not load: ${ortError})`}`,
  () => {
    for (const c of OP_CASES) {
      it(c.name, async () => {
        const input = c.input ?? X,
          n = input.reduce((a, b) => a * b, 1);
        const bytes = model(c.nodes, c.inits ?? [], input, [['y', c.out]], c.opset);
        const x = seq(n, (i) => Math.sin(i * 0.7) * 2 + 0.1);
        const session = await ort!.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
        const want = (await session.run({ x: new ort!.Tensor('float32', x, input) })).y;
        await session.release();
        for (const backend of BACKENDS) {
          const got = loadOnnxSync(bytes, { backend }).runSync({ x: { data: x, shape: input } }).y;
          expect(got.shape).toEqual(want.dims);
          expect(relErr(got.data, Float64Array.from(want.data as Float32Array))).toBeLessThan(1e-5);
        }
      });
    }
  }
);

describe.skipIf(!ort)(
  `onnxruntime-node on the same files${ort ? '' : ` (skipped: onnxruntime-node does not load: ${ortError})`}`,
  () => {
    for (const name of NAMES) {
      it(name, async () => {
        const f = fixture(name);
        const session = await ort!.InferenceSession.create(f.bytes, { executionProviders: ['cpu'] });
        const x = new ort!.Tensor('float32', f.input, f.meta.inputs[0].shape);
        const r = await session.run({ [f.meta.inputs[0].name]: x });
        const mine = loadOnnxSync(f.bytes).runSync({ input: { data: f.input, shape: f.meta.inputs[0].shape } });
        f.meta.outputs.forEach((o, i) => {
          const theirs = r[o.name].data as Float32Array;
          expect(relErr(theirs, f.expected[i])).toBeLessThan(1e-4);
          expect(relErr(mine[o.name].data, Float64Array.from(theirs))).toBeLessThan(1e-4);
        });
        await session.release();
      });
    }
  }
);
