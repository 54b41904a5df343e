// BatchMatMul and _FusedMatMul (tf.layers' dense layers) on fastconv: a matrix product is a 1x1
// convolution. out[m][n] = sum_k A[m][k] B[k][n] is fastconv's out[k'][p] = sum_c w[k'][c] in[c][p] with
// A as the weight [M, K, 1, 1] (its rows as output channels) and B as the input [1, K, 1, N] (N "pixels"):
// the NCHW output [1, M, 1, N] is out, row-major, with no copy. Transposed operands are copied into that
// orientation first (O(size) next to the product's O(M N K)). The bias (per column) and a relu/relu6 go in
// one pass after. tfjs-backend-cpu keeps the calls this does not take: other dtypes, empty dims, batch
// dims that broadcast other than by one side being a single matrix, other biases and activations.

import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { convolve } from '../conv.js';
import type { FastconvBackend } from './backend.js';
import { runCpuKernel } from './backend.js';
import { activateBits, bitsOf } from './bits.js';

type Args = { inputs: NamedTensorInfoMap; backend: FastconvBackend; attrs?: NamedAttrMap };

/** Calls these kernels ran on fastconv (the tests check the fast path is the one they exercise). */
export const matmulCounts: Record<string, number> = {};

function floats(backend: FastconvBackend, t: TensorInfo | undefined): Float32Array | null {
  if (t?.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId)?.values;
  return v instanceof Float32Array ? v : null;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** [R, C] row-major -> [C, R]. */
function transpose(src: Float32Array, R: number, C: number): Float32Array {
  const dst = new Float32Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) dst[c * R + r] = src[r * C + c];
  return dst;
}

interface Product {
  out: Float32Array;
  shape: number[];
  M: number;
  N: number;
}

/** The product of a and b as TF.js's matMul defines it, or null where the cpu kernel should run. */
function product(
  backend: FastconvBackend,
  a: TensorInfo | undefined,
  b: TensorInfo | undefined,
  tA: boolean,
  tB: boolean
): Product | null {
  const av = floats(backend, a),
    bv = floats(backend, b);
  if (!a || !b || !av || !bv || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length,
    rb = b.shape.length;
  const K = tA ? a.shape[ra - 2] : a.shape[ra - 1],
    M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Kb = tB ? b.shape[rb - 1] : b.shape[rb - 2],
    N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb || K < 1 || M < 1 || N < 1) return null;
  const outerA = a.shape.slice(0, -2),
    outerB = b.shape.slice(0, -2);
  const batchA = size(outerA),
    batchB = size(outerB);
  let outer: number[];
  if (sameShape(outerA, outerB)) outer = outerA;
  else if (batchB === 1 && outerB.length <= outerA.length) outer = outerA;
  else if (batchA === 1 && outerA.length <= outerB.length) outer = outerB;
  else return null;
  const batch = Math.max(batchA, batchB);
  if (batch < 1) return null;
  const out = backend.alloc(batch * M * N);
  for (let i = 0; i < batch; i++) {
    let A = av.subarray((batchA === 1 ? 0 : i) * M * K, ((batchA === 1 ? 0 : i) + 1) * M * K);
    let B = bv.subarray((batchB === 1 ? 0 : i) * K * N, ((batchB === 1 ? 0 : i) + 1) * K * N);
    if (tA) A = transpose(A, K, M);
    if (tB) B = transpose(B, N, K);
    convolve(
      2,
      { data: B, shape: [1, K, 1, N] },
      { data: A, shape: [M, K, 1, 1] },
      { out: out.subarray(i * M * N, (i + 1) * M * N) }
    );
  }
  return { out, shape: [...outer, M, N], M, N };
}

const batchMatMul: KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const { a, b } = args.inputs as Record<string, TensorInfo | undefined>;
    const p = product(args.backend, a, b, args.attrs?.transposeA === true, args.attrs?.transposeB === true);
    if (!p) return runCpuKernel('BatchMatMul', args);
    matmulCounts.BatchMatMul = (matmulCounts.BatchMatMul ?? 0) + 1;
    return args.backend.makeTensorInfo(p.shape, 'float32', p.out);
  }) as unknown as KernelFunc,
};

const fusedMatMul: KernelConfig = {
  kernelName: '_FusedMatMul',
  backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const { a, b, bias } = args.inputs as Record<string, TensorInfo | undefined>;
    const activation = (args.attrs?.activation as string | undefined) ?? 'linear';
    if (activation !== 'linear' && activation !== 'relu' && activation !== 'relu6') return runCpuKernel('_FusedMatMul', args);
    // A bias that is one value per output column (or a scalar); other broadcasts are the cpu's.
    const bv = bias ? floats(args.backend, bias) : null;
    if (bias && (!bv || (bv.length !== 1 && !(bv.length > 1 && bias.shape[bias.shape.length - 1] === bv.length)))) {
      return runCpuKernel('_FusedMatMul', args);
    }
    const p = product(args.backend, a, b, args.attrs?.transposeA === true, args.attrs?.transposeB === true);
    // (A bias of higher rank than the product would broadcast the output to its rank.)
    if (!p || (bias && bias.shape.length > p.shape.length) || (bv && bv.length !== 1 && bv.length !== p.N)) {
      if (p) args.backend.disposeIntermediateTensorInfo(args.backend.makeTensorInfo(p.shape, 'float32', p.out));
      return runCpuKernel('_FusedMatMul', args);
    }
    matmulCounts._FusedMatMul = (matmulCounts._FusedMatMul ?? 0) + 1;
    const { out, N } = p;
    if (bv) {
      // TF.js's add rounds the sum to float32, as these stores do.
      let c = 0;
      if (bv.length === 1) for (let i = 0; i < out.length; i++) out[i] += bv[0];
      else {
        for (let i = 0; i < out.length; i++) {
          out[i] += bv[c];
          if (++c === N) c = 0;
        }
      }
    }
    if (activation !== 'linear') activateBits(bitsOf(out), bitsOf(out), activation);
    return args.backend.makeTensorInfo(p.shape, 'float32', out);
  }) as unknown as KernelFunc,
};

export const MATMUL_KERNELS: KernelConfig[] = [batchMatMul, fusedMatMul];
