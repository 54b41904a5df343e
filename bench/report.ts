// The text report: one block per layer (every implementation), then a summary with the ratios
// fastconv(best)/peer and their geometric means.
import type { BennyRow } from './benny-pass.js';
import type { ImplResult, LayerResult, RatioSummary, RunResult } from './results.js';
import { bestFastconv } from './results.js';

const fmtG = (g: number | undefined): string =>
  g === undefined ? '-' : g >= 100 ? g.toFixed(0) : g >= 10 ? g.toFixed(1) : g.toFixed(2);
const fmtE = (e: number): string => (e === 0 ? '0' : e.toExponential(1));

function table(rows: string[][], rightAlign: (col: number) => boolean): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (rightAlign(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
        .join('  ')
        .trimEnd()
    )
    .join('\n');
}

function checkCell(r: ImplResult): string {
  const parts: string[] = [];
  if (r.check) parts.push(`f64 rel ${fmtE(r.check.maxRel)}`);
  if (r.vsFastconv) parts.push(`vs fastconv max|Δ| ${fmtE(r.vsFastconv.maxAbs)} rel ${fmtE(r.vsFastconv.maxRel)}`);
  if (r.status === 'mismatch') parts.push('!! MISMATCH');
  if (r.external) parts.push(`external: ${r.external}`);
  return parts.join(', ');
}

export function layerBlock(l: LayerResult): string {
  const head =
    `${l.id} ${l.name}  ${l.op} [${l.inputShape}] * [${l.weightShape}] -> [${l.outputShape}]  ` +
    `stride ${l.stride} pad ${l.padding} dil ${l.dilation} groups ${l.groups}  ${(l.flops / 1e6).toFixed(1)} MFLOP` +
    (l.auto ? `  (fastconv auto: ${l.auto})` : '');
  // IQR/median: how much the machine moved under this implementation (quote medians, judge by spread).
  const rows: string[][] = [['implementation', 'GFLOP/s', 'median ms', 'IQR', 'runs x calls', 'check']];
  const shown = l.impls.filter((r) => r.status !== 'n/a');
  for (const r of shown) {
    if (r.status === 'error') {
      rows.push([r.id, '-', '-', '-', '-', `error: ${r.reason}`]);
      continue;
    }
    const t = r.timing;
    const iqr = t && t.runs >= 4 ? `${Math.round((100 * (t.p75Ms - t.p25Ms)) / t.medianMs)}%` : '-';
    rows.push([
      r.id,
      fmtG(r.gflops),
      t ? t.medianMs.toFixed(3) : '-',
      iqr,
      t ? `${t.runs} x ${t.reps}${t.pruned ? ' warm-up' : ''}` : '-',
      checkCell(r),
    ]);
  }
  const na = l.impls.filter((r) => r.status === 'n/a');
  // Grouped by reason, thread counts folded: "fastconv-native/fft (1t, 2t): not implemented".
  const byReason = new Map<string, Map<string, string[]>>();
  for (const r of na) {
    const why = (r.reason ?? '').replace(/^algorithm '\w+' cannot run this convolution on the \w+ backend: /, '');
    const ids = byReason.get(why) ?? new Map<string, string[]>();
    const base = r.id.replace(/\/(\d+t)$/, '');
    ids.set(base, [...(ids.get(base) ?? []), r.id.slice(base.length + 1)]);
    byReason.set(why, ids);
  }
  const naLine = [...byReason]
    .map(([why, ids]) => `\n  n/a: ${[...ids].map(([id, ts]) => `${id} (${ts.join(', ')})`).join(', ')}: ${why}`)
    .join('');
  return `${head}\n${table(rows, (c) => c >= 1 && c <= 4).replace(/^/gm, '  ')}${naLine}\n`;
}

/** Layers x (fastconv best per thread count, each peer, each ratio), geometric means last. */
export function summary(run: Pick<RunResult, 'layers' | 'ratios' | 'threads' | 'arena'>): string {
  const peers = run.ratios.map((r) => r.peer);
  const header = ['layer', 'auto', ...run.threads.map((t) => `fastconv ${t}t`), ...peers, ...peers.map((p) => `x ${p}`)];
  const rows: string[][] = [header];
  for (const l of run.layers) {
    // '!' marks an automatic choice that was not the fastest measured algorithm at 1 thread.
    const best1 = bestFastconv(l, run.threads[0], run.arena);
    const row = [`${l.id} ${l.name}`, l.auto ? `${l.auto}${best1 && best1.algorithm !== l.auto ? '!' : ''}` : '-'];
    for (const t of run.threads) {
      const b = bestFastconv(l, t, run.arena);
      row.push(b ? `${fmtG(b.gflops)} ${b.algorithm}` : '-');
    }
    for (const p of peers) {
      const r = l.impls.find((x) => x.id === p);
      row.push(r?.gflops ? fmtG(r.gflops) + (r.status === 'mismatch' ? '!' : '') : '-');
    }
    for (const rs of run.ratios) {
      const x = rs.perLayer.find((pl) => pl.layer === l.id);
      row.push(x ? `${x.ratio.toFixed(2)}x` : '-');
    }
    rows.push(row);
  }
  rows.push([
    'geomean',
    '',
    ...run.threads.map(() => ''),
    ...peers.map(() => ''),
    ...run.ratios.map((r: RatioSummary) => (r.geomean ? `${r.geomean.toFixed(2)}x` : '-')),
  ]);
  return (
    `GFLOP/s (fastconv = best algorithm at that thread count; "x peer" = fastconv(best, same threads) / peer;\n` +
    `auto = fastconv's automatic choice, "!" where it was not the fastest at ${run.threads[0]} thread(s))\n` +
    table(rows, (c) => c >= 2) +
    '\n'
  );
}

export function bennyTable(rows: BennyRow[]): string {
  if (!rows.length) return '';
  const backends = [...new Set(rows.map((r) => r.backend))];
  const layers = [...new Set(rows.map((r) => r.layer))];
  const out: string[][] = [['layer', ...backends.map((b) => `${b} GFLOP/s`)]];
  for (const l of layers) {
    out.push([
      l,
      ...backends.map((b) => {
        const r = rows.find((x) => x.layer === l && x.backend === b);
        return r ? `${fmtG(r.gflops)} ±${r.margin.toFixed(0)}%` : '-';
      }),
    ]);
  }
  return `fastconv backends with benny (automatic algorithm, default threads)\n${table(out, (c) => c >= 1)}\n`;
}
