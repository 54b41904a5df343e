// fast-check arbitraries of hostile cases (hostile-types.ts), one per property of
// test/hostile.property.test.ts. Each draws an operation, a backend and a forced algorithm, a small valid
// geometry (or an extreme template) built from raw integers so that shrinking moves toward small,
// ordinary calls, and then the mutations of the property: option values, containers and tensor objects,
// buffers, or sizes.

import fc from 'fast-check';
import type {
  Algo,
  BackendName,
  DataForm,
  Family,
  Geom,
  HostileCase,
  HValue,
  Mutation,
  Num,
  ObjectForm,
  Op,
  OptionsContainer,
  PadForm,
  ShapeForm,
  TensorSlot,
} from './hostile-types.js';
import { ALGOS, BACKENDS, dimsOf, familyOf, isAsync, OPS, takesBackend } from './hostile-types.js';

// ---- geometry ----

interface Raw {
  dims: 1 | 2;
  N: number;
  groups: number;
  Cg: number;
  Kg: number;
  k: number[];
  s: number[];
  d: number[];
  p: number[];
  extra: number[];
  op: number[];
  padForm: PadForm;
  strideForm: 'default' | 'scalar' | 'array';
  channelsLast: boolean;
  unbatched: boolean;
  bias: boolean;
  relu: boolean;
  out: Geom['out'];
  ceilMode: boolean;
  countIncludePad: boolean | null;
  returnIndices: boolean;
  givenIndices: boolean;
  needs: Geom['needs'];
}

const ints = (n: number, lo: number, hi: number) => fc.array(fc.integer({ min: lo, max: hi }), { minLength: n, maxLength: n });

const rawArb = (dims: 1 | 2, algorithm: Algo): fc.Arbitrary<Raw> => {
  // Winograd and FFT apply to 3x3 (or 3-tap) stride-1 kernels: draw those often when they are forced.
  const fastAlgo = algorithm === 'winograd' || algorithm === 'fft';
  const kArb = fastAlgo
    ? fc.oneof({ weight: 3, arbitrary: fc.constant(new Array(dims).fill(3)) }, { weight: 1, arbitrary: ints(dims, 1, 5) })
    : ints(dims, 1, dims === 1 ? 5 : 3);
  const one = new Array(dims).fill(1);
  return fc.record({
    dims: fc.constant(dims),
    N: fc.integer({ min: 1, max: 2 }),
    groups: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 3 }) }),
    Cg: fc.integer({ min: 1, max: 3 }),
    Kg: fc.integer({ min: 1, max: 3 }),
    k: kArb,
    s: fastAlgo
      ? fc.constant(one)
      : fc.oneof({ weight: 2, arbitrary: fc.constant(one) }, { weight: 1, arbitrary: ints(dims, 1, 3) }),
    d: fc.oneof({ weight: 3, arbitrary: fc.constant(one) }, { weight: 1, arbitrary: ints(dims, 1, 2) }),
    p: ints(2 * dims, 0, 2),
    extra: ints(dims, 0, 4),
    op: ints(dims, 0, 2),
    padForm: fc.constantFrom<PadForm>('none', 'valid', 'same', 'int', 'perdim', 'explicit'),
    strideForm: fc.constantFrom<Raw['strideForm']>('default', 'scalar', 'array'),
    channelsLast: fc.boolean(),
    unbatched: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    bias: fc.boolean(),
    relu: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    out: fc.constantFrom<Geom['out']>('none', 'none', 'exact', 'larger'),
    ceilMode: fc.boolean(),
    countIncludePad: fc.constantFrom<boolean | null>(null, true, false),
    returnIndices: fc.boolean(),
    givenIndices: fc.boolean(),
    needs: fc.oneof(
      fc.constant(null),
      fc.subarray(['input', 'weight', 'bias'] as ('input' | 'weight' | 'bias')[], { minLength: 1 })
    ),
  });
};

const isPoolFamily = (f: Family) => f === 'maxPool' || f === 'avgPool' || f === 'maxPoolBackward' || f === 'avgPoolBackward';

