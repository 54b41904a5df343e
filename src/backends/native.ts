// The native backend: an adapter over the C++ Node-API addon built from native/ (a local build, or
// the prebuild the package ships: native-loader.ts finds it). Loading never throws: a missing or
// broken addon becomes { error }.
// The addon re-validates every argument itself; this layer only packs parameters.

import { loadNativeAddon, nodeHost } from './native-loader.js';
import { ALGORITHM_CODE, GRAD_WEIGHT_ALGORITHM_CODE, PARAM_FIELDS, packParams } from './types.js';
import type { Algorithm, Backend, ConvParams, WeightStore } from './types.js';
import { calibrateFft, FFT_PROBE, fftWins, SCALE_LIMITS } from './fft-crossover.js';
import type { FftCalibration } from './fft-crossover.js';

export type NativeIsa = 'avx512' | 'avx2' | 'neon' | 'scalar';

export interface NativeInfo {
  isa: NativeIsa;
  cpu: { avx512: boolean; avx2: boolean; fma: boolean; neon: boolean };
  threads: number;
  algorithms: Algorithm[];
  /** Microkernels in use at the current ISA, e.g. { gemm: 'gemm_avx512_8x48', depthwise: ... }. */
  kernels: Record<string, string>;
}

/** The addon's handle of a layer's transformed weights (a tagged External). */
type PackedHandle = { readonly __packed: unique symbol };

interface Addon {
  conv2d(params: Int32Array, algo: number, input: Float32Array, weight: Float32Array,
         bias: Float32Array | null, out: Float32Array, packed?: PackedHandle): void;
  conv2dAsync(params: Int32Array, algo: number, input: Float32Array, weight: Float32Array,
              bias: Float32Array | null, out: Float32Array, packed?: PackedHandle): Promise<void>;
  packedWeights(): PackedHandle;
  releasePacked(h: PackedHandle): void;
  packedBytes(h: PackedHandle): number;
  gradWeight(params: Int32Array, input: Float32Array, gradOutput: Float32Array, out: Float32Array,
             gradBiasOut: Float32Array | null, algo: number): void;
  gradWeightAsync(params: Int32Array, input: Float32Array, gradOutput: Float32Array, out: Float32Array,
                  gradBiasOut: Float32Array | null, algo: number): Promise<void>;
  /** null when the addon can take this problem at all (parse_params' limits), else why not. */
  accepts(params: Int32Array): string | null;
  /** null when the algorithm can run this problem on the addon, else why not. */
  supports(params: Int32Array, algo: number): string | null;
  /** Threads a call would run on, by the rule the call itself uses; throws where `supports` says no. */
  threadsFor(params: Int32Array, algo: number): number;
  info(): NativeInfo;
  setIsa(isa: string): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  fmaPeak(ms: number): FmaPeak;
}

/** What one core's FMA units give right now on the addon's ISA (a pure register loop). */
export interface FmaPeak { gflops: number; isa: string; kernel: string }

let loaded: { addon: Addon } | { error: string } | undefined;
let source: string | null = null;
let info: NativeInfo | undefined;
let refreshInfo = () => {};

function loadAddon(): { addon: Addon } | { error: string } {
  if (loaded) return loaded;
  // FASTCONV_NATIVE=off (handled by the loader) lets a whole run (the test suite's no-native leg, a
  // user's bug report) see the machine as if no addon could load.
  const r = loadNativeAddon<Addon>(nodeHost(), (addon) => { addon.info(); });
  if ('addon' in r) {
    source = r.source;
    return (loaded = { addon: r.addon });
  }
  return (loaded = { error: r.error });
}

/** Which addon file loaded and why any earlier one in the loader's order did not; null when none did. */
export function nativeAddonSource(): string | null {
  loadAddon();
  return source;
}

// The addon copies the parameters out of the array before it returns (async calls included), so one
// array serves every call.
const packed = new Int32Array(PARAM_FIELDS.length);
const pack = (p: ConvParams): Int32Array => packParams(p, packed);

function requireAddon(): Addon {
  const a = loadAddon();
  if ('error' in a) throw new Error(`fastconv native backend unavailable: ${a.error}`);
  return a.addon;
}

