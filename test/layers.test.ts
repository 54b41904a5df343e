// The Conv2d / Conv1d layer API: parameter counts, PyTorch-style initialization, weight/bias setters,
// forward == the functional call, backward == the functional gradients with accumulation.

import { describe, expect, it } from 'vitest';
import type { Tensor } from '../src/index.node.js';
import { Conv1d, Conv2d, conv1d, conv1dBackward, conv2d, conv2dBackward, explain } from '../src/index.node.js';
import { Rng } from './random.js';

const rand = (shape: number[], seed: number): Tensor => ({ data: new Rng(seed).floats(shape.reduce((a, b) => a * b, 1)), shape });

describe('Conv2d / Conv1d parameters', () => {
  it('counts parameters as PyTorch does', () => {
    expect(new Conv2d({ inChannels: 8, outChannels: 16, kernelSize: 3 }).numParameters()).toBe(1168);
    expect(new Conv2d({ inChannels: 8, outChannels: 16, kernelSize: 3, bias: false }).numParameters()).toBe(1152);
    expect(new Conv2d({ inChannels: 8, outChannels: 16, kernelSize: [3, 5], groups: 4 }).numParameters()).toBe(16 * 2 * 15 + 16);
    expect(new Conv1d({ inChannels: 4, outChannels: 6, kernelSize: 5 }).numParameters()).toBe(6 * 4 * 5 + 6);
    expect(new Conv2d({ inChannels: 8, outChannels: 16, kernelSize: 3, groups: 8 }).weight.shape).toEqual([16, 1, 3, 3]);
  });

  it("also takes torch.nn.Conv2d's positional order: (inChannels, outChannels, kernelSize, options?)", () => {
    expect(new Conv2d(8, 16, 3).numParameters()).toBe(1168);
    const a = new Conv2d(8, 16, [3, 5], { groups: 4, stride: 2, seed: 9 });
    const b = new Conv2d({ inChannels: 8, outChannels: 16, kernelSize: [3, 5], groups: 4, stride: 2, seed: 9 });
    expect(a.weight.shape).toEqual([16, 2, 3, 5]);
    expect(a.weight.data).toEqual(b.weight.data);
    const x = { data: Float32Array.from({ length: 8 * 9 * 11 }, (_, i) => Math.sin(i)), shape: [1, 8, 9, 11] };
    expect(a.forward(x)).toEqual(b.forward(x));
    expect(new Conv1d(4, 6, 5, { bias: false }).numParameters()).toBe(120);
    expect(() => new Conv2d(8, 16, 3, { kernelSize: 5 } as never)).toThrow(/options\.kernelSize repeats a positional argument/);
    expect(() => new Conv2d(8, 16, 3, 1 as never)).toThrow(TypeError);
    expect(() => new Conv2d(8, 0, 3)).toThrow(/outChannels.*>= 1/);
    expect(() => new Conv2d(8, 16, undefined as never)).toThrow(/kernelSize/);
  });

  it('initializes weight and bias uniformly in +-1/sqrt(fan_in) (kaiming_uniform, a = sqrt(5))', () => {
    const layer = new Conv2d({ inChannels: 32, outChannels: 64, kernelSize: 3, seed: 1 });
    const bound = 1 / Math.sqrt(32 * 9);
    const w = layer.weight.data;
    expect(Math.max(...w)).toBeLessThanOrEqual(bound);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-bound);
    // U(-b, b): mean 0 (sd of the mean b/sqrt(3n)), variance b^2/3, and it fills the range.
    const mean = w.reduce((a, v) => a + v, 0) / w.length;
    const variance = w.reduce((a, v) => a + (v - mean) ** 2, 0) / w.length;
    expect(Math.abs(mean)).toBeLessThan((5 * bound) / Math.sqrt(3 * w.length));
    expect(variance / ((bound * bound) / 3)).toBeGreaterThan(0.95);
    expect(variance / ((bound * bound) / 3)).toBeLessThan(1.05);
    expect(Math.max(...w)).toBeGreaterThan(0.99 * bound);
    const b = layer.bias!.data;
    expect(b.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(new Set(b).size).toBe(64);
  });

  it('is reproducible with a seed and differs without one', () => {
    const a = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, seed: 42 });
    const b = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, seed: 42 });
    const c = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3 });
    expect(a.weight.data).toEqual(b.weight.data);
    expect(a.bias!.data).toEqual(b.bias!.data);
    expect(c.weight.data).not.toEqual(a.weight.data);
  });

  it('validates weight/bias assignment and constructor options', () => {
    const layer = new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: [3, 2], groups: 2 });
    expect(() => {
      layer.weight = rand([6, 4, 3, 2], 1);
    }).toThrow(/weight must have shape \[6, 2, 3, 2\]/);
    expect(() => {
      layer.weight = { data: new Float32Array(5), shape: [6, 2, 3, 2] };
    }).toThrow(RangeError);
    expect(() => {
      layer.bias = rand([5], 1);
    }).toThrow(/bias/);
    const w = rand([6, 2, 3, 2], 2);
    layer.weight = w;
    expect(layer.weight.data).toBe(w.data);
    expect(layer.weight.grad.length).toBe(72);
    layer.bias = null;
    expect(layer.numParameters()).toBe(72);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2 })).toThrow(/groups/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 0 })).toThrow(/kernelSize/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 'same' })).toThrow(/same/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, paddingMode: 'reflect' } as never)).toThrow(
      /options.paddingMode is not a known layer option/
    );
  });
});