/** A consistent valid geometry from raw numbers. */
export function buildGeom(f: Family, r: Raw): Geom {
  const dims = isPoolFamily(f) ? 2 : r.dims;
  const k = r.k.slice(0, dims),
    s0 = r.s.slice(0, dims),
    d = r.d.slice(0, dims);
  const groups = isPoolFamily(f) ? 1 : r.groups;
  let s = r.strideForm === 'default' ? new Array(dims).fill(1) : r.strideForm === 'scalar' ? new Array(dims).fill(s0[0]) : s0;
  let strideForm = r.strideForm;
  let padForm = r.padForm;
  let pad: number[];
  let outPad = new Array(dims).fill(0);
  const g: Omit<Geom, 'spatial' | 'pad' | 'stride' | 'padForm' | 'strideForm' | 'outPad'> = {
    dims,
    N: r.unbatched ? 1 : r.N,
    C: r.Cg * groups,
    K: r.Kg * groups,
    groups,
    kernel: k,
    dilation: d,
    channelsLast: r.channelsLast,
    unbatched: r.unbatched,
    bias: r.bias,
    relu: r.relu,
    out: r.out,
    ceilMode: r.ceilMode,
    countIncludePad: r.countIncludePad,
    returnIndices: r.returnIndices,
    givenIndices: r.givenIndices,
    needs: r.needs,
    template: '',
  };
  if (isPoolFamily(f)) {
    // Pooling: symmetric padding of at most half the kernel; stride defaults to the kernel.
    if (strideForm === 'default') s = k.slice();
    const ph = Math.min(r.p[0], Math.floor(k[0] / 2)),
      pw = Math.min(r.p[1], Math.floor(k[1] / 2));
    pad = [ph, ph, pw, pw];
    if (f === 'avgPool' || f === 'avgPoolBackward') d.fill(1);
    const spatial = k.map((kk, i) => Math.max(1, d[i] * (kk - 1) + 1 - 2 * pad[2 * i]) + r.extra[i]);
    // NHWC pooling takes batched inputs only.
    const unbatched = r.unbatched && !r.channelsLast;
    return {
      ...g,
      N: unbatched ? 1 : r.N,
      unbatched,
      C: r.Cg,
      K: r.Cg,
      spatial,
      pad,
      stride: s,
      padForm: 'explicit',
      strideForm,
      outPad,
    };
  }
  if (f === 'transpose') {
    // Padding crops the output: at most d*(k-1)/2 per side keeps every output size positive.
    pad = k.flatMap((kk, i) => {
      const m = Math.floor((d[i] * (kk - 1)) / 2);
      return [Math.min(r.p[2 * i], m), Math.min(r.p[2 * i + 1], m)];
    });
    if (padForm === 'same' || padForm === 'valid') padForm = 'none';
    if (padForm === 'none') pad.fill(0);
    if (padForm === 'int') pad.fill(pad[0]);
    if (padForm === 'perdim') for (let i = 0; i < dims; i++) pad[2 * i + 1] = pad[2 * i];
    if (
      padForm === 'int' &&
      pad.some((x) => x > Math.floor((d[0] * (k[0] - 1)) / 2) || x > Math.floor((d[dims - 1] * (k[dims - 1] - 1)) / 2))
    )
      pad.fill(0);
    outPad = r.op.slice(0, dims).map((o, i) => Math.min(o, Math.max(s[i], d[i]) - 1));
    const spatial = r.extra.slice(0, dims).map((e) => 1 + e);
    return { ...g, spatial, pad, stride: s, padForm, strideForm, outPad };
  }
  if (padForm === 'same' && s.some((x) => x !== 1)) padForm = 'int';
  switch (padForm) {
    case 'none':
    case 'valid':
      pad = new Array(2 * dims).fill(0);
      break;
    case 'same':
      pad = k.flatMap((kk, i) => {
        const t = d[i] * (kk - 1);
        return [Math.floor(t / 2), t - Math.floor(t / 2)];
      });
      break;
    case 'int':
      pad = new Array(2 * dims).fill(r.p[0]);
      break;
    case 'perdim':
      pad = k.flatMap((_, i) => [r.p[2 * i], r.p[2 * i]]);
      break;
    default:
      pad = r.p.slice(0, 2 * dims);
  }
  if (strideForm === 'default' && s.some((x) => x !== 1)) strideForm = 'array';
  const spatial = k.map((kk, i) => Math.max(1, d[i] * (kk - 1) + 1 - pad[2 * i] - pad[2 * i + 1]) + r.extra[i]);
  return { ...g, spatial, pad, stride: s, padForm, strideForm, outPad };
}

const backendArb = fc.constantFrom<BackendName>(...BACKENDS);
const algoArb = fc.constantFrom<Algo>(...ALGOS);
const opArb = fc.constantFrom<Op>(...OPS);

/** An ordinary valid geometry for `op` (explain and outputShape take conv1d and conv2d calls alike). */
function geomArb(op: Op, algorithm: Algo): fc.Arbitrary<Geom> {
  const f = familyOf(op);
  const dimsArb = f === 'explain' || f === 'outputShape' ? fc.constantFrom<1 | 2>(2, 1) : fc.constant(dimsOf(op));
  return dimsArb.chain((dims) => rawArb(dims, algorithm)).map((r) => buildGeom(f, r));
}

