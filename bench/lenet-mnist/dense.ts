// A fully connected layer in plain TypeScript (the example's dense part; fastconv does the convolutions).

import type { Parameter } from '../../src/index.node.js';

export class Dense {
  readonly weight: Parameter; // [out, in]
  readonly bias: Parameter; // [out]
  private x: Float32Array | null = null;
  private batch = 0;

  /** PyTorch's nn.Linear initialization: weight and bias U(-1/sqrt(in), 1/sqrt(in)). */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    random: () => number
  ) {
    const bound = 1 / Math.sqrt(inFeatures);
    const init = (n: number) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * bound);
    this.weight = {
      data: init(outFeatures * inFeatures),
      shape: [outFeatures, inFeatures],
      grad: new Float32Array(outFeatures * inFeatures),
    };
    this.bias = { data: init(outFeatures), shape: [outFeatures], grad: new Float32Array(outFeatures) };
  }

  /** y[b, o] = sum_i x[b, i] W[o, i] + bias[o]; four outputs per pass so each x[b, i] is loaded once per four. */
  forward(x: Float32Array, batch: number): Float32Array {
    const I = this.inFeatures,
      O = this.outFeatures,
      W = this.weight.data,
      B = this.bias.data;
    const y = new Float32Array(batch * O);
    for (let b = 0; b < batch; b++) {
      const xo = b * I;
      let o = 0;
      for (; o + 4 <= O; o += 4) {
        const w0 = o * I,
          w1 = w0 + I,
          w2 = w1 + I,
          w3 = w2 + I;
        let a0 = B[o],
          a1 = B[o + 1],
          a2 = B[o + 2],
          a3 = B[o + 3];
        for (let i = 0; i < I; i++) {
          const v = x[xo + i];
          a0 += v * W[w0 + i];
          a1 += v * W[w1 + i];
          a2 += v * W[w2 + i];
          a3 += v * W[w3 + i];
        }
        y[b * O + o] = a0;
        y[b * O + o + 1] = a1;
        y[b * O + o + 2] = a2;
        y[b * O + o + 3] = a3;
      }
      for (; o < O; o++) {
        let acc = B[o];
        for (let i = 0, wo = o * I; i < I; i++) acc += x[xo + i] * W[wo + i];
        y[b * O + o] = acc;
      }
    }
    this.x = x;
    this.batch = batch;
    return y;
  }

  /** Accumulates dW, db from the last forward and returns dx (both as sums of four rows per pass). */
  backward(gy: Float32Array): Float32Array {
    const x = this.x;
    if (!x) throw new Error('Dense.backward: call forward first');
    const I = this.inFeatures,
      O = this.outFeatures,
      W = this.weight.data,
      N = this.batch;
    const gW = this.weight.grad,
      gB = this.bias.grad;
    const gx = new Float32Array(N * I);
    // dx[b, :] = sum_o gy[b, o] W[o, :]
    for (let b = 0; b < N; b++) {
      const xo = b * I,
        g = b * O;
      let o = 0;
      for (; o + 4 <= O; o += 4) {
        const g0 = gy[g + o],
          g1 = gy[g + o + 1],
          g2 = gy[g + o + 2],
          g3 = gy[g + o + 3];
        const w0 = o * I,
          w1 = w0 + I,
          w2 = w1 + I,
          w3 = w2 + I;
        for (let i = 0; i < I; i++) gx[xo + i] += g0 * W[w0 + i] + g1 * W[w1 + i] + g2 * W[w2 + i] + g3 * W[w3 + i];
      }
      for (; o < O; o++) {
        const g0 = gy[g + o];
        for (let i = 0, w0 = o * I; i < I; i++) gx[xo + i] += g0 * W[w0 + i];
      }
    }
    // dW[o, :] += sum_b gy[b, o] x[b, :]; db[o] += sum_b gy[b, o]
    for (let o = 0; o < O; o++) {
      const wo = o * I;
      let b = 0;
      for (; b + 4 <= N; b += 4) {
        const g0 = gy[b * O + o],
          g1 = gy[(b + 1) * O + o],
          g2 = gy[(b + 2) * O + o],
          g3 = gy[(b + 3) * O + o];
        gB[o] += g0 + g1 + g2 + g3;
        const x0 = b * I,
          x1 = x0 + I,
          x2 = x1 + I,
          x3 = x2 + I;
        for (let i = 0; i < I; i++) gW[wo + i] += g0 * x[x0 + i] + g1 * x[x1 + i] + g2 * x[x2 + i] + g3 * x[x3 + i];
      }
      for (; b < N; b++) {
        const g0 = gy[b * O + o];
        gB[o] += g0;
        for (let i = 0, x0 = b * I; i < I; i++) gW[wo + i] += g0 * x[x0 + i];
      }
    }
    return gx;
  }
}

/** In-place ReLU returning the mask that backward needs. */
export function relu(v: Float32Array): Uint8Array {
  const mask = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    if (v[i] > 0) mask[i] = 1;
    else v[i] = 0;
  }
  return mask;
}

export function reluBackward(g: Float32Array, mask: Uint8Array): Float32Array {
  for (let i = 0; i < g.length; i++) if (!mask[i]) g[i] = 0;
  return g;
}
