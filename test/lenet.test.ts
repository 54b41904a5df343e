// End-to-end proof that the gradients are right: the example's LeNet, trained for a few hundred steps on
// real MNIST digits with fastconv's convolutions and pooling, must learn (loss falls, test accuracy > 85 %).

import { describe, expect, it } from 'vitest';
import { Adam } from '../bench/lenet-mnist/adam.js';
import { loadMnist } from '../bench/lenet-mnist/data.js';
import { LeNet } from '../bench/lenet-mnist/model.js';
import { evaluate, trainSteps } from '../bench/lenet-mnist/trainer.js';

describe('LeNet on MNIST', () => {
  it('learns: loss falls and test accuracy passes 85 % after 300 steps', () => {
    const { train, test } = loadMnist(8000, 2000);
    const model = new LeNet(1);
    const opt = new Adam(model.parameters(), 2e-3);
    const before = evaluate(model, test);
    const losses = trainSteps(model, opt, train, { batchSize: 32, steps: 300, seed: 7 });
    const after = evaluate(model, test);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-50))).toBeLessThan(0.5 * mean(losses.slice(0, 20)));
    expect(after.loss).toBeLessThan(before.loss);
    expect(after.accuracy).toBeGreaterThan(0.85);
  }, 90_000);
});