/** op, backend, algorithm, geometry, seed; then the property's mutations. */
function caseArb(
  mutations: (op: Op, g: Geom) => fc.Arbitrary<Mutation[]>,
  geom?: (op: Op, algo: Algo) => fc.Arbitrary<Geom>
): fc.Arbitrary<HostileCase> {
  return fc.tuple(opArb, backendArb, algoArb).chain(([op, backend, algorithm]) => {
    const f = familyOf(op);
    const g = geom ? geom(op, algorithm) : geomArb(op, algorithm);
    return g.chain((geomV) =>
      fc.record({
        op: fc.constant(op),
        backend: fc.constant(takesBackend(f) ? backend : ('js' as BackendName)),
        algorithm: fc.constant(takesBackend(f) ? algorithm : ('auto' as Algo)),
        geom: fc.constant(geomV),
        mutations: mutations(op, geomV),
        dataSeed: fc.integer({ min: 1, max: 0x7fffffff }),
      })
    );
  });
}

// ---- which arguments an operation has ----

type Kind = 'pos' | 'nonneg' | 'perdim' | 'padding' | 'enum' | 'bool' | 'strictbool' | 'tensor' | 'needs';
const CONV_OPTS: [string, Kind][] = [
  ['stride', 'perdim'],
  ['padding', 'padding'],
  ['dilation', 'perdim'],
  ['groups', 'pos'],
  ['layout', 'enum'],
  ['activation', 'enum'],
  ['backend', 'enum'],
  ['algorithm', 'enum'],
  ['tune', 'strictbool'],
  ['bias', 'tensor'],
  ['out', 'tensor'],
];
const OPTION_KEYS: Record<Family, [string, Kind][]> = {
  conv: CONV_OPTS,
  explain: CONV_OPTS,
  outputShape: [
    ['stride', 'perdim'],
    ['padding', 'padding'],
    ['dilation', 'perdim'],
    ['groups', 'pos'],
    ['layout', 'enum'],
  ],
  backward: [...CONV_OPTS.filter(([k]) => k !== 'out'), ['needs', 'needs'], ['out', 'tensor']],
  transpose: [
    ['stride', 'perdim'],
    ['padding', 'padding'],
    ['outputPadding', 'perdim'],
    ['dilation', 'perdim'],
    ['groups', 'pos'],
    ['layout', 'enum'],
    ['backend', 'enum'],
    ['algorithm', 'enum'],
    ['bias', 'tensor'],
  ],
  maxPool: [
    ['kernelSize', 'perdim'],
    ['stride', 'perdim'],
    ['padding', 'padding'],
    ['dilation', 'perdim'],
    ['ceilMode', 'bool'],
    ['returnIndices', 'bool'],
    ['layout', 'enum'],
  ],
  avgPool: [
    ['kernelSize', 'perdim'],
    ['stride', 'perdim'],
    ['padding', 'padding'],
    ['ceilMode', 'bool'],
    ['countIncludePad', 'bool'],
    ['layout', 'enum'],
  ],
  maxPoolBackward: [
    ['kernelSize', 'perdim'],
    ['stride', 'perdim'],
    ['padding', 'padding'],
    ['dilation', 'perdim'],
    ['ceilMode', 'bool'],
    ['layout', 'enum'],
    ['indices', 'tensor'],
  ],
  avgPoolBackward: [
    ['kernelSize', 'perdim'],
    ['stride', 'perdim'],
    ['padding', 'padding'],
    ['ceilMode', 'bool'],
    ['countIncludePad', 'bool'],
    ['layout', 'enum'],
  ],
  layer: [
    ['inChannels', 'pos'],
    ['outChannels', 'pos'],
    ['kernelSize', 'perdim'],
    ['stride', 'perdim'],
    ['padding', 'padding'],
    ['dilation', 'perdim'],
    ['groups', 'pos'],
    ['bias', 'bool'],
    ['backend', 'enum'],
    ['algorithm', 'enum'],
    ['layout', 'enum'],
    ['activation', 'enum'],
    ['seed', 'nonneg'],
    ['tune', 'strictbool'],
  ],
};

/** The tensor slots an operation takes (given its geometry). */
function slots(op: Op, g: Geom): TensorSlot[] {
  const f = familyOf(op);
  switch (f) {
    case 'conv':
      return ['input', 'weight', ...(g.bias ? ['bias' as const] : []), ...(g.out !== 'none' ? ['out' as const] : [])];
    case 'explain':
    case 'transpose':
      return ['input', 'weight', ...(g.bias ? ['bias' as const] : [])];
    case 'outputShape':
      return ['input', 'weight'];
    case 'backward':
      return ['input', 'weight', 'gradOutput', ...(g.bias ? ['bias' as const] : [])];
    case 'maxPool':
    case 'avgPool':
      return ['input'];
    case 'maxPoolBackward':
      return ['gradOutput', 'input', ...(g.givenIndices ? ['indices' as const] : [])];
    case 'avgPoolBackward':
      return ['gradOutput', 'input'];
    case 'layer':
      return ['input', 'weight', 'gradOutput', ...(g.out !== 'none' ? ['out' as const] : [])];
  }
}

