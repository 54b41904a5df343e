// The fast-check arbitrary of one fuzz case: a conv1d/conv2d configuration in every form the public API
// accepts, plus how its data looks and where it lives. The numbers themselves come from a seeded Rng
// (fast-check shrinks the configuration; shrinking thousands of floats would only be slow).

import fc from 'fast-check';
import type { ConvOptions, Tensor } from '../../src/shape.js';
import { resolvePadding } from '../../src/shape.js';
import { Rng } from '../random.js';
import type { Storage, ValueKind } from './data.js';
import { fill, place, STORAGES, VALUE_KINDS } from './data.js';

export type OutKind = 'none' | 'exact' | 'larger' | 'offset';
type PadForm = 'none' | 'valid' | 'same' | 'int' | 'perdim' | 'explicit';

export interface FuzzCase {
  dims: 1 | 2;
  N: number;
  groups: number;
  Cg: number;
  Kg: number;
  kernel: number[];
  stride: number[];
  dilation: number[];
  padForm: PadForm;
  pads: number[];
  /** Spatial size beyond the smallest that fits the dilated kernel. */
  extra: number[];
  channelsLast: boolean;
  relu: boolean;
  bias: boolean;
  out: OutKind;
  storage: Storage;
  async: boolean;
  xKind: ValueKind;
  wKind: ValueKind;
  bKind: ValueKind;
  dataSeed: number;
}

const dimsArb = (n: number, lo: number, hi: number) => fc.array(fc.integer({ min: lo, max: hi }), { minLength: n, maxLength: n });
// Ordinary data most of the time, so shapes get tested on numbers as well as on edge values.
const kindArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<ValueKind>('normal') },
  { weight: 6, arbitrary: fc.constantFrom(...VALUE_KINDS) }
);

export const fuzzCaseArb: fc.Arbitrary<FuzzCase> = fc.constantFrom<1 | 2>(1, 2).chain((dims) =>
  fc.record({
    dims: fc.constant(dims),
    N: fc.integer({ min: 1, max: 3 }),
    // groups = 1 most often; depthwise (Cg = 1, groups > 1) comes out of small Cg with groups > 1.
    groups: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 6 }) }),
    Cg: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 7 })),
    Kg: fc.integer({ min: 1, max: 6 }),
    kernel: dimsArb(dims, 1, dims === 1 ? 9 : 5),
    stride: fc.oneof(
      { weight: 3, arbitrary: fc.constant(new Array(dims).fill(1)) },
      { weight: 2, arbitrary: dimsArb(dims, 1, 3) }
    ),
    dilation: fc.oneof(
      { weight: 3, arbitrary: fc.constant(new Array(dims).fill(1)) },
      { weight: 1, arbitrary: dimsArb(dims, 1, 3) }
    ),
    padForm: fc.constantFrom<PadForm>('none', 'valid', 'same', 'int', 'perdim', 'explicit'),
    pads: dimsArb(2 * dims, 0, 4),
    extra: dimsArb(dims, 0, dims === 1 ? 20 : 9),
    channelsLast: fc.boolean(),
    relu: fc.boolean(),
    bias: fc.boolean(),
    out: fc.constantFrom<OutKind>('none', 'exact', 'larger', 'offset'),
    storage: fc.constantFrom(...STORAGES),
    async: fc.boolean(),
    xKind: kindArb,
    wKind: kindArb,
    bKind: kindArb,
    dataSeed: fc.integer({ min: 1, max: 0x7fffffff }),
  })
);

export interface FuzzCall {
  input: Tensor;
  weight: Tensor;
  options: ConvOptions;
  /** The whole backing array of `out` (when given), to check nothing past the result was written. */
  outBacking?: Float32Array;
}

function padding(c: FuzzCase): ConvOptions['padding'] {
  switch (c.padForm) {
    case 'none':
      return undefined;
    case 'valid':
      return 'valid';
    // PyTorch allows 'same' at stride 1 only; elsewhere it would be a (tested) error, not a fuzz case.
    case 'same':
      return c.stride.every((s) => s === 1) ? 'same' : c.pads[0];
    case 'int':
      return c.pads[0];
    case 'perdim':
      return c.pads.slice(0, c.dims);
    case 'explicit':
      return c.pads.slice();
  }
}

/** Builds the call a case describes, data included (deterministic in the case). */
export function buildCall(c: FuzzCase): FuzzCall {
  const rng = new Rng(c.dataSeed);
  const C = c.Cg * c.groups,
    K = c.Kg * c.groups;
  const pad = padding(c);
  const pads = resolvePadding(pad, c.dims, c.kernel, c.dilation, c.stride);
  const spatial = c.kernel.map((k, i) => Math.max(1, c.dilation[i] * (k - 1) + 1 - pads[i][0] - pads[i][1]) + c.extra[i]);
  const xShape = c.channelsLast ? [c.N, ...spatial, C] : [c.N, C, ...spatial];
  const wShape = [K, c.Cg, ...c.kernel];
  const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const input = { data: place(fill(rng, c.xKind, count(xShape)), c.storage, rng), shape: xShape };
  const weight = { data: place(fill(rng, c.wKind, count(wShape)), c.storage, rng), shape: wShape };
  const options: ConvOptions = {
    // Scalars where the per-dim values agree, so both option forms are exercised.
    stride: c.stride.every((s) => s === c.stride[0]) && rng.chance(0.5) ? c.stride[0] : c.stride,
    dilation: c.dilation.every((s) => s === c.dilation[0]) && rng.chance(0.5) ? c.dilation[0] : c.dilation,
    padding: pad,
    groups: c.groups,
    layout: c.dims === 2 ? (c.channelsLast ? 'NHWC' : 'NCHW') : c.channelsLast ? 'NWC' : 'NCW',
    activation: c.relu ? 'relu' : 'none',
  };
  // When x·w overflows float32 (+Inf) but not float64, a -Inf bias gives NaN in float32 and -Inf in the
  // reference: a property of float32, not of any kernel. Such cases get a finite bias.
  const overflowing = c.xKind === 'overflow' && c.wKind === 'overflow';
  const bKind = overflowing && c.bKind === 'special' ? 'normal' : c.bKind;
  if (c.bias) options.bias = place(fill(rng, bKind, K), c.storage, rng);
  return { input, weight, options };
}

/** A fresh `out` option for one run of the call (sentinel-filled so unwritten outputs show). */
export function makeOut(kind: OutKind, count: number): { out?: Float32Array; backing?: Float32Array } {
  if (kind === 'none') return {};
  const before = kind === 'offset' ? 3 : 0;
  const after = kind === 'exact' ? 0 : 5;
  const backing = new Float32Array(before + count + after).fill(-7.5e33);
  return { out: backing.subarray(before, before + count + after), backing };
}

export function describeCase(c: FuzzCase): string {
  const { dataSeed, ...rest } = c;
  return `${JSON.stringify(rest)} dataSeed=${dataSeed}`;
}
