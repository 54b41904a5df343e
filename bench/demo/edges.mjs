// The demo's image processing, shared by the page and the tests that check its canvases: grayscale,
// one conv2d call with four 3x3 filters (1 input channel -> 4 feature maps), and the mapping of each
// feature map to bytes.

/** The four output channels of the single conv2d call. */
export const FILTERS = [
  { name: 'vertical edges', kind: 'edge', taps: [-1, 0, 1, -2, 0, 2, -1, 0, 1] }, // Sobel x
  { name: 'horizontal edges', kind: 'edge', taps: [-1, -2, -1, 0, 0, 0, 1, 2, 1] }, // Sobel y
  { name: 'diagonal edges', kind: 'edge', taps: [0, 1, 2, -1, 0, 1, -2, -1, 0] }, // Sobel at 45 degrees
  { name: 'blur', kind: 'blur', taps: [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16) }, // binomial 3x3
];

/** Weight tensor [4, 1, 3, 3]. */
export function filterWeight() {
  return { data: Float32Array.from(FILTERS.flatMap((f) => f.taps)), shape: [FILTERS.length, 1, 3, 3] };
}

/** ITU-R BT.601 luma of RGBA pixels, in [0, 1]. */
export function grayscale(rgba, width, height) {
  const g = new Float32Array(width * height);
  for (let i = 0; i < g.length; i++) {
    g[i] = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
  }
  return g;
}

/** The feature maps [1, 4, H, W] ('same' padding keeps the image size). `conv2d` is fastconv's. */
export function featureMaps(conv2d, gray, width, height, options = {}) {
  return conv2d({ data: gray, shape: [1, 1, height, width] }, filterWeight(), { padding: 'same', ...options });
}

/**
 * One feature map as RGBA bytes. Edge maps show |response| scaled so the strongest edge is white
 * (the sign only says which side is brighter); the blur is already an intensity in [0, 1].
 */
export function mapToRgba(map, kind) {
  let scale = 255;
  if (kind === 'edge') {
    let peak = 0;
    for (let i = 0; i < map.length; i++) peak = Math.max(peak, Math.abs(map[i]));
    scale = peak > 0 ? 255 / peak : 0;
  }
  const px = new Uint8ClampedArray(map.length * 4);
  for (let i = 0; i < map.length; i++) {
    const v = Math.round((kind === 'edge' ? Math.abs(map[i]) : map[i]) * scale);
    px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = v;
    px[4 * i + 3] = 255;
  }
  return px;
}
