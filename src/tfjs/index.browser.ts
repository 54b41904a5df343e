// `import 'fastconv/tfjs'` in browsers: fastconv's browser entry (wasm) behind the TF.js backend 'fastconv'.
// Wasm compiles asynchronously there: until `await ready()` (re-exported from fastconv) the kernels run on
// fastconv's js reference, correct but slow.

import '@tensorflow/tfjs-backend-cpu';
import '../index.browser.js';
import { registerFastconvBackend } from './backend.js';
import { ELEMENTWISE_KERNELS } from './elementwise.js';
import { FASTCONV_KERNELS } from './kernels.js';
import { MATMUL_KERNELS } from './matmul.js';
import { POOL_KERNELS } from './pool.js';

const KERNELS = [...FASTCONV_KERNELS, ...ELEMENTWISE_KERNELS, ...POOL_KERNELS, ...MATMUL_KERNELS];
registerFastconvBackend(KERNELS);

export { ready } from '../index.browser.js';
export { BACKEND_NAME, BACKEND_PRIORITY, FastconvBackend } from './backend.js';
/** The kernels 'fastconv' runs itself; every other kernel is tfjs-backend-cpu's. */
export const FASTCONV_KERNEL_NAMES: readonly string[] = KERNELS.map((k) => k.kernelName);
