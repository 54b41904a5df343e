// Trains LeNet-5 on 8,000 real MNIST digits and tests on 2,000 others, with fastconv doing every
// convolution and pooling (forward and backward). Prints a progress bar per epoch, the wall time and the
// share of it spent in fastconv, and writes the loss/accuracy curve as SVG (plus the numbers as JSON).
//
//   npm run build && node dist/bench/lenet-mnist/train.js [--epochs 15] [--batch 32] [--lr 0.002]
//        [--decay 0.82] [--shift 2] [--backend auto|native|wasm|js] [--seed 1] [--out lenet-mnist-out]

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BackendChoice } from '../../src/index.node.js';
import { explain } from '../../src/index.node.js';
import { Progress } from '../progress.js';
import { Adam } from './adam.js';
import type { EpochStats } from './curve.js';
import { curveSvg } from './curve.js';
import { loadMnist } from './data.js';
import { LeNet } from './model.js';
import { evaluate, trainSteps } from './trainer.js';

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '15' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '0.002' },
    decay: { type: 'string', default: '0.82' },
    shift: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'auto' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const epochs = Number(args.epochs),
  batchSize = Number(args.batch),
  lr = Number(args.lr),
  seed = Number(args.seed);
const decay = Number(args.decay),
  shift = Number(args.shift);
// Into the working directory, like any command-line tool: bench/lenet-mnist/results/ holds the committed
// run the README shows, which an ordinary run must not overwrite (pass --out to refresh it on purpose).
const outDir = resolve(args.out ?? 'lenet-mnist-out');

const t0 = performance.now();
const { train, test } = loadMnist(8000, 2000);
const backend = args.backend as BackendChoice;
const model = new LeNet(seed, backend);
// What the first convolution runs on: the backend (and ISA, threads) behind this run's numbers.
const info = explain({ data: new Float32Array(batchSize * 784), shape: [batchSize, 1, 28, 28] }, model.conv1.weight, {
  padding: 2,
  backend,
});
console.log(
  `LeNet-5 on MNIST: ${train.count} train / ${test.count} test, batch ${batchSize}, Adam lr ${lr} x ${decay}/epoch, ` +
    `shifts <= ${shift} px, backend ${backend}: ${info.backend} (${info.isa}, ${info.threads} thread(s))`
);

const opt = new Adam(model.parameters(), lr);
const stepsPerEpoch = Math.ceil(train.count / batchSize);
const history: EpochStats[] = [];
const progress = new Progress(stepsPerEpoch);
const tTrain = performance.now();
let trainMs = 0;
for (let epoch = 1; epoch <= epochs; epoch++) {
  const te = performance.now();
  // Step decay: large steps while far from a minimum, small ones to settle into it.
  opt.lr = lr * decay ** (epoch - 1);
  let sum = 0;
  const losses = trainSteps(model, opt, train, {
    batchSize,
    steps: stepsPerEpoch,
    seed: seed * 1000 + epoch,
    shift,
    onStep: (s, loss) => {
      sum += loss;
      if (s % 10 === 0 || s === stepsPerEpoch - 1)
        progress.update(s + 1, 0, `epoch ${epoch}/${epochs}`, `loss ${(sum / (s + 1)).toFixed(4)}`);
    },
  });
  trainMs += performance.now() - te;
  progress.done();
  const ev = evaluate(model, test);
  const trainLoss = losses.reduce((a, b) => a + b, 0) / losses.length;
  history.push({ epoch, trainLoss, testLoss: ev.loss, testAccuracy: ev.accuracy, seconds: (performance.now() - te) / 1000 });
  console.log(
    `epoch ${String(epoch).padStart(2)}  train loss ${trainLoss.toFixed(4)}  test loss ${ev.loss.toFixed(4)}  ` +
      `test accuracy ${(ev.accuracy * 100).toFixed(2)} %  (${((performance.now() - te) / 1000).toFixed(1)} s)`
  );
}
const wallMs = performance.now() - t0;
const loopMs = performance.now() - tTrain;
const final = history[history.length - 1];
const share = model.fastconvMs / loopMs;
console.log(`\nfinal test accuracy ${(final.testAccuracy * 100).toFixed(2)} % (target >= 97 %)`);
console.log(
  `wall time ${(wallMs / 1000).toFixed(1)} s (data loading ${((tTrain - t0) / 1000).toFixed(1)} s, training ${(trainMs / 1000).toFixed(1)} s, ` +
    `evaluation ${((loopMs - trainMs) / 1000).toFixed(1)} s)`
);
console.log(
  `time in fastconv calls (conv + pool, forward + backward): ${(model.fastconvMs / 1000).toFixed(1)} s = ` +
    `${(share * 100).toFixed(1)} % of training + evaluation; the rest is the plain-TS dense layers, loss and Adam`
);

mkdirSync(outDir, { recursive: true });
const title = `LeNet-5 on MNIST (fastconv ${info.backend}/${info.isa}): ${(final.testAccuracy * 100).toFixed(2)} % test accuracy`;
writeFileSync(join(outDir, 'curve.svg'), curveSvg(history, title));
writeFileSync(
  join(outDir, 'results.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      backend: { requested: backend, used: info.backend, isa: info.isa, threads: info.threads },
      epochs,
      batchSize,
      lr,
      decay,
      shift,
      seed,
      wallSeconds: wallMs / 1000,
      fastconvSeconds: model.fastconvMs / 1000,
      fastconvShare: share,
      history,
    },
    null,
    2
  )
);
console.log(`wrote ${join(outDir, 'curve.svg')} and results.json`);