/** Slots given as { data, shape } objects (bias and out are bare arrays; outputShape takes shapes only). */
const objectSlots = (op: Op, g: Geom) =>
  slots(op, g).filter((s) => s !== 'bias' && s !== 'out' && familyOf(op) !== 'outputShape');
const dataSlots = (op: Op, g: Geom) => (familyOf(op) === 'outputShape' ? [] : slots(op, g));

// ---- option values ----

const NUMS: Num[] = [
  0,
  1,
  2,
  3,
  -1,
  1.5,
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  2 ** 31,
  2 ** 31 - 1,
  2 ** 32 + 1,
  2 ** 53,
  2 ** 53 + 2,
  1e308,
  5e-324,
  -(2 ** 31),
  2 ** 24 + 1,
];
const numArb = fc.constantFrom<Num>(...NUMS).map((v): HValue => ({ kind: 'num', v }));
const smallInt = fc.integer({ min: 0, max: 3 }).map((v): HValue => ({ kind: 'num', v }));
const STRINGS = [
  '1',
  '2',
  '',
  'same',
  'valid',
  'full',
  'NCHW',
  'NHWC',
  'NCW',
  'NWC',
  'nchw',
  ' NCHW',
  'relu',
  'none',
  'RELU',
  'auto',
  'native',
  'wasm',
  'js',
  'wasm-simd',
  'wasm-scalar',
  'wasm-relaxed',
  'gpu',
  'direct',
  'im2col',
  'winograd',
  'fft',
  'magic',
  'input',
  'weight',
  'bias',
  'true',
  'constructor',
  '__proto__',
];
const strArb = fc.constantFrom(...STRINGS).map((v): HValue => ({ kind: 'str', v }));

const junkArb: fc.Arbitrary<HValue> = fc.oneof(
  fc.constant<HValue>({ kind: 'null' }),
  fc.constant<HValue>({ kind: 'undefined' }),
  fc.constant<HValue>({ kind: 'object' }),
  fc.constant<HValue>({ kind: 'symbol' }),
  fc.constant<HValue>({ kind: 'bigint', v: '1' }),
  fc.constantFrom<HValue>(
    { kind: 'boxed', v: 1 },
    { kind: 'boxed', v: 2 },
    { kind: 'boxed', v: 'NCHW' },
    { kind: 'boxed', v: false }
  ),
  fc.constantFrom<HValue>({ kind: 'bool', v: true }, { kind: 'bool', v: false })
);

/** Arrays: right or wrong lengths, holes, a sparse tail to 2^32 - 1, odd array objects. */
function arrayArb(dims: number, item: fc.Arbitrary<HValue>): fc.Arbitrary<HValue> {
  const lengths = [...new Set([0, 1, dims - 1, dims, dims + 1, 2 * dims, 2 * dims + 1].filter((n) => n >= 0))];
  return fc.constantFrom(...lengths).chain((n) =>
    fc.record(
      {
        kind: fc.constant('array' as const),
        items: fc.array(item, { minLength: n, maxLength: n }),
        holes: fc.oneof(
          { weight: 2, arbitrary: fc.constant<number[]>([]) },
          { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: Math.max(0, n - 1) }), { minLength: 1, maxLength: 2 }) }
        ),
        length: fc.oneof(
          { weight: 6, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom(2 ** 32 - 1, 2 ** 20) }
        ),
        form: fc.constantFrom<'plain' | 'subclass' | 'frozen' | 'proxy' | 'extra-prop'>(
          'plain',
          'plain',
          'subclass',
          'frozen',
          'proxy',
          'extra-prop'
        ),
      },
      { requiredKeys: ['kind', 'items'] }
    )
  ) as fc.Arbitrary<HValue>;
}

const getterArb = (later: fc.Arbitrary<HValue>) =>
  later.map((l): HValue => ({ kind: 'getter', first: { kind: 'keep' }, later: l }));

