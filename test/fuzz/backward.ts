// One backward fuzz case: conv1dBackward/conv2dBackward on every target, with each algorithm the target
// has requested for the derived convolutions, against the float64 gradient oracles.
// Finite data only: the gradients are sums over different index sets than the forward pass (grad-weight
// correlates x with gy), and which of them a NaN reaches is not part of any contract yet; NaN/Inf
// propagation is fuzzed on the forward pass, where the reference defines it.

import type { BackwardOptions, Gradients, Tensor } from '../../src/index.node.js';
import { conv1dBackward, conv1dBackwardAsync, conv2dBackward, conv2dBackwardAsync, outputShape } from '../../src/index.node.js';
import { channelsLastToFirst } from '../../src/layout.js';
import { convGradBiasReference, convGradInputReference, convGradWeightReference } from '../../src/reference/backward.js';
import { normalizeConv } from '../../src/shape.js';
import { Rng } from '../random.js';
import { compare, describeParams, TOLERANCE } from '../tester.js';
import type { FuzzCase } from './case.js';
import { buildCall, describeCase } from './case.js';
import { normwiseSlack, subnormalSlack, transformOperandSlack } from './check.js';
import type { ValueKind } from './data.js';
import { hashBacking } from './data.js';
import type { Target } from './targets.js';

const finite = (k: ValueKind): ValueKind => (k === 'special' || k === 'overflow' ? 'normal' : k);

type Runner = (x: Tensor, w: Tensor, gy: Tensor, o: BackwardOptions) => Gradients | Promise<Gradients>;
const RUNNERS: Record<'1' | '2', { sync: Runner; async: Runner }> = {
  1: { sync: conv1dBackward, async: conv1dBackwardAsync },
  2: { sync: conv2dBackward, async: conv2dBackwardAsync },
};

/** Normwise slack for a whole gradient tensor: frac x its largest S. */
function slackOf(scale: Float64Array, frac: number): Float64Array {
  let m = 0;
  for (const s of scale) if (Number.isFinite(s)) m = Math.max(m, s);
  return new Float64Array(scale.length).fill(frac * m);
}

export async function checkBackwardCase(c0: FuzzCase, targets: readonly Target[]): Promise<number> {
  const c: FuzzCase = { ...c0, xKind: finite(c0.xKind), wKind: finite(c0.wKind), bKind: finite(c0.bKind) };
  const { input, weight, options } = buildCall(c);
  const n = normalizeConv(c.dims, input, weight, options);
  const p = n.params;
  const yShape = outputShape(input.shape, weight.shape, options);
  const rng = new Rng(c.dataSeed ^ 0x5bd1e995);
  const gy = new Float32Array(yShape.reduce((a, b) => a * b, 1)).map(() => rng.next() * 2 - 1);
  const gradOutput = { data: gy, shape: yShape };

  const P = p.OH * p.OW;
  const x = c.channelsLast ? channelsLastToFirst(input.data, p.N, p.H * p.W, p.C) : input.data;
  const gyFirst = c.channelsLast ? channelsLastToFirst(gy, p.N, P, p.K) : gy;
  const refs = {
    input: [convGradInputReference(p, gyFirst, weight.data), convGradInputReference(p, gyFirst, weight.data, true)],
    weight: [convGradWeightReference(p, x, gyFirst), convGradWeightReference(p, x, gyFirst, true)],
    bias: [convGradBiasReference(p, gyFirst), convGradBiasReference(p, gyFirst, true)],
  };
  const before = [input.data, weight.data, n.bias, gy].map(hashBacking).join();
  const run = RUNNERS[c.dims][c.async ? 'async' : 'sync'];
  let runs = 0;

  for (const t of targets) {
    t.path.enter();
    for (const algo of t.algorithms) {
      const label = `backward ${t.label}/${algo}${c.async ? ' (async)' : ''}`;
      const where = () => `${describeParams(p)} layout ${options.layout}\ncase ${describeCase(c)}`;
      const g = await run(input, weight, gradOutput, { ...options, backend: t.choice, algorithm: algo });
      runs++;
      const gx = g.gradInput && c.channelsLast ? channelsLastToFirst(g.gradInput.data, p.N, p.H * p.W, p.C) : g.gradInput?.data;
      const got = { input: gx, weight: g.gradWeight?.data, bias: g.gradBias };
      for (const which of ['input', 'weight', 'bias'] as const) {
        if (which === 'bias' && !n.bias) continue;
        const [want, scale] = refs[which];
        const have = got[which];
        if (!have) throw new Error(`${label}: no grad ${which}\n${where()}`);
        const slack = slackOf(scale, normwiseSlack(c, algo));
        // Each gradient is a convolution of two of x, w, gy over at most this many terms.
        const terms = p.N * p.OH * p.OW * p.K * p.R * p.S;
        const operands = which === 'input' ? [gy, weight.data] : [input.data, gy];
        const tiny =
          subnormalSlack(c, algo, input.data, weight.data, terms) + transformOperandSlack(algo, operands[0], operands[1], terms);
        if (tiny > 0) for (let i = 0; i < slack.length; i++) slack[i] += tiny;
        const cmp = compare(have, want, scale, TOLERANCE[algo], slack);
        if (!cmp.ok) {
          const m = cmp.mismatches
            .slice(0, 4)
            .map((e) => `  [${e.index}] got ${e.got} want ${e.want} (S=${e.scale})`)
            .join('\n');
          throw new Error(`${label}: grad ${which}: ${cmp.mismatches.length} of ${cmp.checked} wrong\n${m}\n${where()}`);
        }
      }
      if ([input.data, weight.data, n.bias, gy].map(hashBacking).join() !== before) {
        throw new Error(`${label}: modified input, weight, bias or gradOutput\n${where()}`);
      }
    }
  }
  return runs;
}
