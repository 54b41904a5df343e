// Issue 2's bench: each available fastconv backend on each layer with benny (benchmark.js),
// the automatic algorithm and the default thread count. Independent of the interleaved timer.
import type { Arena, FastconvApi } from './fastconv.js';
import { autoCall } from './fastconv.js';
import type { Progress } from './progress.js';
import type { Layer, LayerData } from './suite.js';

export interface BennyRow {
  layer: string;
  backend: Arena;
  gflops: number;
  ops: number;
  samples: number;
  margin: number;
}

export async function bennyPass(
  api: FastconvApi,
  layers: Layer[],
  data: Map<string, LayerData>,
  arenas: (l: Layer) => Arena[],
  quick: boolean,
  progress: Progress,
  step: { done: number }
): Promise<BennyRow[] | string> {
  // A devDependency: an installed copy of fastconv (npx fastconv bench) may not have it.
  let b: typeof import('benny');
  try {
    b = await import('benny');
  } catch {
    return 'benny is not installed (it is a devDependency); skipping the benny pass';
  }
  const rows: BennyRow[] = [];
  const opts = quick ? { minSamples: 2, maxTime: 0.05, delay: 0 } : { minSamples: 5, maxTime: 0.4, delay: 0 };
  for (const l of layers) {
    progress.update(step.done, 0, `benny ${l.id} ${l.name}`);
    const d = data.get(l.id);
    if (!d) throw new Error(`benny pass: no data prepared for ${l.id}`);
    const cases = arenas(l).map((arena) => b.add(arena, autoCall(api, arena, l, d), opts));
    if (!cases.length) {
      step.done++;
      continue;
    }
    // benny prints "Running ... suite" on stdout unasked; stdout belongs to the table and --json.
    const log = console.log;
    console.log = () => undefined;
    let summary: Awaited<ReturnType<typeof b.suite>>;
    try {
      summary = await b.suite(
        `${l.id} ${l.name}`,
        ...cases,
        b.cycle(() => undefined),
        b.complete(() => undefined)
      );
    } finally {
      console.log = log;
    }
    for (const r of summary.results) {
      rows.push({
        layer: l.id,
        backend: r.name as Arena,
        gflops: (l.flops * r.ops) / 1e9,
        ops: r.ops,
        samples: r.samples,
        margin: r.margin,
      });
    }
    step.done++;
  }
  return rows;
}
