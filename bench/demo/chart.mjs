// GFLOP/s bars as an SVG string: one row per layer, so twelve long layer names stay readable.

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

export function barChart(results, { width = 640, row = 22, label = 170, title = 'GFLOP/s' } = {}) {
  const top = 26,
    height = top + row * results.length + 8;
  const peak = Math.max(1e-9, ...results.map((r) => r.gflops));
  const span = width - label - 70;
  const bars = results
    .map((r, i) => {
      const y = top + i * row,
        w = Math.max(1, (r.gflops / peak) * span);
      return (
        `<text x="${label - 6}" y="${y + row * 0.68}" text-anchor="end">${esc(`${r.id} ${r.name}`)}</text>` +
        `<rect x="${label}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 6}" fill="#3b7dd8"><title>${esc(`${r.ms.toFixed(3)} ms, ${r.algorithm ?? ''}`)}</title></rect>` +
        `<text x="${(label + w + 4).toFixed(1)}" y="${y + row * 0.68}">${r.gflops.toFixed(1)}</text>`
      );
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12">` +
    `<text x="4" y="16" font-weight="bold">${esc(title)}</text>${bars}</svg>`
  );
}
