// A grouped bar chart (layers x implementations, GFLOP/s on a log axis) as a standalone SVG, so the
// README can embed bench/results/latest.svg without a plotting dependency.
import type { RunResult } from './results.js';
import { bestFastconv } from './results.js';

interface Series {
  label: string;
  values: (number | null)[];
}

// Colour-blind-safe palette (Okabe-Ito); fastconv series first.
const COLOURS = ['#0072B2', '#56B4E9', '#D55E00', '#E69F00', '#009E73', '#CC79A7', '#F0E442', '#000000', '#999999'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chartSeries(run: Pick<RunResult, 'layers' | 'threads' | 'arena'>): Series[] {
  const series: Series[] = run.threads.map((t) => ({
    label: `fastconv-${run.arena} best, ${t}t`,
    values: run.layers.map((l) => bestFastconv(l, t, run.arena)?.gflops ?? null),
  }));
  const peers = [...new Set(run.layers.flatMap((l) => l.impls.filter((r) => r.family === 'peer').map((r) => r.id)))];
  for (const p of peers) {
    series.push({
      label: p,
      values: run.layers.map((l) => {
        const r = l.impls.find((x) => x.id === p);
        return r?.status === 'ok' && r.gflops ? r.gflops : null;
      }),
    });
  }
  return series;
}

export function barChart(run: Pick<RunResult, 'layers' | 'threads' | 'arena' | 'date' | 'machine'>): string {
  const series = chartSeries(run);
  const layers = run.layers;
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== null && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, 10)));
  const barW = 9,
    gap = 14,
    left = 60,
    top = 40,
    plotH = 320,
    legendH = 18 * Math.ceil(series.length / 3) + 10;
  const groupW = series.length * barW + gap;
  const width = Math.max(640, left + layers.length * groupW + 20);
  const nameH = 60;
  const height = top + plotH + nameH + 30 + legendH;
  const y = (v: number) => top + plotH - (Math.log10(v / lo) / Math.log10(hi / lo)) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`
  );
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${esc(`fastconv (${run.arena}) vs peers: GFLOP/s per layer, fp32, batch 1 (log scale)`)}</text>`
  );
  parts.push(
    `<text x="${left}" y="34" fill="#555">${esc(`${run.date}, ${run.machine.cpuModel}, ${run.machine.cpus} vCPU, Node ${run.machine.node}`)}</text>`
  );
  // Decade gridlines with 2x and 5x minor lines.
  for (let d = lo; d <= hi; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > hi) break;
      const yy = y(v).toFixed(1);
      parts.push(`<line x1="${left}" x2="${width - 10}" y1="${yy}" y2="${yy}" stroke="${m === 1 ? '#bbb' : '#eee'}"/>`);
      if (m === 1 || hi / lo <= 1000)
        parts.push(`<text x="${left - 6}" y="${(+yy + 4).toFixed(1)}" text-anchor="end" fill="#333">${v}</text>`);
    }
  }
  parts.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">GFLOP/s</text>`);
  layers.forEach((l, i) => {
    const gx = left + gap / 2 + i * groupW;
    series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v <= 0) return;
      const yy = y(Math.max(v, lo));
      parts.push(
        `<rect x="${gx + j * barW}" y="${yy.toFixed(1)}" width="${barW - 1}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLOURS[j % COLOURS.length]}"><title>${esc(`${l.id} ${s.label}: ${v.toFixed(1)} GFLOP/s`)}</title></rect>`
      );
    });
    parts.push(`<text x="${gx + (series.length * barW) / 2}" y="${top + plotH + 14}" text-anchor="middle">${esc(l.id)}</text>`);
    // Names are wider than a group: slanted, they do not collide.
    const cx = gx + (series.length * barW) / 2,
      ny = top + plotH + 26;
    parts.push(
      `<text transform="translate(${cx} ${ny}) rotate(-30)" text-anchor="end" font-size="9" fill="#555">${esc(l.name)}</text>`
    );
  });
  parts.push(`<line x1="${left}" x2="${width - 10}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  series.forEach((s, j) => {
    const lx = left + (j % 3) * 210,
      ly = top + plotH + nameH + 26 + Math.floor(j / 3) * 18;
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLOURS[j % COLOURS.length]}"/><text x="${lx + 14}" y="${ly}">${esc(s.label)}</text>`
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
