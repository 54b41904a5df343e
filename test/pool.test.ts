// Pooling forward and backward: PyTorch's vectors (test/golden-extra: ceil mode, padding, dilation,
// count_include_pad, NaN inputs) and random geometries against the float64 reference.

import { describe, expect, it } from 'vitest';
import type { IndexTensor, Tensor } from '../src/index.node.js';
import {
  avgPool2d,
  avgPool2dAsync,
  avgPool2dBackward,
  avgPool2dBackwardAsync,
  maxPool2d,
  maxPool2dAsync,
  maxPool2dBackward,
  maxPool2dBackwardAsync,
} from '../src/index.node.js';
import type { PoolParams } from '../src/reference/backward.js';
import {
  avgPoolBackwardReference,
  avgPoolReference,
  maxPoolBackwardReference,
  maxPoolReference,
} from '../src/reference/backward.js';
import { loadExtra } from './golden-extra/load.js';
import { Rng } from './random.js';

/** Float32 results of float64 sums: exact for max, within a few ulps for averages. */
function expectClose(label: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-6) {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i],
      w = want[i];
    if (Number.isNaN(w)) {
      if (!Number.isNaN(g)) expect.fail(`${label}[${i}]: got ${g}, want NaN`);
      continue;
    }
    if (!(g === w || Math.abs(g - w) <= tol * Math.max(1, Math.abs(w)))) expect.fail(`${label}[${i}]: got ${g}, want ${w}`);
  }
}

describe('pooling matches PyTorch', () => {
  const cases = loadExtra('');
  const max = cases.filter((c) => c.op === 'max_pool2d'),
    avg = cases.filter((c) => c.op === 'avg_pool2d');

  it('maxPool2d: values, indices and gradients (ceil mode, padding, dilation, NaN, CHW)', () => {
    expect(max.length).toBeGreaterThanOrEqual(9);
    for (const c of max) {
      const input = { data: c.input, shape: c.input_shape };
      const opts = {
        kernelSize: c.kernel_size,
        stride: c.stride,
        padding: c.padding,
        dilation: c.dilation,
        ceilMode: c.ceil_mode,
      };
      const { output, indices } = maxPool2d(input, { ...opts, returnIndices: true });
      expect(output.shape, c.name).toEqual(c.output_shape);
      expectClose(`${c.name} output`, output.data, c.output, 0);
      expect(Array.from(indices.data), `${c.name} indices`).toEqual(Array.from(c.indices));
      const gy = { data: c.grad_output, shape: c.output_shape };
      expectClose(
        `${c.name} grad (indices)`,
        maxPool2dBackward(gy, { shape: c.input_shape }, { ...opts, indices }).data,
        c.grad_input
      );
      expectClose(`${c.name} grad (input)`, maxPool2dBackward(gy, input, opts).data, c.grad_input);
    }
  });

  it('avgPool2d: values and gradients (ceil mode, padding, countIncludePad)', () => {
    expect(avg.length).toBeGreaterThanOrEqual(7);
    for (const c of avg) {
      const input = { data: c.input, shape: c.input_shape };
      const opts = {
        kernelSize: c.kernel_size,
        stride: c.stride,
        padding: c.padding,
        ceilMode: c.ceil_mode,
        countIncludePad: c.count_include_pad,
      };
      const y = avgPool2d(input, opts);
      expect(y.shape, c.name).toEqual(c.output_shape);
      expectClose(`${c.name} output`, y.data, c.output);
      expectClose(
        `${c.name} grad`,
        avgPool2dBackward({ data: c.grad_output, shape: c.output_shape }, { shape: c.input_shape }, opts).data,
        c.grad_input
      );
    }
  });
});