describe('Conv2d / Conv1d forward and backward', () => {
  const opts = { stride: [2, 1], padding: [1, 0, 2, 1], dilation: [1, 2], groups: 2 } as const;

  it('forward equals the functional conv2d and fills `out`; .algorithm reports the choice', () => {
    const layer = new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: 3, ...opts, seed: 3 });
    expect(layer.algorithm).toBeUndefined();
    const x = rand([2, 4, 9, 8], 4);
    const y = layer.forward(x);
    const want = conv2d(x, layer.weight, { ...opts, bias: layer.bias!.data });
    expect(y.shape).toEqual(want.shape);
    expect(y.data).toEqual(want.data);
    expect(layer.algorithm).toBe(explain(x, layer.weight, { ...opts, bias: layer.bias!.data }).algorithm);
    const out = new Float32Array(y.data.length + 3);
    layer.forward(x, out);
    expect(out.subarray(0, y.data.length)).toEqual(y.data);
  });

  it('backward equals the functional gradients and accumulates into .grad until zeroGrad()', async () => {
    const layer = new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: 3, ...opts, seed: 5 });
    const x = rand([2, 4, 9, 8], 6);
    const y = await layer.forwardAsync(x);
    const gy = rand(y.shape, 7);
    const g = layer.backward(gy);
    const want = conv2dBackward(x, layer.weight, gy, { ...opts, bias: layer.bias!.data });
    expect(g.gradInput!.data).toEqual(want.gradInput!.data);
    expect(layer.weight.grad).toEqual(want.gradWeight!.data);
    expect(layer.bias!.grad).toEqual(want.gradBias);
    await layer.backwardAsync(gy);
    expect(Array.from(layer.weight.grad)).toEqual(Array.from(want.gradWeight!.data, (v) => Math.fround(v + v)));
    layer.zeroGrad();
    expect(layer.weight.grad.every((v) => v === 0)).toBe(true);
    const only = layer.backward(gy, ['weight']);
    expect(only.gradInput).toBeUndefined();
    expect(layer.bias!.grad.every((v) => v === 0)).toBe(true);
  });

  it('with a fused ReLU, backward masks gradOutput where the output was not positive', () => {
    const layer = new Conv1d({ inChannels: 3, outChannels: 5, kernelSize: 3, padding: 'same', activation: 'relu', seed: 8 });
    const x = rand([2, 3, 11], 9);
    const y = layer.forward(x);
    expect(y.data).toEqual(conv1d(x, layer.weight, { padding: 'same', bias: layer.bias!.data, activation: 'relu' }).data);
    const gy = rand(y.shape, 10);
    const masked = { data: gy.data.map((v, i) => (y.data[i] > 0 ? v : 0)), shape: gy.shape };
    const g = layer.backward(gy);
    const want = conv1dBackward(x, layer.weight, masked, { padding: 'same', bias: layer.bias!.data });
    expect(g.gradInput!.data).toEqual(want.gradInput!.data);
    expect(g.gradWeight!.data).toEqual(want.gradWeight!.data);
    expect(g.gradBias).toEqual(want.gradBias);
  });

  it('NHWC layers take and return channels-last tensors', () => {
    const layer = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, layout: 'NHWC', seed: 11 });
    const x = rand([1, 7, 6, 3], 12);
    const y = layer.forward(x);
    expect(y.shape).toEqual([1, 5, 4, 4]);
    expect(layer.backward(rand(y.shape, 13)).gradInput!.shape).toEqual([1, 7, 6, 3]);
  });

  it('backward before forward and use after dispose are errors', () => {
    const layer = new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 1 });
    expect(() => layer.backward(rand([1, 1, 2, 2], 1))).toThrow(/forward/);
    layer.forward(rand([1, 1, 2, 2], 1));
    layer.dispose();
    expect(() => layer.forward(rand([1, 1, 2, 2], 1))).toThrow(/disposed/);
  });
});

