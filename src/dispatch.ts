// The only place that knows which backends exist. At load time it checks each candidate against the
// float64 reference on a probe convolution and selects the first that passes in the known order
// (native > wasm-relaxed > wasm-simd > wasm-scalar > js); it times candidates only where that order is
// in doubt, and lets the timing overturn it only on strong evidence. Per call it resolves the user's
// backend/algorithm choice into a concrete (backend, algorithm) pair and can say why.

import { convReference } from './backends/js.js';
import type { Algorithm, Backend, ConvParams } from './backends/types.js';
import type { BackendChoice } from './shape.js';
import { checkBackendChoice } from './shape.js';

export type SlotKey = 'native' | 'wasmRelaxed' | 'wasmSimd' | 'wasmScalar' | 'js';
/**
 * The known order, fastest first. It holds on every machine measured (native SIMD code 2-10x wasm SIMD,
 * relaxed SIMD's fused multiply-add at least SIMD128's mul+add, SIMD128 2-6x scalar wasm, js ~100x
 * slower), and it is what a millisecond of load-time timing cannot reliably beat: a probe that short
 * once put wasm-scalar ahead of wasm-simd (issue #16) and cost the process 3-6x for its lifetime.
 */
const SLOT_ORDER: readonly SlotKey[] = ['native', 'wasmRelaxed', 'wasmSimd', 'wasmScalar', 'js'];
/** What 'wasm' means: the first of these that loaded (they run the same algorithms, faster to slower). */
const WASM_PREFERENCE: readonly SlotKey[] = ['wasmRelaxed', 'wasmSimd', 'wasmScalar'];
const SLOT_NAME: Record<SlotKey, string> = {
  native: 'native',
  wasmRelaxed: 'wasm-relaxed',
  wasmSimd: 'wasm-simd',
  wasmScalar: 'wasm-scalar',
  js: 'js',
};
const KNOWN_ORDER = SLOT_ORDER.map((k) => SLOT_NAME[k]).join(' > ');

export interface Candidate {
  key: SlotKey;
  backend?: Backend;
  error?: string;
  /** Native only: which addon file loaded and why any earlier one did not (backendInfo().nativeAddon). */
  source?: string;
}

/** One candidate's load-time check; medianMs/gflops only where it was timed (see Comparison). */
export interface ProbeResult {
  key: SlotKey;
  ok: boolean;
  medianMs?: number;
  gflops?: number;
  error?: string;
}

/** A timed duel between the current choice and a lower-ranked candidate, in interleaved samples. */
export interface Comparison {
  incumbent: SlotKey;
  challenger: SlotKey;
  /** ms per call, sample i of each taken back to back (in alternating order) as pair i. */
  incumbentMs: number[];
  challengerMs: number[];
  /** incumbent median / challenger median: how many times faster the challenger ran. */
  speedup: number;
  /** Pairs in which the challenger ran at least `margin` times faster. */
  wins: number;
  margin: number;
  overturned: boolean;
}

export interface DispatcherOptions {
  /**
   * Which lower-ranked candidates are timed against the known order's choice: 'doubtful' (default) only
   * where the order can be wrong (the native addon at its scalar ISA against the best SIMD wasm build),
   * 'all' every compiled candidate in turn, 'none' nothing. js, the reference, is never timed.
   */
  timing?: 'doubtful' | 'all' | 'none';
  /** Interleaved sample pairs per comparison (default 7). */
  pairs?: number;
  /** How many times faster a challenger must run, by median and in most pairs, to overturn (default 1.5). */
  margin?: number;
}

export interface BackendInfo {
  /**
   * The backend calls with backend 'auto' use: forced by setBackend/FASTCONV_BACKEND, else the first that
   * passed the load-time check in the known order (or the one that timing showed clearly faster).
   */
  selected: 'native' | 'wasm' | 'js';
  /** The build behind `selected`: which wasm build, when it is 'wasm' (wasm-scalar if forced, say). */
  slot: SlotKey;
  /** Which wasm build 'wasm' means here. */
  wasmVariant: 'relaxed' | 'simd' | 'scalar' | null;
  available: Record<SlotKey, boolean>;
  isa: string;
  /** Threads the selected backend splits a large call across (wasm caps setNumThreads at its pool's limit). */
  threads: number;
  /** Why the selected backend runs one thread where it could split calls (wasm without threads), else null. */
  threadsOff: string | null;
  forced: BackendChoice;
  reason: string;
  probe: ProbeResult[];
  /** The timed comparisons behind the selection (none where the known order was not in doubt). */
  comparisons: Comparison[];
  errors: Partial<Record<SlotKey, string>>;
  /**
   * Which native addon file loaded (build/Release/fastconv.node: a local build; prebuilds/<platform>/
   * fastconv.node: the one the package ships) and why any earlier one did not; null when none did
   * (errors.native says why, and how to fix it) or where there is no addon (browsers).
   */
  nativeAddon: string | null;
}

