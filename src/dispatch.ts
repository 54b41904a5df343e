// The only place that knows which backends exist. At load time it checks each candidate against the
// float64 reference on a probe convolution, times it, and selects the fastest; per call it resolves the
// user's backend/algorithm choice into a concrete (backend, algorithm) pair and can say why.

import type { Algorithm, Backend, ConvParams } from './backends/types.js';
import { convReference } from './backends/js.js';
import type { BackendChoice } from './shape.js';
import { checkBackendChoice } from './shape.js';

export type SlotKey = 'native' | 'wasmRelaxed' | 'wasmSimd' | 'wasmScalar' | 'js';
const SLOT_ORDER: readonly SlotKey[] = ['native', 'wasmRelaxed', 'wasmSimd', 'wasmScalar', 'js'];
/** What 'wasm' means: the first of these that loaded (they run the same algorithms, faster to slower). */
const WASM_PREFERENCE: readonly SlotKey[] = ['wasmRelaxed', 'wasmSimd', 'wasmScalar'];

export interface Candidate { key: SlotKey; backend?: Backend; error?: string }

export interface ProbeResult { key: SlotKey; ok: boolean; medianMs?: number; gflops?: number; error?: string }

export interface BackendInfo {
  /** The backend calls with backend 'auto' use: forced by setBackend/FASTCONV_BACKEND, else the fastest. */
  selected: 'native' | 'wasm' | 'js';
  /** Which wasm build 'wasm' means here. */
  wasmVariant: 'relaxed' | 'simd' | 'scalar' | null;
  available: Record<SlotKey, boolean>;
  isa: string;
  threads: number;
  /** Why the selected backend runs one thread where it could split calls (wasm without threads), else null. */
  threadsOff: string | null;
  forced: BackendChoice;
  reason: string;
  probe: ProbeResult[];
  errors: Partial<Record<SlotKey, string>>;
}

export interface Plan {
  backend: Backend;
  algorithm: Algorithm;
  reason: string;
}

// Small enough that the js backend finishes in a few ms, large enough to rank the compiled ones.
const PROBE: ConvParams = {
  N: 1, C: 8, H: 16, W: 16, K: 8, R: 3, S: 3, groups: 1, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1,
  padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, OH: 16, OW: 16, relu: false,
};
const PROBE_FLOPS = 2 * PROBE.K * PROBE.C * PROBE.R * PROBE.S * PROBE.OH * PROBE.OW;

function probeData(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = (s / 2 ** 32) * 2 - 1; }
  return a;
}

const now = () => (globalThis.performance ? globalThis.performance.now() : Date.now());

export class Dispatcher {
  private slots = new Map<SlotKey, Candidate>();
  private probeResults: ProbeResult[] = [];
  private selectedKey: SlotKey = 'js';
  private selectReason = '';
  private forced: BackendChoice = 'auto';

  constructor(candidates: Candidate[], forced?: string) {
    this.setCandidates(candidates);
    if (forced !== undefined && forced !== '') {
      try {
        this.forced = checkBackendChoice('FASTCONV_BACKEND', forced);
      } catch (e) {
        this.selectReason += ` (ignored ${(e as Error).message})`;
      }
    }
  }

  /** Replaces the candidate set (the browser adds wasm after an async compile) and re-probes. */
  setCandidates(candidates: Candidate[]): void {
    this.slots.clear();
    for (const c of candidates) this.slots.set(c.key, c);
    this.probe();
  }

