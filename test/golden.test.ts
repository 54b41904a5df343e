// PyTorch's own answers (test/golden, loaded by test/golden.ts): every forward case on every
// backend x ISA path x applicable algorithm, NaN/Inf positions exact, and through the public API in
// both layouts.

import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import { conv1d, conv2d, explain } from '../src/index.node.js';
import { channelsFirstToLast, channelsLastToFirst } from '../src/layout.js';
import { normalizeConv } from '../src/shape.js';
import { loadGolden } from './golden.js';
import { allPaths, backendTestName, restoreNativeIsa, skipsBackend } from './paths.js';
import { compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, TOLERANCE } from './tester.js';

const cases = loadGolden().filter((c) => c.op === 'conv1d' || c.op === 'conv2d');

afterAll(restoreNativeIsa);

describe('golden set', () => {
  it('is loaded (57 forward cases or more)', () => {
    expect(cases.length).toBeGreaterThanOrEqual(57);
    expect(cases.some((c) => c.output.some(Number.isNaN))).toBe(true);
    expect(cases.some((c) => c.output.some((v) => v === Infinity || v === -Infinity))).toBe(true);
  });
});

for (const path of allPaths()) {
  describe(`golden on ${path.label}`, () => {
    for (const algo of path.backend.algorithms) {
      it(`${algo}: every applicable forward case`, () => {
        path.enter();
        let ran = 0;
        for (const g of cases) {
          const n = normalizeConv(g.dims, g.input, g.weight, { ...g.options, bias: g.bias });
          if (path.backend.supports(n.params, algo) !== null) continue;
          const out = new Float32Array(g.output.length).fill(-7.5e33);
          path.backend.conv2d(n.params, g.input.data, g.weight.data, n.bias, out, algo);
          const S = convReference(n.params, g.input.data, g.weight.data, n.bias, true);
          const c = compare(
            out,
            g.output,
            S,
            TOLERANCE[algo],
            planeSlack(S, n.params.OH * n.params.OW, NORMWISE_TOLERANCE[algo])
          );
          if (!c.ok) expect.fail(formatFailure(`${path.label}/${algo} golden ${g.name}`, n.params, c));
          ran++;
        }
        expect(ran).toBeGreaterThan(0);
      });
    }
  });
}

describe('golden through the public API', () => {
  const backends = ['auto', 'native', 'wasm-simd', 'wasm-scalar', 'js'] as const;
  for (const backend of backends) {
    it.skipIf(skipsBackend(backend))(backendTestName(backend, `backend '${backend}', NCHW and channels-last`), () => {
      for (const g of cases) {
        const conv = g.dims === 2 ? conv2d : conv1d;
        const opts = { ...g.options, bias: g.bias, backend };
        const y = conv(g.input, g.weight, opts);
        expect(y.shape).toEqual(g.outputShape);
        const n = normalizeConv(g.dims, g.input, g.weight, opts);
        const S = convReference(n.params, g.input.data, g.weight.data, n.bias, true);
        const algo = explain(g.input, g.weight, opts).algorithm;
        const tol = TOLERANCE[algo];
        const slack = planeSlack(S, n.params.OH * n.params.OW, NORMWISE_TOLERANCE[algo]);
        const c = compare(y.data, g.output, S, tol, slack);
        if (!c.ok) expect.fail(formatFailure(`${backend} golden ${g.name} NCHW`, n.params, c));

        // Same case in channels-last: transpose in, convolve, transpose back.
        const [N, C] = g.input.shape;
        const P = g.input.data.length / (N * C);
        const xl = channelsFirstToLast(g.input.data, N, C, P);
        const shapeL = [N, ...g.input.shape.slice(2), C];
        const yl = conv({ data: xl, shape: shapeL }, g.weight, { ...opts, layout: g.dims === 2 ? 'NHWC' : 'NWC' });
        const K = g.outputShape[1];
        const OP = g.output.length / (N * K);
        expect(yl.shape).toEqual([N, ...g.outputShape.slice(2), K]);
        const back = channelsLastToFirst(yl.data, N, OP, K);
        const cl = compare(back, g.output, S, tol, slack);
        if (!cl.ok) expect.fail(formatFailure(`${backend} golden ${g.name} channels-last`, n.params, cl));
      }
    });
  }
});
