// The shape of a bench run (what --json prints and bench/results/<date>.json keeps) and the
// ratios derived from it.
import type { BennyRow } from './benny-pass.js';
import type { Check } from './reference.js';
import type { Timing } from './timing.js';

export interface ImplResult {
  id: string;
  family: 'fastconv' | 'peer';
  arena: string;
  threads: number;
  algorithm?: string;
  status: 'ok' | 'n/a' | 'mismatch' | 'error';
  reason?: string;
  /** Against the float64 oracle at sampled positions. */
  check?: Check;
  /** Peers: full output against fastconv's (max |Δ|), normalised by S at the sampled positions. */
  vsFastconv?: Check & { reference: string };
  timing?: Timing;
  gflops?: number;
  /** Numbers merged from outside this run (PyTorch via --torch). */
  external?: string;
}

export interface LayerResult {
  id: string;
  name: string;
  op: string;
  flops: number;
  inputShape: number[];
  weightShape: number[];
  outputShape: number[];
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
  auto?: string | null;
  impls: ImplResult[];
}

export interface RunResult {
  date: string;
  durationS: number;
  bennyS: number; // of which the benny pass
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    platform: string;
    loadAverage: { start: number; end: number };
    /** The native FMA loop's GFLOP/s at the start and end of the run (absent off native). */
    fmaPeak?: { isa: string; start: number; end: number };
  };
  arena: string;
  threads: number[];
  /** What --kernel/--tile/--isa fixed (absent in a run of every algorithm at the best ISA). */
  kernel?: { family: string | null; algorithm: string | null; tile: number | null; isa: string; note: string };
  fastconv: { loaded: boolean; info?: unknown; error?: string };
  args: Record<string, unknown>;
  benny: BennyRow[];
  layers: LayerResult[];
  ratios: RatioSummary[];
  mismatches: string[];
}

export interface RatioSummary {
  peer: string;
  /** fastconv's best implementation with the same thread count, per layer. */
  perLayer: { layer: string; fastconv: string; ratio: number }[];
  geomean: number | null;
}

export function bestFastconv(l: LayerResult, threads: number, arena: string): ImplResult | null {
  let best: ImplResult | null = null;
  for (const r of l.impls) {
    if (r.family !== 'fastconv' || r.arena !== arena || r.threads !== threads || r.status !== 'ok' || !r.gflops) continue;
    if (!best || r.gflops > (best.gflops ?? 0)) best = r;
  }
  return best;
}

export function geomean(xs: number[]): number | null {
  return xs.length ? Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length) : null;
}

export function computeRatios(layers: LayerResult[], arena: string): RatioSummary[] {
  const peers = new Map<string, number>();
  for (const l of layers) for (const r of l.impls) if (r.family === 'peer') peers.set(r.id, r.threads);
  return [...peers].map(([peer, threads]) => {
    const perLayer: RatioSummary['perLayer'] = [];
    for (const l of layers) {
      const p = l.impls.find((r) => r.id === peer);
      const f = bestFastconv(l, threads, arena);
      if (p?.gflops && p.status === 'ok' && f?.gflops) perLayer.push({ layer: l.id, fastconv: f.id, ratio: f.gflops / p.gflops });
    }
    return { peer, perLayer, geomean: geomean(perLayer.map((x) => x.ratio)) };
  });
}
