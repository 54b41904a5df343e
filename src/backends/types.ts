// The contract between the dispatcher and each backend (native, wasm, js).
//
// The public API (src/conv.ts) validates and normalizes every call before a backend sees it, so a
// backend receives one canonical problem: a 2-D NCHW convolution with explicit, possibly asymmetric
// padding. conv1d arrives as H = 1, R = 1. NHWC inputs are transposed to NCHW before the call and the
// result transposed back, so backends implement exactly one layout.

// The constants both engines share with this layer (algorithm and grad-weight codes, the packed
// parameter order, wasm status codes, forcing knobs) are generated from native/interface.mjs.
import type { Algorithm, GradWeightAlgorithm, KnobName } from './interface.generated.js';

export type { Algorithm, GradWeightAlgorithm, KnobName } from './interface.generated.js';
export {
  ALGORITHM_CODE,
  ALGORITHMS,
  GRAD_WEIGHT_ALGORITHM_CODE,
  KNOBS,
  PARAM_FIELDS,
  packParams,
  WASM_STATUS,
  WASM_STATUS_MESSAGE,
} from './interface.generated.js';

export type BackendName = 'native' | 'wasm' | 'js';

/** A normalized 2-D convolution. All fields are non-negative integers except `relu`. */
export interface ConvParams {
  N: number;
  C: number;
  H: number;
  W: number; // input [N, C, H, W]
  K: number;
  R: number;
  S: number; // weight [K, C/groups, R, S]
  groups: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  OH: number;
  OW: number; // output [N, K, OH, OW]
  relu: boolean; // fused max(0, x) after bias
  relu6?: boolean; // with relu: min(6, .) after it (ReLU6)
}

/**
 * One layer's transformed weights on one backend (GEMM panels, Winograd-domain filters, FFT spectra),
 * reused by every call that passes it. The owner clears it whenever the weights may have changed.
 */
export interface WeightStore {
  /** Frees every transformed copy now; the next call transforms again. */
  clear(): void;
  /** Bytes of transformed weights held. */
  readonly bytes: number;
}

export interface Backend {
  readonly name: BackendName;
  /** Instruction set actually used: 'avx512' | 'avx2' | 'neon' | 'sse' | 'scalar' | 'wasm-simd' | 'wasm-scalar' | 'js-f64'. */
  readonly isa: string;
  /** Worker threads this backend splits one convolution across. */
  readonly threads: number;
  /** Algorithms implemented by this backend (for any shape). */
  readonly algorithms: readonly Algorithm[];
  /**
   * null when this backend can take `p` at all (its own index and size limits), else why not. The
   * dispatcher then routes the call to a backend that can (js takes every valid call). Absent: no limits.
   */
  accepts?(p: ConvParams): string | null;
  /** null when `algo` can run `p` on this backend, else a sentence saying why not. */
  supports(p: ConvParams, algo: Algorithm): string | null;
  /** Cheapest applicable algorithm for `p` on this backend and a short reason. */
  choose(p: ConvParams): { algorithm: Algorithm; reason: string };
  /**
   * out[N,K,OH,OW] = conv(input[N,C,H,W], weight[K,C/groups,R,S]) + bias, then ReLU if p.relu.
   * `out` has exactly N*K*OH*OW elements and never overlaps input/weight/bias. Inputs are not modified.
   * `store` (from createWeightStore) holds transformed weights valid for `weight`.
   */
  conv2d(
    p: ConvParams,
    input: Float32Array,
    weight: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    algo: Algorithm,
    store?: WeightStore
  ): void;
  /** Same as conv2d but off the JS thread where the backend can; resolves when `out` is written. */
  conv2dAsync(
    p: ConvParams,
    input: Float32Array,
    weight: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    algo: Algorithm,
    store?: WeightStore
  ): Promise<void>;
  /**
   * Threads a call of `p` with `algo` actually uses (small calls stay on one); `call` (default 'async')
   * matters where a sync call cannot use them all (wasm on a browser's main thread). Absent: `threads`.
   */
  threadsFor?(p: ConvParams, algo: Algorithm, call?: 'sync' | 'async'): number;
  /** A store for one layer's transformed weights; absent where the backend keeps none per layer. */
  createWeightStore?(): WeightStore;
  /**
   * Backends with a native grad-weight kernel: out[K, C/groups, R, S] = the weight gradient of the forward
   * convolution p (p.relu ignored) given input [N, C, H, W] and gradOutput [N, K, OH, OW], and, when
   * gradBiasOut [K] is given, the bias gradient. Outputs never overlap the inputs. Others leave these out
   * and backward builds grad-weight from forward convolutions.
   */
  gradWeight?(
    p: ConvParams,
    input: Float32Array,
    gradOutput: Float32Array,
    out: Float32Array,
    gradBiasOut?: Float32Array | null,
    algorithm?: GradWeightAlgorithm
  ): void;
  gradWeightAsync?(
    p: ConvParams,
    input: Float32Array,
    gradOutput: Float32Array,
    out: Float32Array,
    gradBiasOut?: Float32Array | null,
    algorithm?: GradWeightAlgorithm
  ): Promise<void>;
  /**
   * Backends with a grad-weight kernel, which decides its own rules: the kernel algorithm a caller that
   * prefers `requested` should run on p ('auto': the kernel's choice; 'winograd' becomes 'gemm' where the
   * kernel's Winograd does not apply), and whether the kernel pays at all: where `kernelPays` is false,
   * grad-weight built from forward convolutions is faster (src/backward.ts builds it then).
   */
  gradWeightChoose?(
    p: ConvParams,
    requested: GradWeightAlgorithm
  ): { algorithm: Exclude<GradWeightAlgorithm, 'auto'>; kernelPays: boolean; reason: string };
  /**
   * Tests and benchmarks: sets one of this engine's forcing knobs (KNOBS, native/interface.mjs; each
   * knob's `dflt` restores the engine's own rule). Throws a RangeError for a knob this engine does not
   * have or a value outside the knob's range.
   */
  setKnob?(name: KnobName, value: number): void;
  /** Tests: the Winograd output tile edge (2 or 4) a call of p would use now (knobs included); 0 where Winograd does not apply. */
  winogradTile?(p: ConvParams): number;
}

/**
 * What a backend throws when a call it accepted turns out to need more than its engine can give (wasm:
 * memory that cannot grow to the workspace): the call is valid, so the public API reruns it on js
 * instead of failing it (the same answer on every backend).
 */
export class EngineLimitError extends RangeError {
  override name = 'EngineLimitError';
}