function valueArb(kind: Kind, dims: number): fc.Arbitrary<HValue> {
  const common = (specific: fc.Arbitrary<HValue>, later: fc.Arbitrary<HValue>) =>
    fc.oneof(
      { weight: 6, arbitrary: specific },
      { weight: 2, arbitrary: junkArb },
      { weight: 2, arbitrary: getterArb(later) },
      { weight: 1, arbitrary: fc.constant<HValue>({ kind: 'throwing-getter' }) }
    );
  switch (kind) {
    case 'pos':
    case 'nonneg':
      return common(fc.oneof(numArb, strArb, arrayArb(1, smallInt)), numArb);
    case 'perdim':
    case 'padding':
      return common(
        fc.oneof(
          { weight: 3, arbitrary: numArb },
          {
            weight: 4,
            arbitrary: arrayArb(dims, fc.oneof({ weight: 3, arbitrary: smallInt }, { weight: 1, arbitrary: numArb })),
          },
          { weight: 1, arbitrary: strArb },
          {
            weight: 1,
            arbitrary: fc
              .array(fc.integer({ min: 1, max: 3 }), { minLength: dims, maxLength: dims })
              .map((items): HValue => ({ kind: 'typed', type: 'Int32Array', items })),
          }
        ),
        fc.oneof(smallInt, arrayArb(dims, smallInt))
      );
    case 'enum':
      return common(fc.oneof(strArb, numArb, arrayArb(1, strArb)), strArb);
    case 'bool':
    case 'strictbool':
      return common(
        fc.oneof(junkArb, strArb, numArb),
        fc.constantFrom<HValue>({ kind: 'bool', v: true }, { kind: 'bool', v: false })
      );
    case 'needs':
      return common(fc.oneof(arrayArb(2, strArb), strArb), arrayArb(1, strArb));
    case 'tensor':
      return common(
        fc.oneof(
          numArb,
          strArb,
          arrayArb(3, smallInt),
          fc.constant<HValue>({ kind: 'typed', type: 'Float64Array', items: [0, 0, 0] })
        ),
        fc.oneof(junkArb, numArb)
      );
  }
}

function optionMutation(op: Op, g: Geom): fc.Arbitrary<Mutation> {
  const keys = OPTION_KEYS[familyOf(op)];
  const dims = isPoolFamily(familyOf(op)) ? 2 : g.dims;
  return fc
    .constantFrom(...keys)
    .chain(([key, kind]) => valueArb(kind, dims).map((value): Mutation => ({ m: 'option', key, value })));
}

// ---- containers, tensor objects, shapes ----

const CONTAINERS: OptionsContainer[] = [
  'array-empty',
  'array-props',
  'class',
  'proxy',
  'frozen',
  'null-proto',
  'extra-key',
  'null',
  'number',
];
const containerArb = fc.constantFrom(...CONTAINERS).map((form): Mutation => ({ m: 'container', form }));

const objectFormArb: fc.Arbitrary<ObjectForm> = fc.oneof(
  fc.constantFrom<ObjectForm>(
    { kind: 'proxy' },
    { kind: 'frozen' },
    { kind: 'class' },
    { kind: 'null' },
    { kind: 'bare-array' },
    { kind: 'extra-key' }
  ),
  fc.constantFrom<ObjectForm>(
    { kind: 'getter', field: 'data', later: 'short' },
    { kind: 'getter', field: 'data', later: 'other-values' },
    { kind: 'getter', field: 'data', later: 'detached' },
    { kind: 'getter', field: 'shape', later: 'short' },
    { kind: 'getter', field: 'shape', later: 'other-shape' }
  ),
  fc.constantFrom<'data' | 'shape'>('data', 'shape').map((field): ObjectForm => ({ kind: 'throwing-getter', field }))
);

const shapeFormArb: fc.Arbitrary<ShapeForm> = fc.oneof(
  fc.constantFrom<ShapeForm>(
    { kind: 'typed', type: 'Int32Array' },
    { kind: 'typed', type: 'Float64Array' },
    { kind: 'typed', type: 'Uint32Array' },
    { kind: 'proxy' },
    { kind: 'frozen' },
    { kind: 'extra-prop' },
    { kind: 'array-like' },
    { kind: 'rank', delta: 1 },
    { kind: 'rank', delta: -1 }
  ),
  fc.integer({ min: 0, max: 3 }).map((at): ShapeForm => ({ kind: 'holey', at })),
  fc.integer({ min: 0, max: 3 }).map((at): ShapeForm => ({ kind: 'string-dim', at })),
  fc
    .tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.constantFrom<Num>(0, '-0', -1, 1.5, 'NaN', 'Infinity', 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 31 - 1)
    )
    .map(([at, v]): ShapeForm => ({ kind: 'value', at, v })),
  // 2^32 - 1 must be refused without visiting its entries; 2^20 is long enough to show a validation that does.
  fc.constantFrom(2 ** 32 - 1, 2 ** 20, 5).map((length): ShapeForm => ({ kind: 'long', length })),
  fc.constantFrom(2 ** 32 - 1, 0, 3, 5).map((length): ShapeForm => ({ kind: 'lying-proxy', length }))
);

