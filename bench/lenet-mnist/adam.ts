// Adam (Kingma & Ba) with PyTorch's defaults, over any list of parameters with accumulated gradients.

import type { Parameter } from '../../src/index.node.js';

export class Adam {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;

  /** Learning rate; the training loop may change it between steps (a schedule). */
  constructor(
    private readonly params: Parameter[],
    public lr = 1e-3,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8
  ) {
    this.m = params.map((p) => new Float32Array(p.data.length));
    this.v = params.map((p) => new Float32Array(p.data.length));
  }

  /** One update from the accumulated gradients, which are then cleared. */
  step(): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t,
      c2 = 1 - this.beta2 ** this.t;
    this.params.forEach((p, k) => {
      const m = this.m[k],
        v = this.v[k],
        g = p.grad,
        w = p.data;
      for (let i = 0; i < w.length; i++) {
        m[i] = this.beta1 * m[i] + (1 - this.beta1) * g[i];
        v[i] = this.beta2 * v[i] + (1 - this.beta2) * g[i] * g[i];
        w[i] -= (this.lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + this.eps);
        g[i] = 0;
      }
    });
  }
}
