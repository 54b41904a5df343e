// The bundled sample image, drawn procedurally at load time (no image file ships with the package):
// a gradient sky, a checkerboard, discs, a rotated square, a triangle and "FASTCONV" in a 5x7 bitmap
// font. Pure arithmetic on pixels, so Node reproduces the page's image bit for bit (the tests rely on it).

// 5x7 glyphs, one string per row, '#' = ink. Only the letters the banner needs.
const GLYPHS = {
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  N: ['#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#', '#...#'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
};

export const SAMPLE_WIDTH = 320;
export const SAMPLE_HEIGHT = 240;

/** RGBA pixels (ImageData layout) of the sample image. */
export function sampleImage(width = SAMPLE_WIDTH, height = SAMPLE_HEIGHT) {
  const px = new Uint8ClampedArray(width * height * 4);
  const put = (x, y, r, g, b) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = 4 * (y * width + x);
    px[i] = r;
    px[i + 1] = g;
    px[i + 2] = b;
    px[i + 3] = 255;
  };
  const u = (v) => Math.round(v * width),
    w = (v) => Math.round(v * height);

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = y / height;
      // Smooth gradient above, a checkerboard floor below: flat regions and sharp edges side by side.
      if (y < height * 0.62) put(x, y, 40 + 120 * t, 70 + 110 * t, 160 + 80 * t);
      else put(x, y, ((x >> 4) + (y >> 4)) & 1 ? 200 : 60, 170, 90);
    }
  }
  const disc = (cx, cy, r, rgb) => {
    for (let y = Math.floor(cy - r); y <= cy + r; y++) {
      for (let x = Math.floor(cx - r); x <= cx + r; x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) put(x, y, ...rgb);
      }
    }
  };
  disc(u(0.88), w(0.32), w(0.11), [250, 220, 90]);
  disc(u(0.2), w(0.72), w(0.13), [230, 80, 70]);
  disc(u(0.2), w(0.72), w(0.06), [30, 30, 40]);

  // A square rotated by 30 degrees: edges at angles the vertical/horizontal kernels only half see.
  const cx = u(0.55),
    cy = w(0.72),
    half = w(0.12),
    c = Math.cos(Math.PI / 6),
    s = Math.sin(Math.PI / 6);
  for (let y = cy - 2 * half; y <= cy + 2 * half; y++) {
    for (let x = cx - 2 * half; x <= cx + 2 * half; x++) {
      const rx = (x - cx) * c + (y - cy) * s,
        ry = -(x - cx) * s + (y - cy) * c;
      if (Math.abs(rx) <= half && Math.abs(ry) <= half) put(x, y, 240, 240, 250);
    }
  }
  // A triangle with a 45-degree side, the diagonal kernel's favourite.
  const tx = u(0.78),
    ty = w(0.9),
    side = w(0.25);
  for (let y = 0; y < side; y++) for (let x = 0; x <= y; x++) put(tx + x, ty - side + y, 120, 60, 200);

  // The banner: each font pixel becomes a `scale` x `scale` block.
  const text = 'FASTCONV',
    scale = Math.max(2, Math.floor(width / 80));
  const x0 = Math.round((width - text.length * 6 * scale) / 2),
    y0 = w(0.08);
  [...text].forEach((ch, k) => {
    GLYPHS[ch].forEach((row, gy) => {
      [...row].forEach((cell, gx) => {
        if (cell !== '#') return;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) put(x0 + (k * 6 + gx) * scale + dx, y0 + gy * scale + dy, 255, 255, 255);
        }
      });
    });
  });
  return px;
}
