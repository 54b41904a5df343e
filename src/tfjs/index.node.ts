// `import 'fastconv/tfjs'` in Node: fastconv's Node entry (native addon, else wasm) behind the TF.js backend
// 'fastconv'. Importing registers it at the highest priority, so TF.js picks it unless told otherwise.

import '@tensorflow/tfjs-backend-cpu';
import '../index.node.js';
import { registerFastconvBackend } from './backend.js';
import { ELEMENTWISE_KERNELS } from './elementwise.js';
import { FASTCONV_KERNELS } from './kernels.js';
import { MATMUL_KERNELS } from './matmul.js';
import { POOL_KERNELS } from './pool.js';

const KERNELS = [...FASTCONV_KERNELS, ...ELEMENTWISE_KERNELS, ...POOL_KERNELS, ...MATMUL_KERNELS];
registerFastconvBackend(KERNELS);

export { BACKEND_NAME, BACKEND_PRIORITY, FastconvBackend } from './backend.js';
/** The kernels 'fastconv' runs itself; every other kernel is tfjs-backend-cpu's. */
export const FASTCONV_KERNEL_NAMES: readonly string[] = KERNELS.map((k) => k.kernelName);