function objectsMutation(op: Op, g: Geom): fc.Arbitrary<Mutation> {
  const obj = objectSlots(op, g),
    all = slots(op, g).filter((s) => s !== 'bias' && s !== 'out');
  const arbs: fc.Arbitrary<Mutation>[] = [containerArb];
  if (obj.length)
    arbs.push(fc.tuple(fc.constantFrom(...obj), objectFormArb).map(([slot, form]): Mutation => ({ m: 'object', slot, form })));
  if (all.length)
    arbs.push(fc.tuple(fc.constantFrom(...all), shapeFormArb).map(([slot, form]): Mutation => ({ m: 'shape', slot, form })));
  return fc.oneof(...arbs);
}

// ---- buffers ----

const dataFormArb: fc.Arbitrary<DataForm> = fc.oneof(
  fc.constantFrom<DataForm>(
    { kind: 'offset' },
    { kind: 'shared' },
    { kind: 'growable-shared' },
    { kind: 'resizable', tracking: false },
    { kind: 'resizable', tracking: true },
    { kind: 'subclass' },
    { kind: 'proxy' },
    { kind: 'detached' },
    { kind: 'wrong-type', type: 'Float64Array' },
    { kind: 'wrong-type', type: 'Int32Array' },
    { kind: 'wrong-type', type: 'Uint8Array' },
    { kind: 'wrong-type', type: 'Array' },
    { kind: 'wrong-type', type: 'DataView' }
  ),
  fc
    .tuple(fc.constantFrom(1, -1, 1000, -1000), fc.constantFrom(0, 0, -1, 1))
    .map(([claim, truth]): DataForm => ({ kind: 'lying', claim, truth })),
  fc.constantFrom(-1, 1, 3).map((delta): DataForm => ({ kind: 'length', delta }))
);

function buffersMutation(op: Op, g: Geom): fc.Arbitrary<Mutation> {
  const ds = dataSlots(op, g);
  const mid = ds.filter((s) => s !== 'indices');
  const arbs: fc.Arbitrary<Mutation>[] = [];
  if (ds.length)
    arbs.push(fc.tuple(fc.constantFrom(...ds), dataFormArb).map(([slot, form]): Mutation => ({ m: 'data', slot, form })));
  if (mid.length) {
    arbs.push(
      fc
        .record({
          slot: fc.constantFrom(...mid),
          action: fc.constantFrom<'shrink' | 'grow' | 'detach'>('shrink', 'grow', 'detach'),
          // A sync call can only be interrupted from inside: through an options read.
          when: isAsync(op)
            ? fc.constantFrom<'after-call' | 'option-read'>('after-call', 'after-call', 'option-read')
            : fc.constant('option-read' as const),
          read: fc.integer({ min: 1, max: 12 }),
        })
        .map((r): Mutation => ({ m: 'midcall', ...r }))
    );
  }
  return arbs.length ? fc.oneof(...arbs) : optionMutation(op, g);
}

const upTo = (n: number, m: fc.Arbitrary<Mutation>) => fc.array(m, { minLength: 1, maxLength: n });

// ---- extreme sizes ----

/** Templates of extreme-but-meaningful sizes: each a geometry, valid or past a limit on purpose. */
const TEMPLATES = [
  'empty-batch',
  'empty-batch-wide',
  'pad-2^24',
  'stride-pad-huge',
  'dilation-huge',
  'stride-2^30',
  'output-over-2^31',
  'pool-kernel-2^24',
  'pool-kernel-max',
  'pool-stride-huge',
  'pool-dilation-2^20',
  'layer-weight-over-2^31',
] as const;

