// One TF.js filter tensor under one set of conv attributes, as fastconv's Conv2d layer holds its weight:
// a WeightStore per fastconv engine keeps the transformed weights (GEMM panels, Winograd- or FFT-domain
// filters) between calls, so only the first call with this filter pays the transform. Unlike a Conv2d it
// saves no activations for a backward pass (TF.js's gradients come back through the backprop kernels), so
// holding one per filter keeps no input alive.

import type { Backend, WeightStore } from '../backends/types.js';
import type { CallContext } from '../conv.js';
import { convolve } from '../conv.js';
import type { ConvOptions, Tensor } from '../shape.js';

export class PackedConv {
  /** What the convolution hands fastconv for this filter (its folded or rearranged weights and bias), made once. */
  data: { weight: Float32Array; bias: Float32Array | null } | null = null;
  private readonly stores = new Map<Backend, WeightStore>();
  private disposed = false;
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

  /** conv2d(input, weight, options) with this filter's stores; `weight` must be the same values every call. */
  forward(input: Tensor, weight: Tensor, options: ConvOptions): Tensor {
    return convolve(2, input, weight, options, this.context).y;
  }

  /** Bytes of transformed weights held across engines. */
  get bytes(): number {
    let total = 0;
    for (const s of this.stores.values()) total += s.bytes;
    return total;
  }

  dispose(): void {
    this.disposed = true;
    for (const s of this.stores.values()) s.clear();
    this.stores.clear();
  }
}
