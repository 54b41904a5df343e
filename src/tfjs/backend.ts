// The 'fastconv' TF.js backend: tfjs-backend-cpu's MathBackendCPU (its tensors are plain typed arrays, so
// fastconv reads and writes them without copies) with fastconv's convolution kernels registered over the
// cpu ones. Filters arrive HWIO ([fh, fw, inC, outC]); fastconv takes [K, C/groups, R, S], so each filter is
// transposed once and the copy kept per filter dataId until TF.js disposes that tensor.

import type { DataId, KernelConfig } from '@tensorflow/tfjs-core';
import { getKernelsForBackend, registerBackend, registerKernel } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { allFinite } from './geometry.js';

export const BACKEND_NAME = 'fastconv';

/**
 * Above every backend TF.js ships (cpu 1, webgl/wasm 2, tensorflow (tfjs-node) 3, webgpu 3): importing
 * 'fastconv/tfjs' is asking for it.
 */
export const BACKEND_PRIORITY = 5;

interface FilterEntry {
  /** The values array the copies were made from: a tensor's values may be replaced (backend.move). */
  source: unknown;
  finite: boolean;
  copies: Map<string, Float32Array>;
}

export class FastconvBackend extends MathBackendCPU {
  private readonly filters = new Map<DataId, FilterEntry>();

  constructor() {
    super();
    // MathBackendCPU's first write prints advice to install tfjs-node; the convolutions are not on it here.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /**
   * The filter's values transformed by `make` (keyed by `kind`), made on first use and reused while the
   * tensor lives; null when the filter holds NaN/Inf (see allFinite) or is not float32.
   */
  filterCopy(dataId: DataId, kind: string, make: (values: Float32Array) => Float32Array): Float32Array | null {
    const values = this.data.get(dataId)?.values;
    if (!(values instanceof Float32Array)) return null;
    let e = this.filters.get(dataId);
    if (!e || e.source !== values) {
      e = { source: values, finite: allFinite(values), copies: new Map() };
      this.filters.set(dataId, e);
    }
    if (!e.finite) return null;
    let copy = e.copies.get(kind);
    if (!copy) e.copies.set(kind, (copy = make(values)));
    return copy;
  }

  /** Filters with transposed copies held (tests: the cache must empty when the tensors are disposed). */
  get cachedFilters(): number { return this.filters.size; }

  override disposeData(dataId: DataId, force = false): boolean {
    const released = super.disposeData(dataId, force);
    if (!this.data.has(dataId)) this.filters.delete(dataId);
    return released;
  }

  override move(dataId: DataId, values: Parameters<MathBackendCPU['move']>[1], shape: number[],
                dtype: Parameters<MathBackendCPU['move']>[3], refCount: number): void {
    this.filters.delete(dataId);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override dispose(): void {
    this.filters.clear();
    super.dispose();
  }
}

let registered = false;

/**
 * Registers the backend and its kernels: fastconv's kernels, and for every other kernel the cpu backend's
 * (what copyRegisteredKernels('cpu', 'fastconv') does, minus overwriting our own, which would warn).
 */
export function registerFastconvBackend(kernels: KernelConfig[]): void {
  if (registered) return;
  registered = true;
  registerBackend(BACKEND_NAME, () => new FastconvBackend(), BACKEND_PRIORITY);
  const ours = new Set(kernels.map((k) => k.kernelName));
  for (const k of kernels) registerKernel({ ...k, backendName: BACKEND_NAME });
  for (const k of getKernelsForBackend('cpu')) {
    if (!ours.has(k.kernelName)) registerKernel({ ...k, backendName: BACKEND_NAME });
  }
}