function templateGeom(
  f: Family,
  dims: 1 | 2,
  name: (typeof TEMPLATES)[number],
  v: number,
  k: number,
  strided = false
): Geom | null {
  const pool = isPoolFamily(f);
  const base: Geom = {
    dims: pool ? 2 : dims,
    N: 1,
    C: 1,
    K: 1,
    groups: 1,
    spatial: new Array(pool ? 2 : dims).fill(1),
    kernel: new Array(pool ? 2 : dims).fill(1),
    stride: new Array(pool ? 2 : dims).fill(1),
    dilation: new Array(pool ? 2 : dims).fill(1),
    pad: new Array(pool ? 4 : 2 * dims).fill(0),
    outPad: new Array(pool ? 2 : dims).fill(0),
    padForm: 'explicit',
    strideForm: 'array',
    channelsLast: false,
    unbatched: false,
    bias: true,
    relu: false,
    out: 'none',
    ceilMode: false,
    countIncludePad: null,
    returnIndices: false,
    givenIndices: false,
    needs: null,
    template: name,
  };
  const last = (pool ? 2 : dims) - 1;
  const poolOnly = name.startsWith('pool-');
  if (poolOnly !== pool && !name.startsWith('empty')) return null;
  switch (name) {
    case 'empty-batch':
      return { ...base, N: 0, C: 2, K: 3, spatial: base.spatial.map(() => 4), kernel: base.kernel.map(() => Math.min(k, 3)) };
    case 'empty-batch-wide':
      return { ...base, N: 0, C: 64, K: pool ? 64 : 2, spatial: base.spatial.map(() => 256) };
    case 'pad-2^24': {
      // One huge padding: an output of ~2^25 elements (128 MiB) whose only non-bias value sits in the middle;
      // or, strided, the same padding with a few outputs (backward and layers: their float64 oracles
      // would take longer than the call over 2^25 outputs).
      const pad = base.pad.slice();
      pad[2 * last] = v;
      pad[2 * last + 1] = v;
      const kernel = base.kernel.slice();
      kernel[last] = k;
      if (!strided) return { ...base, pad, kernel };
      const stride = base.stride.slice();
      stride[last] = 2 ** 21 + 1;
      return { ...base, pad, kernel, stride };
    }
    case 'stride-pad-huge': {
      const kernel = base.kernel.map(() => 2),
        spatial = base.spatial.map(() => 3);
      if (f === 'transpose')
        return { ...base, kernel, spatial, stride: base.stride.map(() => v), pad: base.pad.map(() => v), padForm: 'explicit' };
      return { ...base, kernel, spatial, stride: base.stride.map(() => v), pad: base.pad.map(() => v) };
    }
    case 'dilation-huge': {
      const kernel = base.kernel.slice(),
        dilation = base.dilation.slice(),
        pad = base.pad.slice(),
        spatial = base.spatial.map(() => 3);
      kernel[last] = k;
      dilation[last] = v;
      // Padding so that the dilated kernel fits (conv), or crops the transposed output back to a few elements.
      const p = f === 'transpose' ? Math.floor((v * (k - 1)) / 2) : Math.max(0, Math.ceil((v * (k - 1) + 1 - 3) / 2));
      pad[2 * last] = p;
      pad[2 * last + 1] = p;
      return { ...base, kernel, dilation, pad, spatial };
    }
    case 'stride-2^30': {
      const stride = base.stride.slice(),
        spatial = base.spatial.slice();
      stride[last] = v;
      spatial[last] = k;
      return { ...base, stride, spatial };
    }
    case 'output-over-2^31': {
      if (f === 'transpose') {
        const stride = base.stride.map(() => (dims === 2 ? 2 ** 16 : 2 ** 30)),
          spatial = base.spatial.map(() => (dims === 2 ? 2 : 3));
        return { ...base, stride, spatial };
      }
      // conv1d: 1 + v + (2^30 - 1) outputs: 2^31 exactly for v = 2^30; conv2d: (2^17 + 1)^2 per channel.
      return { ...base, K: k, pad: dims === 2 ? base.pad.map(() => 2 ** 16) : [v, 2 ** 30 - 1] };
    }
    case 'pool-kernel-2^24': {
      const kernel = [1, 2 ** 24 + 1],
        pad = [0, 0, 2 ** 23, 2 ** 23];
      return { ...base, kernel, pad, stride: [1, 1] };
    }
    case 'pool-kernel-max':
      return { ...base, kernel: [1, MAX], pad: [0, 0, 2 ** 30 - 1, 2 ** 30 - 1], stride: [1, 1] };
    case 'pool-stride-huge':
      return { ...base, spatial: [3, 5], kernel: [2, 2], stride: [v, v] };
    case 'pool-dilation-2^20':
      return { ...base, spatial: [1, 2 ** 20 + 2], kernel: [1, 2], dilation: [1, 2 ** 20], stride: [1, 1] };
    case 'layer-weight-over-2^31': {
      if (f !== 'layer') return null;
      return { ...base, C: 2 ** 16, K: 2 ** 16, spatial: base.spatial.map(() => 2), bias: false };
    }
  }
}
const MAX = 2 ** 31 - 1;

type Template = (typeof TEMPLATES)[number];
const CONV_TEMPLATES: Template[] = [
  'empty-batch',
  'empty-batch-wide',
  'pad-2^24',
  'stride-pad-huge',
  'dilation-huge',
  'stride-2^30',
  'output-over-2^31',
];
const POOL_TEMPLATES: Template[] = [
  'empty-batch',
  'empty-batch-wide',
  'pool-kernel-2^24',
  'pool-kernel-max',
  'pool-stride-huge',
  'pool-dilation-2^20',
];

