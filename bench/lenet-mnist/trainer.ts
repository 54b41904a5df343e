// The training loop shared by the example (train.ts) and the test (test/lenet.test.ts).

import type { Adam } from './adam.js';
import type { Dataset } from './data.js';
import { batch, permutation, randomShift } from './data.js';
import type { LeNet } from './model.js';
import { predictions, softmaxCrossEntropy } from './model.js';

export interface TrainOptions {
  batchSize: number;
  steps: number;
  /** Seeds the sample order and the augmentation. */
  seed: number;
  /** Random translation of each training image by up to this many pixels (0: none). */
  shift?: number;
  onStep?: (step: number, loss: number) => void;
}

/** `steps` updates on batches of a seeded permutation; returns each batch's loss. */
export function trainSteps(model: LeNet, opt: Adam, data: Dataset, o: TrainOptions): number[] {
  const order = permutation(data.count, o.seed);
  let state = (o.seed * 2654435761) >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
  const losses: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const from = (s * o.batchSize) % data.count;
    const b = batch(data, order, from, o.batchSize);
    const y = b.y,
      x = o.shift ? randomShift(b.x, y.length, o.shift, random) : b.x;
    const logits = model.forward(x, y.length);
    const { loss, grad } = softmaxCrossEntropy(logits, y, y.length);
    model.backward(grad);
    opt.step();
    losses.push(loss);
    o.onStep?.(s, loss);
  }
  return losses;
}

/** Accuracy (0..1) and mean loss on a dataset, in batches of `batchSize`. */
export function evaluate(model: LeNet, data: Dataset, batchSize = 250): { accuracy: number; loss: number } {
  const order = Uint32Array.from({ length: data.count }, (_, i) => i);
  let correct = 0,
    loss = 0;
  for (let from = 0; from < data.count; from += batchSize) {
    const { x, y } = batch(data, order, from, batchSize);
    const logits = model.forward(x, y.length);
    loss += softmaxCrossEntropy(logits, y, y.length).loss * y.length;
    const p = predictions(logits, y.length);
    for (let i = 0; i < y.length; i++) if (p[i] === y[i]) correct++;
  }
  return { accuracy: correct / data.count, loss: loss / data.count };
}
