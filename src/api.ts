// Everything both entry points (index.node.ts, index.browser.ts) export.

import type { BackendInfo } from './dispatch.js';
import { dispatcher } from './dispatch.js';
import type { BackendChoice } from './shape.js';
import { checkBackendChoice } from './shape.js';

export type { Algorithm, BackendName } from './backends/types.js';
export type { Explanation } from './conv.js';
export { conv1d, conv1dAsync, conv2d, conv2dAsync, explain } from './conv.js';
export type { BackendInfo, ProbeResult } from './dispatch.js';
export type { BackendChoice, ConvOptions, Layout, Padding, Tensor } from './shape.js';
export { outputShape } from './shape.js';

/** What this process can run, what `backend: 'auto'` uses, and the load-time measurements that decided. */
export function backendInfo(): BackendInfo {
  return dispatcher().info();
}

/**
 * Forces the backend that `backend: 'auto'` calls use ('native' | 'wasm' | 'js', or 'wasm-simd' /
 * 'wasm-scalar'); 'auto' returns to the fastest. Throws if the backend is not available here.
 */
export function setBackend(name: BackendChoice): void {
  dispatcher().setForced(checkBackendChoice('name', name));
}
export type { BackwardOptions, GradientName, Gradients } from './backward.js';
export { conv1dBackward, conv1dBackwardAsync, conv2dBackward, conv2dBackwardAsync } from './backward.js';
export type { ConvLayerOptions, ConvLayerRest, Parameter } from './layers.js';
export { Conv1d, Conv2d } from './layers.js';
export type { AvgPoolOptions, IndexTensor, MaxPoolOptions, PoolLayout } from './pool.js';
export {
  avgPool2d,
  avgPool2dAsync,
  avgPool2dBackward,
  avgPool2dBackwardAsync,
  maxPool2d,
  maxPool2dAsync,
  maxPool2dBackward,
  maxPool2dBackwardAsync,
} from './pool.js';
export type { ConvTransposeOptions } from './transpose.js';
export { convTranspose1d, convTranspose1dAsync, convTranspose2d, convTranspose2dAsync } from './transpose.js';
