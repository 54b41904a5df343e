// The contract between the dispatcher and each backend (native, wasm, js).
//
// The public API (src/conv.ts) validates and normalizes every call before a backend sees it, so a
// backend receives one canonical problem: a 2-D NCHW convolution with explicit, possibly asymmetric
// padding. conv1d arrives as H = 1, R = 1. NHWC inputs are transposed to NCHW before the call and the
// result transposed back, so backends implement exactly one layout.

export type Algorithm = 'direct' | 'im2col' | 'winograd' | 'fft';
export const ALGORITHMS: readonly Algorithm[] = ['direct', 'im2col', 'winograd', 'fft'];

export type BackendName = 'native' | 'wasm' | 'js';

/**
 * How a backend's own grad-weight kernel runs: 'gemm' (every shape, GEMM rounding), 'winograd' (3x3, stride
 * 1, dilation 1 only; 2.25x fewer multiplies, Winograd rounding), 'auto' (the kernel's choice per shape).
 */
export type GradWeightAlgorithm = 'auto' | 'gemm' | 'winograd';
export const GRAD_WEIGHT_ALGORITHM_CODE: Record<GradWeightAlgorithm, number> = { auto: 0, gemm: 1, winograd: 2 };

/** A normalized 2-D convolution. All fields are non-negative integers except `relu`. */
export interface ConvParams {
  N: number; C: number; H: number; W: number;      // input [N, C, H, W]
  K: number; R: number; S: number;                 // weight [K, C/groups, R, S]
  groups: number;
  strideH: number; strideW: number;
  dilationH: number; dilationW: number;
  padTop: number; padBottom: number; padLeft: number; padRight: number;
  OH: number; OW: number;                          // output [N, K, OH, OW]
  relu: boolean;                                   // fused max(0, x) after bias
}

/** Field order of ConvParams when packed into an Int32Array for the native addon and the wasm module. */
export const PARAM_FIELDS = [
  'N', 'C', 'H', 'W', 'K', 'R', 'S', 'groups',
  'strideH', 'strideW', 'dilationH', 'dilationW',
  'padTop', 'padBottom', 'padLeft', 'padRight', 'OH', 'OW', 'relu',
] as const;

/**
 * Writes p in PARAM_FIELDS order into `into` (default: a new array). Field by field rather than a loop
 * over PARAM_FIELDS: this is on every call's path, and the generic loop with its allocation was a
 * fifth of a LeNet call (bench/README.md). test/params.test.ts checks the order against PARAM_FIELDS.
 */
export function packParams(p: ConvParams, into: Int32Array = new Int32Array(PARAM_FIELDS.length)): Int32Array {
  const a = into;
  a[0] = p.N; a[1] = p.C; a[2] = p.H; a[3] = p.W; a[4] = p.K; a[5] = p.R; a[6] = p.S; a[7] = p.groups;
  a[8] = p.strideH; a[9] = p.strideW; a[10] = p.dilationH; a[11] = p.dilationW;
  a[12] = p.padTop; a[13] = p.padBottom; a[14] = p.padLeft; a[15] = p.padRight;
  a[16] = p.OH; a[17] = p.OW; a[18] = p.relu ? 1 : 0;
  return a;
}

/** Numeric codes of algorithms across the JS/C++/wasm boundary. */
export const ALGORITHM_CODE: Record<Algorithm, number> = { direct: 0, im2col: 1, winograd: 2, fft: 3 };

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
  conv2d(p: ConvParams, input: Float32Array, weight: Float32Array, bias: Float32Array | null,
         out: Float32Array, algo: Algorithm, store?: WeightStore): void;
  /** Same as conv2d but off the JS thread where the backend can; resolves when `out` is written. */
  conv2dAsync(p: ConvParams, input: Float32Array, weight: Float32Array, bias: Float32Array | null,
              out: Float32Array, algo: Algorithm, store?: WeightStore): Promise<void>;
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
  gradWeight?(p: ConvParams, input: Float32Array, gradOutput: Float32Array, out: Float32Array,
              gradBiasOut?: Float32Array | null, algorithm?: GradWeightAlgorithm): void;
  gradWeightAsync?(p: ConvParams, input: Float32Array, gradOutput: Float32Array, out: Float32Array,
                   gradBiasOut?: Float32Array | null, algorithm?: GradWeightAlgorithm): Promise<void>;
}
