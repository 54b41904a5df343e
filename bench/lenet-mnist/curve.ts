// The training curve as a standalone SVG: loss (train and test, left axis) and test accuracy (right axis)
// per epoch, so the README can show it without a plotting dependency.

export interface EpochStats {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  testAccuracy: number;
  seconds: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function curveSvg(history: EpochStats[], title: string): string {
  const W = 640,
    H = 360,
    left = 60,
    right = 60,
    top = 40,
    bottom = 50;
  const plotW = W - left - right,
    plotH = H - top - bottom;
  const n = history.length;
  const x = (epoch: number) => left + (n <= 1 ? plotW / 2 : ((epoch - 1) / (n - 1)) * plotW);
  const maxLoss = Math.max(...history.flatMap((h) => [h.trainLoss, h.testLoss]), 1e-3);
  const yLoss = (v: number) => top + plotH - (v / maxLoss) * plotH;
  // Accuracy axis from 90 % (or lower if needed) to 100 %: the interesting part of the curve.
  const accLo = Math.min(0.9, Math.floor(Math.min(...history.map((h) => h.testAccuracy)) * 20) / 20);
  const yAcc = (v: number) => top + plotH - ((v - accLo) / (1 - accLo)) * plotH;
  const line = (pts: [number, number][], colour: string, dash = '') =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>` +
    pts.map(([a, b]) => `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${colour}"/>`).join('');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (maxLoss * i) / 4,
      a = accLo + ((1 - accLo) * i) / 4,
      yy = yLoss(v);
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${yy + 4}" text-anchor="end">${v.toFixed(2)}</text>`,
      `<text x="${left + plotW + 6}" y="${yy + 4}">${(a * 100).toFixed(1)} %</text>`
    );
  }
  for (const h of history) parts.push(`<text x="${x(h.epoch)}" y="${top + plotH + 16}" text-anchor="middle">${h.epoch}</text>`);
  parts.push(
    `<text x="${left + plotW / 2}" y="${H - 12}" text-anchor="middle">epoch</text>`,
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">cross-entropy loss</text>`,
    `<text transform="translate(${W - 12} ${top + plotH / 2}) rotate(90)" text-anchor="middle">test accuracy</text>`
  );
  parts.push(
    line(
      history.map((h) => [x(h.epoch), yLoss(h.trainLoss)]),
      '#0072B2'
    ),
    line(
      history.map((h) => [x(h.epoch), yLoss(h.testLoss)]),
      '#56B4E9',
      '5 3'
    ),
    line(
      history.map((h) => [x(h.epoch), yAcc(h.testAccuracy)]),
      '#D55E00'
    )
  );
  const legend: [string, string][] = [
    ['train loss', '#0072B2'],
    ['test loss', '#56B4E9'],
    ['test accuracy', '#D55E00'],
  ];
  legend.forEach(([label, colour], i) => {
    const lx = left + 10 + i * 130;
    parts.push(
      `<rect x="${lx}" y="${top + 8}" width="12" height="12" fill="${colour}"/>`,
      `<text x="${lx + 16}" y="${top + 18}">${label}</text>`
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