export interface Plan {
  backend: Backend;
  algorithm: Algorithm;
  reason: string;
}

const conv3x3 = (C: number, K: number, HW: number): ConvParams => ({
  N: 1,
  C,
  H: HW,
  W: HW,
  K,
  R: 3,
  S: 3,
  groups: 1,
  strideH: 1,
  strideW: 1,
  dilationH: 1,
  dilationW: 1,
  padTop: 1,
  padBottom: 1,
  padLeft: 1,
  padRight: 1,
  OH: HW,
  OW: HW,
  relu: false,
});
// Every compiled candidate is checked on this at load, against a float64 reference that runs cold
// (unoptimized JS, ~100-200 ns per multiply-add), so it is no larger than it must be: 7x7 planes give
// full and partial tiles and vectors (49 outputs a plane, no multiple of 4, 8 or 16; Winograd tiles
// of 4 + 3 rows), where wrong edge code shows, and 8 channels run the algorithm a real 3x3 layer gets (Winograd natively,
// im2col on wasm).
const PROBE = conv3x3(8, 8, 7);
// The js backend is the reference itself: running it on the full probe would only pay for a second
// cold reference pass, so it is checked (the adapter around the reference) on a few taps.
const JS_PROBE = conv3x3(2, 2, 3);
const PROBE_FLOPS = 2 * PROBE.K * PROBE.C * PROBE.R * PROBE.S * PROBE.OH * PROBE.OW;
const PROBE_TEXT = `${PROBE.C}x${PROBE.H}x${PROBE.W} ${PROBE.R}x${PROBE.S}`;

