// Steady-state, interleaved timing: every implementation of a layer is warmed up, then timed in
// rounds (one batch each per round, in a rotating order), so that machine drift (other tenants,
// frequency, the second vCPU) hits every implementation alike. The figure is the median batch.
import type { Prepared } from './impl.js';

export interface TimingOptions {
  minRuns: number; // timed rounds at least (>= 10 outside --quick)
  maxRuns: number;
  budgetMs: number; // stop adding rounds once this much wall time has passed (after minRuns)
  minBatchMs: number; // tiny layers: repeat calls in one batch until a batch lasts this long
  warmupMs: number;
  warmupCalls: number; // at least this many untimed calls per implementation
  /** Drop from the timed rounds an implementation this many times slower than the best of its group. */
  pruneFactor: number;
  /**
   * Idle time after each batch: longer than fastconv's pool spins after its last call (2 ms,
   * FASTCONV_SPIN_US), so no batch starts while the previous implementation's threads still spin.
   */
  coolMs: number;
}

export interface Timing {
  medianMs: number; // median per-call time over the batches
  minMs: number;
  p25Ms: number;
  p75Ms: number;
  runs: number; // batches
  reps: number; // calls per batch
  /** Far slower than a sibling variant: timed only in warm-up, so that it does not eat the budget. */
  pruned?: boolean;
}

const now = () => performance.now();

function isPromise(v: unknown): v is Promise<void> {
  return typeof v === 'object' && v !== null && typeof (v as Promise<void>).then === 'function';
}

async function runBatch(t: Prepared, reps: number): Promise<number> {
  if (t.batch) return t.batch(reps);
  t.before?.();
  const run = t.run;
  const t0 = now();
  for (let i = 0; i < reps; i++) {
    const r = run();
    if (isPromise(r)) await r; // sync implementations pay no microtask per call
  }
  return now() - t0;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function median(sorted: number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

function summarize(s: number[], reps: number, pruned: boolean): Timing {
  const sorted = [...s].sort((a, b) => a - b);
  return {
    medianMs: median(sorted),
    minMs: sorted[0],
    p25Ms: quantile(sorted, 0.25),
    p75Ms: quantile(sorted, 0.75),
    runs: s.length,
    reps,
    ...(pruned ? { pruned } : {}),
  };
}

/**
 * Times `impls` on one layer. `groups[i]` (or null) names the variants that may be pruned against
 * each other (e.g. fastconv's algorithms at one thread count; peers are never pruned).
 * `onRound(done, estimate)` reports progress after each round. Returns one Timing per implementation.
 */
export async function timeInterleaved(
  impls: Prepared[],
  groups: (string | null)[],
  o: TimingOptions,
  onRound?: (round: number, fraction: number) => void
): Promise<Timing[]> {
  const reps: number[] = [],
    warm: number[][] = [],
    per: number[] = [];
  for (const t of impls) {
    // Warm-up: caches, lazily packed weights, thread pools, JIT tiers; also sizes the batch.
    const w: number[] = [];
    let spent = 0;
    while (w.length < o.warmupCalls || (spent < o.warmupMs && w.length < 1000)) {
      const ms = await runBatch(t, 1);
      w.push(ms);
      spent += ms;
    }
    warm.push(w);
    per.push(Math.max(median([...w].sort((a, b) => a - b)), 1e-4));
    reps.push(Math.max(1, Math.min(10000, Math.ceil(o.minBatchMs / per[per.length - 1]))));
  }
  const best = new Map<string, number>();
  groups.forEach((g, i) => {
    if (g !== null) best.set(g, Math.min(best.get(g) ?? Infinity, per[i]));
  });
  const pruned = impls.map((_, i) => {
    const g = groups[i];
    return g !== null && per[i] > o.pruneFactor * (best.get(g) ?? Infinity);
  });
  const active = impls.map((_, i) => i).filter((i) => !pruned[i]);
  const samples: number[][] = impls.map(() => []);
  const start = now();
  for (let round = 0; round < o.maxRuns; round++) {
    for (let j = 0; j < active.length; j++) {
      const i = active[(j + round) % active.length]; // rotate who goes first
      samples[i].push((await runBatch(impls[i], reps[i])) / reps[i]);
      if (o.coolMs > 0) await new Promise((r) => setTimeout(r, o.coolMs));
    }
    const elapsed = now() - start;
    const done = round + 1;
    // Both conditions must hold to stop (or maxRuns), so progress is the lesser of the two.
    onRound?.(done, Math.min(1, Math.max(done / o.maxRuns, Math.min(done / o.minRuns, elapsed / o.budgetMs))));
    if (done >= o.minRuns && elapsed >= o.budgetMs) break;
  }
  return impls.map((_, i) => (pruned[i] ? summarize(warm[i], 1, true) : summarize(samples[i], reps[i], false)));
}
