// How close the forced im2col GEMM comes to the hardware: its GFLOP/s at 1 thread divided by the
// FMA peak the native addon measures in the same run (a pure register loop, at the start and end of
// the run; the higher of the two is the reference, which never flatters the GEMM). A fixed nominal
// peak would not do: this VM's FMA loop measured 210 GFLOP/s one day and 174 another.
import type { LayerResult, RunResult } from './results.js';

export type PeakProbe = (ms: number) => { gflops: number; isa: string };

/** The addon's probe, or null when the native backend does not load (the bench still runs). */
export async function loadPeakProbe(): Promise<PeakProbe | null> {
  try {
    const mod = (await import(new URL('../src/backends/native.js', import.meta.url).href)) as { nativeFmaPeak?: PeakProbe };
    const probe = mod.nativeFmaPeak;
    if (!probe) return null;
    probe(1); // throws here, not mid-run, when the addon is missing
    return probe;
  } catch {
    return null;
  }
}

/** "% of this run's FMA peak" of the forced im2col GEMM per layer at 1 thread, or '' without a probe. */
export function efficiencyLine(run: Pick<RunResult, 'machine' | 'layers' | 'arena'>): string {
  const peak = run.machine.fmaPeak;
  if (!peak || run.arena !== 'native') return '';
  const ref = Math.max(peak.start, peak.end);
  const cells = run.layers.flatMap((l: LayerResult) => {
    const r = l.impls.find((x) => x.family === 'fastconv' && x.arena === 'native' && x.algorithm === 'im2col' && x.threads === 1);
    return r?.status === 'ok' && r.gflops ? [`${l.id} ${Math.round((100 * r.gflops) / ref)}%`] : [];
  });
  if (!cells.length) return '';
  return (
    `im2col GEMM at 1 thread, share of this run's FMA peak (${peak.isa} loop: ${peak.start.toFixed(0)} GFLOP/s at the start, ` +
    `${peak.end.toFixed(0)} at the end; the higher is the reference): ${cells.join(', ')}\n`
  );
}