function probeData(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

/** A probe problem with its float64 answer and, per output, the error a correct float32 result stays within. */
class ProbeCase {
  readonly x: Float32Array;
  readonly w: Float32Array;
  readonly b: Float32Array;
  readonly out: Float32Array;
  private readonly want: Float64Array;
  private readonly tol: Float64Array;

  constructor(readonly p: ConvParams) {
    this.x = probeData(p.N * p.C * p.H * p.W, 1);
    this.w = probeData(p.K * p.C * p.R * p.S, 2);
    this.b = probeData(p.K, 3);
    this.want = convReference(p, this.x, this.w, this.b);
    this.out = new Float32Array(this.want.length);
    // Per output channel, a bound on sum |x||w| + |b| over any window (every |x| <= max |x|): the
    // error scale of the sums, without the second reference pass (conv(|x|, |w|)) that costs as much again.
    let xMax = 0;
    for (const v of this.x) xMax = Math.max(xMax, Math.abs(v));
    const taps = p.C * p.R * p.S;
    this.tol = new Float64Array(p.K);
    for (let k = 0; k < p.K; k++) {
      let s = Math.abs(this.b[k]);
      for (let i = 0; i < taps; i++) s += xMax * Math.abs(this.w[k * taps + i]);
      this.tol[k] = 1e-4 * s;
    }
  }

  run(be: Backend, algorithm: Algorithm): void {
    be.conv2d(this.p, this.x, this.w, this.b, this.out, algorithm);
  }

  /** Runs `be` once with its own choice of algorithm and throws unless every output is within tolerance. */
  check(be: Backend): Algorithm {
    const { algorithm } = be.choose(this.p);
    this.out.fill(NaN); // a backend that writes nothing must not pass on the previous one's answer
    this.run(be, algorithm);
    const plane = this.p.OH * this.p.OW;
    for (let i = 0; i < this.want.length; i++) {
      if (!(Math.abs(this.out[i] - this.want[i]) <= this.tol[Math.floor(i / plane)])) {
        throw new Error(`self-check failed: output ${i} is ${this.out[i]}, expected ${this.want[i]}`);
      }
    }
    return algorithm;
  }
}

const now = () => (globalThis.performance ? globalThis.performance.now() : Date.now());

const median = (v: readonly number[]): number => {
  const s = [...v].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Whether timings overturn the known order: the challenger must run `margin` times faster than the
 * incumbent by median and in a strict majority of the pairs. The median alone can ride on a few
 * samples that a stall by another process lengthened; the pairs, taken back to back, see the same
 * machine state, so most of them agreeing is what says the gap is the code's and not the moment's.
 */
export function overturns(
  incumbentMs: readonly number[],
  challengerMs: readonly number[],
  margin: number
): { speedup: number; wins: number; overturned: boolean } {
  const n = incumbentMs.length;
  const valid = n > 0 && challengerMs.length === n && [...incumbentMs, ...challengerMs].every((t) => Number.isFinite(t) && t > 0);
  if (!valid) return { speedup: NaN, wins: 0, overturned: false };
  const speedup = median(incumbentMs) / median(challengerMs);
  let wins = 0;
  for (let i = 0; i < n; i++) if (incumbentMs[i] >= margin * challengerMs[i]) wins++;
  return { speedup, wins, overturned: speedup >= margin && 2 * wins > n };
}

interface Verified {
  key: SlotKey;
  backend: Backend;
  algorithm: Algorithm;
}

export class Dispatcher {
  private slots = new Map<SlotKey, Candidate>();
  private probeResults: ProbeResult[] = [];
  private comparisons: Comparison[] = [];
  private selectedKey: SlotKey = 'js';
  private selectReason = '';
  /** Notes that outlive a re-probe: an ignored environment variable, say. */
  private notes: string[] = [];
  private forced: BackendChoice = 'auto';
  private readonly options: Required<DispatcherOptions>;

  constructor(candidates: Candidate[], forced?: string, options: DispatcherOptions = {}) {
    this.options = { timing: options.timing ?? 'doubtful', pairs: options.pairs ?? 7, margin: options.margin ?? 1.5 };
    this.setCandidates(candidates);
    if (forced !== undefined && forced !== '') {
      try {
        this.forced = checkBackendChoice('FASTCONV_BACKEND', forced);
      } catch (e) {
        this.addNote(`ignored ${(e as Error).message}`);
      }
    }
  }

  /** Adds a sentence to backendInfo().reason (kept across re-probes). */
  addNote(note: string): void {
    this.notes.push(note);
  }

  /** Replaces the candidate set (the browser adds wasm after an async compile) and re-probes. */
  setCandidates(candidates: Candidate[]): void {
    this.slots.clear();
    for (const c of candidates) this.slots.set(c.key, c);
    this.probe();
  }

  private probe(): void {
    // Built on first use: a machine with only the js reference never needs the main probe.
    let main: ProbeCase | undefined;
    const mainProbe = (): ProbeCase => {
      main ??= new ProbeCase(PROBE);
      return main;
    };
    this.probeResults = [];
    this.comparisons = [];
    const verified: Verified[] = [];
    for (const key of SLOT_ORDER) {
      const slot = this.slots.get(key);
      if (!slot?.backend) {
        if (slot) this.probeResults.push({ key, ok: false, error: slot.error ?? 'not loaded' });
        continue;
      }
      const be = slot.backend;
      try {
        const algorithm = key === 'js' ? new ProbeCase(JS_PROBE).check(be) : mainProbe().check(be);
        verified.push({ key, backend: be, algorithm });
        this.probeResults.push({ key, ok: true });
      } catch (e) {
        slot.error = `${(e as Error).message}`;
        slot.backend = undefined;
        this.probeResults.push({ key, ok: false, error: slot.error });
      }
    }

    const first = verified[0];
    let best = first;
    for (const challenger of this.challengers(verified)) {
      if (!best || challenger === best) continue;
      const c = this.compare(best, challenger, mainProbe());
      this.comparisons.push(c);
      if (c.overturned) best = challenger;
    }
    this.selectedKey = best?.key ?? 'js';

    const name = (v: Verified) => (v.key === 'native' ? `native (${v.backend.isa})` : SLOT_NAME[v.key]);
    const parts: string[] = [];
    if (!best) parts.push(`no backend passed the float64 check`);
    else if (best === first)
      parts.push(`${name(best)}: the first backend that passed the float64 check in the known order ${KNOWN_ORDER}`);
    else parts.push(`${name(best)}: timed clearly faster than ${name(first)}, which the known order ${KNOWN_ORDER} puts first`);
    if (this.comparisons.length) {
      for (const c of this.comparisons) parts.push(this.describe(c));
    } else if (best) {
      parts.push(
        this.options.timing === 'none' ? 'nothing timed (timing off)' : 'nothing timed (the order is not in doubt here)'
      );
    }
    const wasmKey = this.slotFor('wasm');
    parts.push(this.slots.get(wasmKey)?.backend ? `'wasm' means ${SLOT_NAME[wasmKey]}` : `no wasm build is available`);
    const checks = this.probeResults
      .map((r) => (r.ok ? `${SLOT_NAME[r.key]} ok` : `${SLOT_NAME[r.key]} unavailable (${r.error})`))
      .join(', ');
    parts.push(`checked on the ${PROBE_TEXT} probe (js on a 2-channel one): ${checks}`);
    this.selectReason = parts.join('; ');
  }

  /** The candidates to time against the current choice, in the known order (see DispatcherOptions.timing). */
  private challengers(verified: Verified[]): Verified[] {
    const [first, ...rest] = verified;
    const compiled = rest.filter((v) => v.key !== 'js');
    switch (this.options.timing) {
      case 'none':
        return [];
      case 'all':
        return compiled;
      case 'doubtful': {
        // Scalar C++ against wasm SIMD128 is the one pairing whose order depends on the machine (a CPU
        // without AVX2, or FASTCONV_ISA=scalar). The best SIMD build speaks for the others.
        if (first?.key !== 'native' || first.backend.isa !== 'scalar') return [];
        const simd = compiled.find((v) => v.key === 'wasmRelaxed' || v.key === 'wasmSimd');
        return simd ? [simd] : [];
      }
    }
  }

  /** Times `inc` and `ch` in interleaved samples (A B, B A, ...) after a warm-up, and applies overturns(). */
  private compare(inc: Verified, ch: Verified, probe: ProbeCase): Comparison {
    const ms = this.sampleMs();
    const batch = (v: Verified): number => {
      let calls = 0;
      const t = now();
      let dt: number;
      do {
        probe.run(v.backend, v.algorithm);
        calls++;
        dt = now() - t;
      } while (dt < ms);
      return dt / calls;
    };
    // Another process can only add time: a sample is the best of three batches, so one preemption
    // does not make it, and a pair is lost only when the stall outlasts a sample.
    const sample = (v: Verified): number => Math.min(batch(v), batch(v), batch(v));
    // Wasm runs its first calls in the baseline tier and optimizes in the background: two batches each
    // before counting, and the alternating order cancels what tiering (or a slow drift) is left.
    for (let i = 0; i < 2; i++) {
      batch(inc);
      batch(ch);
    }
    const incumbentMs: number[] = [],
      challengerMs: number[] = [];
    for (let i = 0; i < this.options.pairs; i++) {
      if (i % 2 === 0) {
        incumbentMs.push(sample(inc));
        challengerMs.push(sample(ch));
      } else {
        challengerMs.push(sample(ch));
        incumbentMs.push(sample(inc));
      }
    }
    const margin = this.options.margin;
    const verdict = overturns(incumbentMs, challengerMs, margin);
    for (const [v, t] of [
      [inc, incumbentMs],
      [ch, challengerMs],
    ] as const) {
      const r = this.probeResults.find((p) => p.key === v.key);
      // probe() records every backend before any is timed.
      if (!r) throw new Error(`fastconv dispatcher: ${v.key} timed without a probe result`);
      r.medianMs = median(t);
      r.gflops = PROBE_FLOPS / (r.medianMs * 1e6);
    }
    return { incumbent: inc.key, challenger: ch.key, incumbentMs, challengerMs, margin, ...verdict };
  }

  private describe(c: Comparison): string {
    const a = SLOT_NAME[c.incumbent],
      b = SLOT_NAME[c.challenger];
    const n = c.incumbentMs.length;
    return (
      `timed ${a} against ${b} in ${n} interleaved pairs: ${median(c.incumbentMs).toFixed(4)} vs ` +
      `${median(c.challengerMs).toFixed(4)} ms per call by median (${b} ${c.speedup.toFixed(2)}x as fast, ` +
      `>= ${c.margin}x in ${c.wins}/${n} pairs), so ` +
      (c.overturned
        ? `${b} overturns the known order`
        : `${a} stays (overturning needs ${c.margin}x by median and in most pairs)`)
    );
  }

  private sampleMsCache = 0;

  /** 20 ticks of this engine's clock, within [0.25, 2] ms. */
  private sampleMs(): number {
    if (this.sampleMsCache) return this.sampleMsCache;
    let tick = Infinity;
    for (let i = 0; i < 20; i++) {
      const a = now();
      let b = now();
      while (b === a) b = now();
      tick = Math.min(tick, b - a);
    }
    this.sampleMsCache = Math.min(2, Math.max(0.25, 20 * tick));
    return this.sampleMsCache;
  }

  private slotFor(choice: BackendChoice): SlotKey {
    const c = choice === 'auto' ? this.forced : choice;
    switch (c) {
      case 'auto':
        return this.selectedKey;
      case 'native':
        return 'native';
      case 'js':
        return 'js';
      case 'wasm-relaxed':
        return 'wasmRelaxed';
      case 'wasm-simd':
        return 'wasmSimd';
      case 'wasm-scalar':
        return 'wasmScalar';
      case 'wasm':
        return WASM_PREFERENCE.find((k) => this.slots.get(k)?.backend) ?? 'wasmScalar';
    }
  }

  backendFor(choice: BackendChoice): Backend {
    const key = this.slotFor(choice);
    const slot = this.slots.get(key);
    if (!slot?.backend) {
      const why = slot?.error ?? 'not built for this platform';
      // A value the caller may pass but this process cannot honour: a RangeError, as for any bad argument.
      throw new RangeError(`backend '${choice === 'auto' ? this.forced : choice}' is not available: ${why}`);
    }
    return slot.backend;
  }

  /**
   * The backend that runs `p` for this choice: the chosen one, or where its engine cannot take the call
   * (an index or size limit of its own: Backend.accepts), the next of wasm and js that can, so that a
   * valid call gets the same answer whichever backend was asked for. `note` says why it moved.
   */
  backendForCall(p: ConvParams, choice: BackendChoice): { backend: Backend; note: string } {
    const asked = this.backendFor(choice);
    const q = forChoice(p);
    const limit = asked.accepts?.(q) ?? null;
    if (limit === null) return { backend: asked, note: '' };
    for (const key of [this.slotFor('wasm'), 'js' as const]) {
      const be = this.slots.get(key)?.backend;
      if (!be || be === asked || (be.accepts?.(q) ?? null) !== null) continue;
      return { backend: be, note: `the ${asked.name} backend cannot take this call (${limit}), so it runs on ${be.name}; ` };
    }
    throw new RangeError(`this convolution is beyond every available backend's limits: ${limit}`);
  }

  plan(p: ConvParams, choice: BackendChoice, algo: 'auto' | Algorithm): Plan {
    const { backend, note } = this.backendForCall(p, choice);
    const q = forChoice(p);
    if (algo === 'auto') {
      const { algorithm, reason } = backend.choose(q);
      return { backend, algorithm, reason: note + reason };
    }
    const why = backend.supports(q, algo);
    if (why !== null)
      throw new RangeError(`algorithm '${algo}' cannot run this convolution on the ${backend.name} backend: ${note}${why}`);
    return { backend, algorithm: algo, reason: `${note}algorithm '${algo}' forced by the caller` };
  }

  setForced(choice: BackendChoice): void {
    if (choice !== 'auto') this.backendFor(choice); // fail now, not at the next call
    this.forced = choice;
  }

  info(): BackendInfo {
    const selectedKey = this.slotFor('auto');
    const be = this.slots.get(selectedKey)?.backend;
    const available = Object.fromEntries(SLOT_ORDER.map((k) => [k, !!this.slots.get(k)?.backend])) as Record<SlotKey, boolean>;
    const errors: Partial<Record<SlotKey, string>> = {};
    for (const k of SLOT_ORDER) {
      const e = this.slots.get(k)?.error;
      if (e) errors[k] = e;
    }
    const wasmKey = this.slotFor('wasm');
    const forcedNote = this.forced === 'auto' ? '' : `forced to '${this.forced}' (setBackend or FASTCONV_BACKEND); `;
    return {
      selected: selectedKey === 'native' ? 'native' : selectedKey === 'js' ? 'js' : 'wasm',
      slot: selectedKey,
      wasmVariant: available[wasmKey]
        ? ({ wasmRelaxed: 'relaxed', wasmSimd: 'simd', wasmScalar: 'scalar' } as const)[wasmKey as 'wasmSimd']
        : null,
      available,
      isa: be?.isa ?? 'none',
      threads: be?.threads ?? 1,
      threadsOff: (be as { threadsOff?: string | null } | undefined)?.threadsOff ?? null,
      forced: this.forced,
      reason: forcedNote + this.selectReason + this.notes.map((n) => `; ${n}`).join(''),
      probe: this.probeResults.map((r) => ({ ...r })),
      comparisons: this.comparisons.map((c) => ({ ...c, incumbentMs: [...c.incumbentMs], challengerMs: [...c.challengerMs] })),
      errors,
      nativeAddon: (available.native && this.slots.get('native')?.source) || null,
    };
  }
}

/**
 * The problem the engines are asked about: an empty batch runs nothing, and the engines (which reject
 * N = 0) choose for it as for one sample, so that it reports what a non-empty batch would run.
 */
export function forChoice(p: ConvParams): ConvParams {
  return p.N === 0 ? { ...p, N: 1 } : p;
}

let current: Dispatcher | undefined;

export function installDispatcher(d: Dispatcher): void {
  current = d;
}

export function dispatcher(): Dispatcher {
  if (!current) throw new Error('fastconv: no backend initialized (import fastconv from its package entry point)');
  return current;
}
