// The native backend: an adapter over the C++ Node-API addon built from native/ (a local build, or
// the prebuild the package ships: native-loader.ts finds it). Loading never throws: a missing or
// broken addon becomes { error }.
// The addon re-validates every argument itself; this layer only packs parameters.

import { ChoiceMemo } from './choice-memo.js';
import { loadNativeAddon, nodeHost } from './native-loader.js';
import type { Algorithm, Backend, ConvParams, GradWeightAlgorithm, WeightStore } from './types.js';
import { ALGORITHM_CODE, GRAD_WEIGHT_ALGORITHM_CODE, KNOBS, PARAM_FIELDS, packParams } from './types.js';

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
  conv2d(
    params: Int32Array,
    algo: number,
    input: Float32Array,
    weight: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    packed?: PackedHandle
  ): void;
  conv2dAsync(
    params: Int32Array,
    algo: number,
    input: Float32Array,
    weight: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    packed?: PackedHandle
  ): Promise<void>;
  packedWeights(): PackedHandle;
  releasePacked(h: PackedHandle): void;
  packedBytes(h: PackedHandle): number;
  gradWeight(
    params: Int32Array,
    input: Float32Array,
    gradOutput: Float32Array,
    out: Float32Array,
    gradBiasOut: Float32Array | null,
    algo: number
  ): void;
  gradWeightAsync(
    params: Int32Array,
    input: Float32Array,
    gradOutput: Float32Array,
    out: Float32Array,
    gradBiasOut: Float32Array | null,
    algo: number
  ): Promise<void>;
  /** null when the addon can take this problem at all (parse_params' limits), else why not. */
  accepts(params: Int32Array): string | null;
  /** null when the algorithm can run this problem on the addon, else why not. */
  supports(params: Int32Array, algo: number): string | null;
  /**
   * The algorithm 'auto' runs and why (native/conv/choose.cc); may time the FFT calibration probe once per
   * ISA. `stable`: the same answer until the ISA or a knob changes (false where the environment counts).
   */
  choose(params: Int32Array): { algorithm: Algorithm; reason: string; stable: boolean };
  fftCalibration(): NativeFftCalibration;
  gradWeightChoose(params: Int32Array, requested: number): GradWeightChoice;
  setKnob(code: number, value: number): void;
  winogradTile(params: Int32Array): number;
  /** Threads a call would run on, by the rule the call itself uses; throws where `supports` says no. */
  threadsFor(params: Int32Array, algo: number): number;
  info(): NativeInfo;
  setIsa(isa: string): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  fmaPeak(ms: number): FmaPeak;
}

/** What one core's FMA units give right now on the addon's ISA (a pure register loop). */
export interface FmaPeak {
  gflops: number;
  isa: string;
  kernel: string;
}

/**
 * The FFT/GEMM crossover's calibration on the current ISA (native/conv/fft_cost.h): the tap thresholds
 * measured on the reference machine are multiplied by `scale`, (fftMs / im2colMs) / referenceRatio
 * clamped to `limits`; fftMs and im2colMs are null where nothing was timed.
 */
export interface NativeFftCalibration {
  scale: number;
  fftMs: number | null;
  im2colMs: number | null;
  referenceRatio: number;
  limits: [number, number];
  note: string;
}

type GradWeightChoice = { algorithm: Exclude<GradWeightAlgorithm, 'auto'>; kernelPays: boolean; reason: string };

let loaded: { addon: Addon } | { error: string } | undefined;
// The addon's recent stable choices; cleared when the ISA or a knob changes.
const choices = new ChoiceMemo<{ algorithm: Algorithm; reason: string }>();
let source: string | null = null;
let info: NativeInfo | undefined;
let refreshInfo = () => {};

function loadAddon(): { addon: Addon } | { error: string } {
  if (loaded) return loaded;
  // FASTCONV_NATIVE=off (handled by the loader) lets a whole run (the test suite's no-native leg, a
  // user's bug report) see the machine as if no addon could load.
  const r = loadNativeAddon<Addon>(nodeHost(), (addon) => {
    addon.info();
  });
  if ('addon' in r) {
    source = r.source;
    loaded = { addon: r.addon };
  } else {
    loaded = { error: r.error };
  }
  return loaded;
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
  refreshInfo = () => {
    info = addon.info();
    choices.clear();
  };
  refreshInfo();
  const current = (): NativeInfo => {
    // refreshInfo() above ran before this backend existed; undefined here would be a broken module state.
    if (info === undefined) throw new Error('fastconv native backend: addon info read before it was loaded');
    return info;
  };
  const implemented = (): readonly Algorithm[] => current().algorithms;

  const backend: Backend = {
    name: 'native',
    get isa() {
      return current().isa;
    },
    get threads() {
      return addon.getNumThreads();
    },
    get algorithms() {
      return implemented();
    },
    accepts: (p) => addon.accepts(pack(p)),
    // Shape limits and the choice live in the addon next to the algorithms (native/conv/conv.cc, choose.cc).
    supports: (p, algo) => addon.supports(pack(p), ALGORITHM_CODE[algo]),
    choose(p) {
      const params = pack(p);
      const known = choices.get(params);
      if (known) return known;
      const { algorithm, reason, stable } = addon.choose(params);
      const c = Object.freeze({ algorithm, reason });
      if (stable) choices.set(params, c);
      return c;
    },
    gradWeightChoose: (p, requested) => addon.gradWeightChoose(pack(p), GRAD_WEIGHT_ALGORITHM_CODE[requested]),
    setKnob(name, value) {
      const k = KNOBS[name] as (typeof KNOBS)[typeof name] | undefined; // a name from untyped JS may be no knob
      if (!k?.engines.includes('native')) throw new RangeError(`knob: expected a native knob, got ${String(name)}`);
      addon.setKnob(k.code, value);
      choices.clear();
    },
    winogradTile: (p) => addon.winogradTile(pack(p)),
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
        get bytes() {
          return addon.packedBytes(handle);
        },
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
interface NativeStore extends WeightStore {
  readonly handle: PackedHandle;
}

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

/** The FFT/GEMM crossover's calibration on the current ISA, measured now if no choice needed it yet (throws if the addon is not loaded). */
export function nativeFftCalibration(): NativeFftCalibration {
  return requireAddon().fftCalibration();
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