export function loadNativeBackend(): { backend: Backend } | { error: string } {
  const a = loadAddon();
  if ('error' in a) return a;
  const addon = a.addon;
  // info() builds a fresh object in C++; the per-call path reads this copy, refreshed when the ISA changes.
  refreshInfo = () => { info = addon.info(); };
  refreshInfo();
  const implemented = (): readonly Algorithm[] => info!.algorithms;

  function supports(p: ConvParams, algo: Algorithm): string | null {
    const have = implemented();
    if (!have.includes(algo)) {
      return `the '${algo}' algorithm is not implemented on the native backend yet (available: ${have.join(', ')})`;
    }
    // Shape limits (e.g. Winograd: 3x3 only) live in the addon next to the algorithm.
    return addon.supports(pack(p), ALGORITHM_CODE[algo]);
  }

  // FASTCONV_FFT_CALIBRATION=off keeps the reference machine's crossover (reproducible choices).
  const calibrations = new Map<string, FftCalibration>();
  function fftCalibration(): FftCalibration {
    const isa = info!.isa;
    let cal = calibrations.get(isa);
    if (!cal) {
      if (process.env.FASTCONV_FFT_CALIBRATION === 'off') {
        cal = { scale: 1, fftMs: null, im2colMs: null, note: 'FFT/GEMM crossover as measured on the reference machine (calibration off)' };
      } else {
        const n = (shape: number) => Float32Array.from({ length: shape }, (_, i) => Math.sin(i * 0.7));
        const x = n(FFT_PROBE.C * FFT_PROBE.H * FFT_PROBE.W), w = n(FFT_PROBE.K * FFT_PROBE.C * FFT_PROBE.R * FFT_PROBE.S);
        const out = new Float32Array(FFT_PROBE.K * FFT_PROBE.OH * FFT_PROBE.OW);
        const params = packParams(FFT_PROBE);
        cal = calibrateFft((algo) => addon.conv2d(params, ALGORITHM_CODE[algo], x, w, null, out), () => performance.now());
      }
      calibrations.set(isa, cal);
    }
    return cal;
  }

  // Rules measured on the reference Xeon (AVX-512), filters transformed per call; the FFT crossover is calibrated (fft-crossover.ts).
  function choose(p: ConvParams): { algorithm: Algorithm; reason: string } {
    const Cg = p.C / p.groups;
    if (Cg === 1 && p.groups > 1) {
      return { algorithm: 'direct', reason: 'one input channel per group (depthwise): direct SIMD kernel along output rows' };
    }
    const can = (a: Algorithm) => implemented().includes(a) && addon.supports(pack(p), ALGORITHM_CODE[a]) === null;
    if (Cg >= 4 && can('winograd')) {
      return { algorithm: 'winograd', reason: '3-tap kernel at stride 1 with >= 4 channels per group: Winograd does 2.25-4x fewer multiplies than GEMM' };
    }
    // fftWins first: it is plain arithmetic, while can() is a call into the addon (bench/README.md). Only
    // shapes that could go either way pay for the calibration, once per ISA.
    if (fftWins(p, Cg, SCALE_LIMITS[0]) && can('fft')) {
      const cal = fftCalibration();
      if (fftWins(p, Cg, cal.scale)) {
        return { algorithm: 'fft', reason: `large kernel (${p.R}x${p.S}) at stride 1: tiled FFT beats GEMM from this size on (${cal.note})` };
      }
    }
    if (Cg === 1) {
      return { algorithm: 'direct', reason: 'a single input channel: the direct kernel (channel multiplier K) skips GEMM packing' };
    }
    return { algorithm: 'im2col', reason: `implicit im2col + packed GEMM (${info!.kernels.gemm})` };
  }

  const backend: Backend = {
    name: 'native',
    get isa() { return info!.isa; },
    get threads() { return addon.getNumThreads(); },
    get algorithms() { return implemented(); },
    accepts: (p) => addon.accepts(pack(p)),
    supports,
    choose,
    // The addon's own decision (algorithm_threads in conv/conv.cc), so explain() cannot drift from it.
    threadsFor(p, algo) {
      return addon.threadsFor(pack(p), ALGORITHM_CODE[algo]);
    },
    conv2d(p, input, weight, bias, out, algo, store) {
      addon.conv2d(pack(p), ALGORITHM_CODE[algo], input, weight, bias, out, handleOf(store));
    },
    conv2dAsync(p, input, weight, bias, out, algo, store) {
      try {
        return addon.conv2dAsync(pack(p), ALGORITHM_CODE[algo], input, weight, bias, out, handleOf(store));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    createWeightStore() {
      const handle = addon.packedWeights();
      const store: NativeStore = {
        handle,
        clear: () => addon.releasePacked(handle),
        get bytes() { return addon.packedBytes(handle); },
      };
      return store;
    },
    gradWeight(p, input, gradOutput, out, gradBiasOut, algorithm = 'auto') {
      addon.gradWeight(pack(p), input, gradOutput, out, gradBiasOut ?? null, GRAD_WEIGHT_ALGORITHM_CODE[algorithm]);
    },
    gradWeightAsync(p, input, gradOutput, out, gradBiasOut, algorithm = 'auto') {
      try {
        return addon.gradWeightAsync(pack(p), input, gradOutput, out, gradBiasOut ?? null, GRAD_WEIGHT_ALGORITHM_CODE[algorithm]);
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
  return { backend };
}

/** A store made by this backend: the addon handle behind the WeightStore interface. */
interface NativeStore extends WeightStore { readonly handle: PackedHandle }

function handleOf(store: WeightStore | undefined): PackedHandle | undefined {
  return store && 'handle' in store ? (store as NativeStore).handle : undefined;
}

/** CPU features, ISA in use, threads and algorithms of the addon (throws if it is not loaded). */
export function nativeInfo(): NativeInfo {
  return requireAddon().info();
}

/**
 * Runs the current ISA's FMA loop for about `ms` ms on this thread and returns the best GFLOP/s it
 * reached: the reference the bench divides the GEMM's speed by, measured in the same run because a
 * shared machine's clock moves (throws if the addon is not loaded).
 */
export function nativeFmaPeak(ms: number): FmaPeak {
  return requireAddon().fmaPeak(ms);
}

/** Forces the native ISA ('avx512' | 'avx2' | 'neon' | 'scalar'); only the CPU's own or a lower one. */
export function setNativeIsa(isa: string): void {
  requireAddon().setIsa(isa);
  refreshInfo();
}

/** Threads the addon splits one convolution across. No-op when the addon is not loaded. */
export function setNativeThreads(n: number): void {
  const a = loadAddon();
  if ('addon' in a) a.addon.setNumThreads(n);
}