describe('pooling matches the float64 reference on random geometries', () => {
  it('max and avg, forward and backward, 300 random calls', () => {
    const rng = new Rng(4242);
    let ran = 0;
    while (ran < 300) {
      const k = [rng.int(1, 4), rng.int(1, 4)];
      const stride = [rng.int(1, 3), rng.int(1, 3)];
      const padding = k.map((kk) => rng.int(0, Math.floor(kk / 2)));
      const dilation = [rng.pick([1, 1, 2, 3]), rng.pick([1, 1, 2])];
      const ceilMode = rng.chance(0.5);
      const shape = [rng.int(1, 2), rng.int(1, 3), rng.int(1, 12), rng.int(1, 12)];
      const input = { data: rng.floats(shape.reduce((a, b) => a * b, 1)), shape };
      if (rng.chance(0.2)) input.data[rng.int(0, input.data.length - 1)] = NaN;
      const mo = { kernelSize: k, stride, padding, dilation, ceilMode };
      let out: { output: Tensor; indices: IndexTensor };
      try {
        out = maxPool2d(input, { ...mo, returnIndices: true });
      } catch (e) {
        expect((e as Error).message).toMatch(/too small/);
        continue;
      }
      ran++;
      const [OH, OW] = out.output.shape.slice(2);
      const p: PoolParams = {
        NC: shape[0] * shape[1],
        H: shape[2],
        W: shape[3],
        kH: k[0],
        kW: k[1],
        strideH: stride[0],
        strideW: stride[1],
        padH: padding[0],
        padW: padding[1],
        dilationH: dilation[0],
        dilationW: dilation[1],
        OH,
        OW,
      };
      // Windows with no in-range tap only arise from dilation skipping the whole input; PyTorch's index there is arbitrary.
      const ref = maxPoolReference(p, input.data);
      if (ref.indices.some((i) => i < 0)) continue;
      const label = `max ${JSON.stringify(mo)} ${shape}`;
      expectClose(label, out.output.data, ref.output, 0);
      expect(Array.from(out.indices.data), label).toEqual(Array.from(ref.indices));
      const gy = { data: rng.floats(out.output.data.length), shape: out.output.shape };
      expectClose(`${label} grad`, maxPool2dBackward(gy, input, mo).data, maxPoolBackwardReference(p, gy.data, ref.indices));

      const ao = { kernelSize: k, stride, padding, ceilMode, countIncludePad: rng.chance(0.5) };
      const y = avgPool2d(input, ao);
      const pa = { ...p, dilationH: 1, dilationW: 1, OH: y.shape[2], OW: y.shape[3] };
      expectClose(`avg ${JSON.stringify(ao)} ${shape}`, y.data, avgPoolReference(pa, input.data, ao.countIncludePad));
      const ga = { data: rng.floats(y.data.length), shape: y.shape };
      expectClose(
        `avg grad ${JSON.stringify(ao)}`,
        avgPool2dBackward(ga, input, ao).data,
        avgPoolBackwardReference(pa, ga.data, ao.countIncludePad)
      );
    }
  });
});

describe('pooling arguments', () => {
  const x = { data: new Float32Array(2 * 3 * 8 * 8), shape: [2, 3, 8, 8] };
  it('stride defaults to the kernel size; 3-D inputs keep their rank', () => {
    expect(maxPool2d(x, { kernelSize: 2 }).shape).toEqual([2, 3, 4, 4]);
    expect(avgPool2d({ data: new Float32Array(3 * 64), shape: [3, 8, 8] }, { kernelSize: [2, 4] }).shape).toEqual([3, 4, 2]);
  });
  it('rejects padding over half the kernel, a too-small input, unknown options, a wrong gradOutput', () => {
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(/half the kernel/);
    expect(() => avgPool2d(x, { kernelSize: 9 })).toThrow(/too small/);
    expect(() => avgPool2d(x, { kernelSize: 2, dilation: 2 } as object as { kernelSize: number })).toThrow(/dilation/);
    expect(() => maxPool2dBackward({ data: new Float32Array(4), shape: [1, 1, 2, 2] }, x, { kernelSize: 2 })).toThrow(
      /gradOutput/
    );
    expect(() =>
      maxPool2dBackward({ data: new Float32Array(96), shape: [2, 3, 4, 4] }, { shape: [2, 3, 8, 8] }, { kernelSize: 2 })
    ).toThrow(/input/);
  });
});