describe('train() / eval()', () => {
  it('eval forward equals train forward, keeps nothing for backward, and train() restores backward', () => {
    for (const activation of ['none', 'relu'] as const) {
      const layer = new Conv2d(3, 5, 3, { padding: 1, activation, seed: 4 });
      const x = rand([2, 3, 7, 6], 11),
        gy = rand([2, 5, 7, 6], 12);
      expect(layer.isTraining).toBe(true);
      const trained = layer.forward(x);
      const want = layer.backward(gy);
      expect(layer.eval()).toBe(layer);
      expect(layer.isTraining).toBe(false);
      expect(layer.forward(x).data).toEqual(trained.data);
      expect(() => layer.backward(gy)).toThrow(/training mode/);
      layer.train();
      layer.forward(x);
      expect(layer.backward(gy).gradInput!.data).toEqual(want.gradInput!.data);
    }
  });
});

describe('fused relu6 in a layer', () => {
  it('forward clamps to [0, 6]; backward passes the gradient only where 0 < y < 6 (as hardtanh)', () => {
    const layer = new Conv2d(3, 4, 3, { padding: 1, activation: 'relu6', seed: 8 });
    const x = rand([2, 3, 6, 5], 21);
    for (let i = 0; i < x.data.length; i++) x.data[i] *= 40; // outputs on both sides of both bounds
    const plain = conv2d(x, layer.weight, { padding: 1, bias: layer.bias!.data });
    const y = layer.forward(x);
    let low = 0,
      high = 0,
      mid = 0;
    for (let i = 0; i < y.data.length; i++) {
      const want = Math.min(Math.max(plain.data[i], 0), 6);
      expect(y.data[i]).toBeCloseTo(want, 5);
      if (plain.data[i] <= 0) low++;
      else if (plain.data[i] >= 6) high++;
      else mid++;
    }
    expect(low > 0 && high > 0 && mid > 0).toBe(true);
    const gy = rand([2, 4, 6, 5], 22);
    const masked = { data: gy.data.map((g, i) => (y.data[i] > 0 && y.data[i] < 6 ? g : 0)), shape: gy.shape };
    const want = conv2dBackward(x, layer.weight, masked, {
      padding: 1,
      bias: layer.bias!.data,
      needs: ['input', 'weight', 'bias'],
    });
    const got = layer.backward(gy);
    for (const [a, b] of [
      [got.gradInput!.data, want.gradInput!.data],
      [got.gradWeight!.data, want.gradWeight!.data],
      [got.gradBias!, want.gradBias!],
    ]) {
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 3);
    }
  });
});
