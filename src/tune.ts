// `tune: true`: the first call of a shape times every algorithm that can run it and later calls of that
// shape reuse the fastest. The rules behind backend.choose() were measured on one machine (only the FFT
// crossover is re-calibrated at load); tuning measures this one for every shape, at the price of one run
// per candidate (the slow ones are cut short after one run).
//
// Winners are keyed by backend, ISA, threads, the full problem and whether a layer's weight store is used
// (a stored transform makes Winograd and FFT cheaper per call than a one-off call).

import type { Algorithm, Backend, ConvParams } from './backends/types.js';
import { packParams } from './backends/types.js';

export interface TunedChoice {
  algorithm: Algorithm;
  reason: string;
}

const winners = new Map<string, TunedChoice>();

export function tuneKey(backend: Backend, p: ConvParams, stored: boolean): string {
  return `${backend.name}/${backend.isa}/${backend.threads}/${stored ? 'store' : 'call'}/${packParams(p).join(',')}`;
}

/** The winner recorded for this key, if the shape was tuned already. */
export function tunedChoice(key: string): TunedChoice | undefined {
  return winners.get(key);
}

/** Forgets every tuned winner (e.g. after setNumThreads changed what is fastest). */
export function clearTuning(): void {
  winners.clear();
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * The timing schedule, shared by the sync and async drivers: yields the next algorithm to run and receives
 * its time in ms. Every candidate runs once (which also fills a weight store); those within 3x of the
 * best first run (which may include a weight transform) run twice more and keep their best time. Returns the choice.
 */
function* schedule(candidates: readonly Algorithm[]): Generator<Algorithm, TunedChoice, number> {
  const best = new Map<Algorithm, number>();
  for (const a of candidates) best.set(a, yield a);
  const first = Math.min(...best.values());
  for (const a of candidates) {
    let t = best.get(a) ?? Infinity;
    if (t > 3 * first) continue;
    for (let i = 0; i < 2; i++) t = Math.min(t, yield a);
    best.set(a, t);
  }
  const ranked = [...best].sort((x, y) => x[1] - y[1]);
  return {
    algorithm: ranked[0][0],
    reason: `tuned: fastest of ${ranked.map(([a, ms]) => `${a} ${ms.toFixed(3)} ms`).join(', ')}`,
  };
}

/** Times the candidates with synchronous runs and records the fastest under `key`. */
export function tuneSync(key: string, candidates: readonly Algorithm[], run: (a: Algorithm) => void): TunedChoice {
  const steps = schedule(candidates);
  let step = steps.next();
  while (!step.done) {
    const t0 = now();
    run(step.value);
    step = steps.next(now() - t0);
  }
  winners.set(key, step.value);
  return step.value;
}

/** tuneSync with asynchronous runs (the async API: the work stays off the JS thread). */
export async function tuneAsync(
  key: string,
  candidates: readonly Algorithm[],
  run: (a: Algorithm) => Promise<void>
): Promise<TunedChoice> {
  const steps = schedule(candidates);
  let step = steps.next();
  while (!step.done) {
    const t0 = now();
    await run(step.value);
    step = steps.next(now() - t0);
  }
  winners.set(key, step.value);
  return step.value;
}
