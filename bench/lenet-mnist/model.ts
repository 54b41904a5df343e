// LeNet-5 for 28x28 digits: conv 5x5 (pad 2) -> ReLU -> maxpool 2 -> conv 5x5 -> ReLU -> maxpool 2 ->
// dense 400-120 -> ReLU -> 120-84 -> ReLU -> 84-10. Convolutions and pooling (forward and backward) are
// fastconv calls; the dense layers, softmax cross-entropy and the optimizer are plain TypeScript.

import type { BackendChoice, IndexTensor, Parameter, Tensor } from '../../src/index.node.js';
import { Conv2d, maxPool2d, maxPool2dBackward } from '../../src/index.node.js';
import { Dense, relu, reluBackward } from './dense.js';

const now = () => performance.now();

/** mulberry32: seeds the dense layers' initialization. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POOL = { kernelSize: 2 } as const;

interface Saved {
  batch: number;
  p1: { output: Tensor; indices: IndexTensor };
  c1Shape: number[];
  p2: { output: Tensor; indices: IndexTensor };
  c2Shape: number[];
  m1: Uint8Array;
  m2: Uint8Array;
}

export class LeNet {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly fc1: Dense;
  readonly fc2: Dense;
  readonly fc3: Dense;
  /** Milliseconds spent inside fastconv calls (convolutions and pooling, forward and backward). */
  fastconvMs = 0;
  private saved: Saved | null = null;

  constructor(seed = 1, backend: BackendChoice = 'auto') {
    this.conv1 = new Conv2d({ inChannels: 1, outChannels: 6, kernelSize: 5, padding: 2, activation: 'relu', backend, seed });
    this.conv2 = new Conv2d({ inChannels: 6, outChannels: 16, kernelSize: 5, activation: 'relu', backend, seed: seed + 1 });
    const random = seeded(seed + 2);
    this.fc1 = new Dense(16 * 5 * 5, 120, random);
    this.fc2 = new Dense(120, 84, random);
    this.fc3 = new Dense(84, 10, random);
  }

  parameters(): Parameter[] {
    const conv = [this.conv1, this.conv2].flatMap((c) => [c.weight, ...(c.bias ? [c.bias] : [])]);
    return [...conv, ...[this.fc1, this.fc2, this.fc3].flatMap((d) => [d.weight, d.bias])];
  }

  private timed<T>(f: () => T): T {
    const t = now();
    try {
      return f();
    } finally {
      this.fastconvMs += now() - t;
    }
  }

  /** Logits [batch, 10] for images [batch, 1, 28, 28]; keeps what backward needs. */
  forward(images: Float32Array, batch: number): Float32Array {
    const x = { data: images, shape: [batch, 1, 28, 28] };
    const { p1, p2, c1Shape, c2Shape } = this.timed(() => {
      const c1 = this.conv1.forward(x);
      const p1 = maxPool2d(c1, { ...POOL, returnIndices: true });
      const c2 = this.conv2.forward(p1.output);
      const p2 = maxPool2d(c2, { ...POOL, returnIndices: true });
      return { p1, p2, c1Shape: c1.shape, c2Shape: c2.shape };
    });
    const h1 = this.fc1.forward(p2.output.data, batch);
    const m1 = relu(h1);
    const h2 = this.fc2.forward(h1, batch);
    const m2 = relu(h2);
    this.saved = { batch, p1, p2, c1Shape, c2Shape, m1, m2 };
    return this.fc3.forward(h2, batch);
  }

  /** Accumulates every parameter's gradient from dL/dlogits. */
  backward(gradLogits: Float32Array): void {
    const s = this.saved;
    if (!s) throw new Error('LeNet.backward: call forward first');
    const g2 = reluBackward(this.fc3.backward(gradLogits), s.m2);
    const g1 = reluBackward(this.fc2.backward(g2), s.m1);
    const gFlat = this.fc1.backward(g1);
    this.timed(() => {
      const gp2 = maxPool2dBackward(
        { data: gFlat, shape: s.p2.output.shape },
        { shape: s.c2Shape },
        { ...POOL, indices: s.p2.indices }
      );
      const gc2 = this.conv2.backward(gp2).gradInput;
      if (!gc2) throw new Error('conv2.backward returned no grad-input');
      const gp1 = maxPool2dBackward(gc2, { shape: s.c1Shape }, { ...POOL, indices: s.p1.indices });
      // The first layer's input is the data: its gradient is never needed.
      this.conv1.backward(gp1, ['weight', 'bias']);
    });
  }
}

/** Mean softmax cross-entropy over the batch and its gradient with respect to the logits. */
export function softmaxCrossEntropy(
  logits: Float32Array,
  labels: ArrayLike<number>,
  batch: number
): { loss: number; grad: Float32Array } {
  const grad = new Float32Array(logits.length);
  let loss = 0;
  for (let b = 0; b < batch; b++) {
    const row = b * 10;
    let max = -Infinity;
    for (let k = 0; k < 10; k++) max = Math.max(max, logits[row + k]);
    let sum = 0;
    for (let k = 0; k < 10; k++) sum += Math.exp(logits[row + k] - max);
    for (let k = 0; k < 10; k++) {
      const p = Math.exp(logits[row + k] - max) / sum;
      grad[row + k] = (p - (k === labels[b] ? 1 : 0)) / batch;
    }
    loss += Math.log(sum) + max - logits[row + labels[b]];
  }
  return { loss: loss / batch, grad };
}

/** Index of the largest logit per row. */
export function predictions(logits: Float32Array, batch: number): Uint8Array {
  const out = new Uint8Array(batch);
  for (let b = 0; b < batch; b++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[b * 10 + k] > logits[b * 10 + best]) best = k;
    out[b] = best;
  }
  return out;
}