describe('pooling in NHWC and the async forms', () => {
  const toLast = (d: Float32Array, N: number, C: number, HW: number) => {
    const o = new Float32Array(d.length);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) for (let i = 0; i < HW; i++) o[(n * HW + i) * C + c] = d[(n * C + c) * HW + i];
    return o;
  };

  it('NHWC results are the NCHW results transposed (values, indices, both gradients), 60 random calls', () => {
    const rng = new Rng(4242);
    for (let t = 0; t < 60; t++) {
      const N = rng.int(1, 3),
        C = rng.int(1, 5),
        H = rng.int(3, 11),
        W = rng.int(3, 11);
      const k = rng.int(1, 3),
        s = rng.int(1, 3),
        p = rng.int(0, Math.floor(k / 2)),
        ceilMode = rng.chance(0.5);
      const x = rng.floats(N * C * H * W);
      const xl = { data: toLast(x, N, C, H * W), shape: [N, H, W, C] };
      const opts = { kernelSize: k, stride: s, padding: p, ceilMode };
      const first = maxPool2d({ data: x, shape: [N, C, H, W] }, { ...opts, returnIndices: true });
      const last = maxPool2d(xl, { ...opts, returnIndices: true, layout: 'NHWC' });
      const [, , OH, OW] = first.output.shape;
      expect(last.output.shape).toEqual([N, OH, OW, C]);
      expect(last.output.data).toEqual(toLast(first.output.data, N, C, OH * OW));
      expect(Array.from(last.indices.data)).toEqual(Array.from(toLast(Float32Array.from(first.indices.data), N, C, OH * OW)));
      const gy = rng.floats(N * C * OH * OW),
        gyl = { data: toLast(gy, N, C, OH * OW), shape: [N, OH, OW, C] };
      const gxFirst = maxPool2dBackward(
        { data: gy, shape: first.output.shape },
        { shape: [N, C, H, W] },
        { ...opts, indices: first.indices }
      );
      const gxLast = maxPool2dBackward(gyl, { shape: [N, H, W, C] }, { ...opts, indices: last.indices, layout: 'NHWC' });
      expect(gxLast.shape).toEqual([N, H, W, C]);
      expect(gxLast.data).toEqual(toLast(gxFirst.data, N, C, H * W));
      expect(maxPool2dBackward(gyl, xl, { ...opts, layout: 'NHWC' }).data).toEqual(gxLast.data);
      const avgOpts = { kernelSize: k, stride: s, padding: p, ceilMode, countIncludePad: rng.chance(0.5) };
      const a = avgPool2d({ data: x, shape: [N, C, H, W] }, avgOpts);
      expect(avgPool2d(xl, { ...avgOpts, layout: 'NHWC' }).data).toEqual(toLast(a.data, N, C, a.shape[2] * a.shape[3]));
      const ga = avgPool2dBackward({ data: gy, shape: a.shape }, { shape: [N, C, H, W] }, avgOpts);
      expect(avgPool2dBackward(gyl, { shape: [N, H, W, C] }, { ...avgOpts, layout: 'NHWC' }).data).toEqual(
        toLast(ga.data, N, C, H * W)
      );
    }
  });

  it('async forms equal the sync ones and reject bad arguments', async () => {
    const x = { data: new Rng(5).floats(2 * 3 * 8 * 8), shape: [2, 3, 8, 8] };
    const opts = { kernelSize: 2 };
    expect((await maxPool2dAsync(x, opts)).data).toEqual(maxPool2d(x, opts).data);
    const r = await maxPool2dAsync(x, { ...opts, returnIndices: true });
    expect(r.indices.data).toEqual(maxPool2d(x, { ...opts, returnIndices: true }).indices.data);
    expect((await avgPool2dAsync(x, opts)).data).toEqual(avgPool2d(x, opts).data);
    const gy = { data: new Rng(6).floats(2 * 3 * 4 * 4), shape: [2, 3, 4, 4] };
    expect((await maxPool2dBackwardAsync(gy, x, opts)).data).toEqual(maxPool2dBackward(gy, x, opts).data);
    expect((await avgPool2dBackwardAsync(gy, x, opts)).data).toEqual(avgPool2dBackward(gy, x, opts).data);
    await expect(maxPool2dAsync(x, { kernelSize: 0 })).rejects.toThrow(/kernelSize/);
    await expect(avgPool2dAsync(x, { kernelSize: 2, layout: 'NCWH' as 'NHWC' })).rejects.toThrow(/layout/);
    expect(() => avgPool2d({ data: new Float32Array(8), shape: [2, 2, 2] }, { kernelSize: 1, layout: 'NHWC' })).toThrow(
      /\[N, H, W, C\]/
    );
  });
});
