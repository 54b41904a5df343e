// The wasm builds as dispatcher slots, and whether this engine can run each: shared by the Node and
// browser entry points, which differ only in how they fetch and compile the bytes.

import type { WasmVariant } from './wasm.js';
import { wasmRelaxedSimdSupported, wasmSimdSupported } from './wasm.js';

export const WASM_SLOTS = { wasmRelaxed: 'relaxed', wasmSimd: 'simd', wasmScalar: 'scalar' } as const;
export type WasmSlot = keyof typeof WASM_SLOTS;

/** null when this engine can run the variant, else why not. */
export function wasmVariantUnsupported(variant: WasmVariant): string | null {
  if (variant === 'simd' && !wasmSimdSupported()) return 'this engine does not validate wasm SIMD128';
  if (variant === 'relaxed' && !wasmRelaxedSimdSupported()) {
    return 'this engine does not validate relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd)';
  }
  return null;
}