  private probe(): void {
    const x = probeData(PROBE.N * PROBE.C * PROBE.H * PROBE.W, 1);
    const w = probeData(PROBE.K * PROBE.C * PROBE.R * PROBE.S, 2);
    const b = probeData(PROBE.K, 3);
    const want = convReference(PROBE, x, w, b);
    const scale = convReference(PROBE, x, w, b, true);
    const out = new Float32Array(want.length);
    this.probeResults = [];
    for (const key of SLOT_ORDER) {
      const slot = this.slots.get(key);
      if (!slot?.backend) {
        if (slot) this.probeResults.push({ key, ok: false, error: slot.error });
        continue;
      }
      const be = slot.backend;
      try {
        const { algorithm } = be.choose(PROBE);
        be.conv2d(PROBE, x, w, b, out, algorithm);
        for (let i = 0; i < want.length; i++) {
          if (!(Math.abs(out[i] - want[i]) <= 1e-4 * scale[i] + 1e-30)) {
            throw new Error(`self-check failed: output ${i} is ${out[i]}, expected ${want[i]}`);
          }
        }
        // The js backend is slowest by orders of magnitude: one run ranks it. The compiled ones get a
        // second warm-up call (wasm tiers up), then 5 samples, each a batch of calls long enough for the
        // timer (browsers coarsen performance.now() to 5-100 us), so neither a coarse clock nor one stall
        // by another process decides the ranking.
        const times: number[] = [];
        if (key === 'js') {
          const t = now();
          be.conv2d(PROBE, x, w, b, out, algorithm);
          times.push(now() - t);
        } else {
          be.conv2d(PROBE, x, w, b, out, algorithm);
          const sampleMs = this.sampleMs();
          for (let i = 0; i < 5; i++) {
            let calls = 0;
            const t = now();
            do { be.conv2d(PROBE, x, w, b, out, algorithm); calls++; } while (now() - t < sampleMs);
            times.push((now() - t) / calls);
          }
        }
        times.sort((p, q) => p - q);
        const medianMs = times[times.length >> 1];
        this.probeResults.push({ key, ok: true, medianMs, gflops: PROBE_FLOPS / (medianMs * 1e6) });
      } catch (e) {
        slot.error = `${(e as Error).message}`;
        slot.backend = undefined;
        this.probeResults.push({ key, ok: false, error: slot.error });
      }
    }
    const ok = this.probeResults.filter((r) => r.ok).sort((p, q) => p.medianMs! - q.medianMs!);
    this.selectedKey = ok.length ? ok[0].key : 'js';
    const describe = (r: ProbeResult) => r.ok
      ? `${r.key} ${r.medianMs!.toFixed(3)} ms (${r.gflops!.toFixed(1)} GFLOP/s)`
      : `${r.key} unavailable: ${r.error}`;
    this.selectReason = `${this.selectedKey} was fastest on the 8x16x16 3x3 probe: ` +
      this.probeResults.map(describe).join('; ');
  }

  private sampleMsCache = 0;

  /** 20 ticks of this engine's clock, within [0.2, 2] ms. */
  private sampleMs(): number {
    if (this.sampleMsCache) return this.sampleMsCache;
    let tick = Infinity;
    for (let i = 0; i < 20; i++) {
      const a = now();
      let b = now();
      while (b === a) b = now();
      tick = Math.min(tick, b - a);
    }
    return (this.sampleMsCache = Math.min(2, Math.max(0.2, 20 * tick)));
  }

  private slotFor(choice: BackendChoice): SlotKey {
    const c = choice === 'auto' ? this.forced : choice;
    switch (c) {
      case 'auto': return this.selectedKey;
      case 'native': return 'native';
      case 'js': return 'js';
      case 'wasm-relaxed': return 'wasmRelaxed';
      case 'wasm-simd': return 'wasmSimd';
      case 'wasm-scalar': return 'wasmScalar';
      case 'wasm': return WASM_PREFERENCE.find((k) => this.slots.get(k)?.backend) ?? 'wasmScalar';
    }
  }

  backendFor(choice: BackendChoice): Backend {
    const key = this.slotFor(choice);
    const slot = this.slots.get(key);
    if (!slot?.backend) {
      const why = slot?.error ?? 'not built for this platform';
      throw new Error(`backend '${choice === 'auto' ? this.forced : choice}' is not available: ${why}`);
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
    if (why !== null) throw new RangeError(`algorithm '${algo}' cannot run this convolution on the ${backend.name} backend: ${note}${why}`);
    return { backend, algorithm: algo, reason: `${note}algorithm '${algo}' forced by the caller` };
  }

  setForced(choice: BackendChoice): void {
    if (choice !== 'auto') this.backendFor(choice);   // fail now, not at the next call
    this.forced = choice;
  }

  info(): BackendInfo {
    const selectedKey = this.slotFor('auto');
    const be = this.slots.get(selectedKey)?.backend;
    const available = Object.fromEntries(SLOT_ORDER.map((k) => [k, !!this.slots.get(k)?.backend])) as Record<SlotKey, boolean>;
    const errors: Partial<Record<SlotKey, string>> = {};
    for (const k of SLOT_ORDER) { const e = this.slots.get(k)?.error; if (e) errors[k] = e; }
    const wasmKey = this.slotFor('wasm');
    const forcedNote = this.forced === 'auto' ? '' : `forced to '${this.forced}' (setBackend or FASTCONV_BACKEND); `;
    return {
      selected: selectedKey === 'native' ? 'native' : selectedKey === 'js' ? 'js' : 'wasm',
      wasmVariant: available[wasmKey] ? ({ wasmRelaxed: 'relaxed', wasmSimd: 'simd', wasmScalar: 'scalar' } as const)[wasmKey as 'wasmSimd'] : null,
      available,
      isa: be?.isa ?? 'none',
      threads: be?.threads ?? 1,
      threadsOff: (be as { threadsOff?: string | null } | undefined)?.threadsOff ?? null,
      forced: this.forced,
      reason: forcedNote + this.selectReason,
      probe: this.probeResults.map((r) => ({ ...r })),
      errors,
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

export function installDispatcher(d: Dispatcher): void { current = d; }

export function dispatcher(): Dispatcher {
  if (!current) throw new Error('fastconv: no backend initialized (import fastconv from its package entry point)');
  return current;
}