/** The values each template is about; `i` picks one. */
function templateValue(t: Template, i: number): number {
  const vs: Partial<Record<Template, number[]>> = {
    'pad-2^24': [2 ** 24 - 1, 2 ** 24, 2 ** 24 + 1],
    'stride-pad-huge': [1e8, 2 ** 30, MAX],
    'dilation-huge': [1.1e9, 2 ** 30],
    'stride-2^30': [2 ** 30, MAX],
    // conv1d: an output of exactly 2^31 elements, or one more.
    'output-over-2^31': [2 ** 30, 2 ** 30 + 1],
    'pool-stride-huge': [MAX, 2 ** 30],
  };
  const v = vs[t] ?? [1];
  return v[i % v.length];
}

const templateCase: fc.Arbitrary<HostileCase> = fc
  .tuple(opArb, backendArb, algoArb, fc.constantFrom<1 | 2>(1, 2))
  .chain(([op, backend, algorithm, d]) => {
    const f = familyOf(op);
    const list = isPoolFamily(f)
      ? POOL_TEMPLATES
      : f === 'layer'
        ? [...CONV_TEMPLATES, 'layer-weight-over-2^31' as const]
        : CONV_TEMPLATES;
    const dims = f === 'explain' || f === 'outputShape' ? d : dimsOf(op);
    return fc
      .tuple(fc.constantFrom(...list), fc.nat(5), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 0x7fffffff }))
      .map(([t, i, k, dataSeed]): HostileCase => {
        const kk =
          t === 'stride-2^30' ? 2 + (k % 2) : t === 'dilation-huge' ? (k === 3 ? 3 : 2) : t === 'pad-2^24' ? Math.min(k, 2) : k;
        const strided = f === 'backward' || f === 'layer' || i % 2 === 1;
        const geom = templateGeom(f, dims, t, templateValue(t, i), kk, strided) ?? templateGeom(f, dims, 'empty-batch', 1, kk)!;
        return {
          op,
          backend: takesBackend(f) ? backend : 'js',
          algorithm: takesBackend(f) ? algorithm : 'auto',
          geom,
          mutations: [],
          dataSeed,
        };
      });
  });

// ---- the properties ----

/**
 * Every operation on every backend with every forced algorithm (operations without a backend: twice), each
 * on an ordinary geometry drawn from `seed`: a plain call of each combination, so that nothing is left
 * to sampling luck.
 */
export function plainCases(seed: number): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const op of OPS) {
    const f = familyOf(op);
    const combos: [BackendName, Algo][] = takesBackend(f)
      ? BACKENDS.flatMap((b) => ALGOS.map((a): [BackendName, Algo] => [b, a]))
      : [
          ['js', 'auto'],
          ['js', 'auto'],
        ];
    for (const [backend, algorithm] of combos) {
      const [geom, dataSeed] = fc.sample(fc.tuple(geomArb(op, algorithm), fc.integer({ min: 1, max: 0x7fffffff })), {
        seed: (seed + 7919 * cases.length) >>> 0,
        numRuns: 1,
      })[0];
      cases.push({ op, backend, algorithm, geom, mutations: [], dataSeed });
    }
  }
  return cases;
}

export const PROPERTIES = {
  /** No mutation: every op x backend x algorithm drawn at random (plainCases enumerates them as well). */
  plain: caseArb(() => fc.constant([])),
  /** Option values: holes, non-integers, NaN, ±Infinity, negatives, 2^31, 2^53, strings, wrong lengths, getters. */
  options: caseArb((op, g) => upTo(2, optionMutation(op, g))),
  /** Options containers (arrays, class instances, proxies, ...), tensor objects (proxies, getters, classes) and shapes. */
  objects: caseArb((op, g) =>
    upTo(2, fc.oneof({ weight: 3, arbitrary: objectsMutation(op, g) }, { weight: 1, arbitrary: optionMutation(op, g) }))
  ),
  /** Buffers: shared, growable, resizable, detached, subclassed, proxied, lying; resized or detached during the call. */
  buffers: caseArb((op, g) => upTo(2, buffersMutation(op, g))),
  /** Sizes: empty batches, huge and boundary paddings, strides, dilations and outputs. */
  sizes: fc.oneof(
    { weight: 3, arbitrary: templateCase },
    {
      weight: 1,
      arbitrary: caseArb(
        (op, g) => upTo(1, buffersMutation(op, g)),
        (op, algo) => {
          const f = familyOf(op);
          return fc
            .constantFrom<1 | 2>(1, 2)
            .chain((d) => rawArb(f === 'explain' || f === 'outputShape' ? d : dimsOf(op), algo))
            .map((r) => ({ ...buildGeom(f, r), N: 0, unbatched: false, template: 'empty-batch' }));
        }
      ),
    }
  ),
} satisfies Record<string, fc.Arbitrary<HostileCase>>;
