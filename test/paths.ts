// Every way this machine can run a convolution, as a list the tests iterate over: the native addon at
// each ISA the CPU has (forced lower with setNativeIsa, so AVX2 and scalar are tested on an AVX-512
// machine), both wasm builds, and the js reference. Tests run each path as their own describe block.

import v8 from 'node:v8';
import { createJsBackend } from '../src/backends/js.js';
import { loadNativeBackend, nativeInfo, setNativeIsa } from '../src/backends/native.js';
import type { Backend } from '../src/backends/types.js';
import type { WasmVariant } from '../src/backends/wasm.js';
import { createWasmBackend, wasmRelaxedSimdSupported, wasmSimdSupported } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';

export interface Path {
  label: string;
  backend: Backend;
  /** Puts process-global state (the native ISA) in place; call before each use. */
  enter: () => void;
}

/**
 * Whether this run must have the native addon: yes unless FASTCONV_NATIVE=off switched it off (the CI
 * leg that runs the suite as on a machine whose C++ build failed) or FASTCONV_EXPECT_NO_NATIVE=1 says
 * the install's C++ build was broken on purpose. Native-only tests run whenever it is true, so a
 * missing addon fails them rather than skipping them.
 */
export const expectNative = process.env.FASTCONV_NATIVE !== 'off' && process.env.FASTCONV_EXPECT_NO_NATIVE !== '1';

export const native = loadNativeBackend();

/** Why native-only tests skip in this run, or '' when they run. */
export const noNativeReason = expectNative
  ? ''
  : process.env.FASTCONV_NATIVE === 'off'
    ? 'native addon off (FASTCONV_NATIVE=off)'
    : 'native addon not expected (FASTCONV_EXPECT_NO_NATIVE=1)';

/** A native-only test's (or block's) name, saying why it skips when the run has no addon. */
export function nativeOnly(name: string): string {
  return noNativeReason ? `${name} (skipped: ${noNativeReason})` : name;
}

/** Whether a test generated per backend choice skips here: the native one, in a run without the addon. */
export const skipsBackend = (backend: string): boolean => backend === 'native' && !expectNative;

/** The name of a test generated per backend choice: the native one's says why it skips. */
export const backendTestName = (backend: string, name: string): string => (backend === 'native' ? nativeOnly(name) : name);

/** The native backend, for tests that run only when it is expected: a missing addon fails them with its load error. */
export function nativeBackend(): Backend {
  if ('error' in native) throw new Error(`the native addon is expected in this run but did not load: ${native.error}`);
  return native.backend;
}

/** The native ISAs this CPU runs, best first; native-only tests generated from it fail to load when the addon is expected but missing. */
export function nativeIsas(): string[] {
  if (!('backend' in native)) {
    if (expectNative) nativeBackend();
    return [];
  }
  const { cpu } = nativeInfo();
  const isas = ['scalar'];
  if (cpu.avx2 && cpu.fma) isas.unshift('avx2');
  if (cpu.avx512) isas.unshift('avx512');
  if (cpu.neon) isas.unshift('neon');
  return isas;
}

export function nativeDefaultIsa(): string {
  return nativeIsas()[0];
}

// Node 20 validates relaxed SIMD only behind a V8 flag; setting it before any compile lets the tests
// cover the relaxed build too (browsers run it by default).
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

function wasm(variant: WasmVariant): Backend {
  return createWasmBackend(new WebAssembly.Module(loadWasmBytes(variant) as BufferSource), variant);
}

/** The native addon at each ISA this CPU runs; like nativeIsas(), fails to load when the addon is expected but missing. */
export function nativePaths(): Path[] {
  const isas = nativeIsas();
  if (!('backend' in native)) return [];
  const be = native.backend;
  return isas.map((isa) => ({ label: `native-${isa}`, backend: be, enter: () => setNativeIsa(isa) }));
}

export function allPaths(): Path[] {
  const paths: Path[] = 'backend' in native ? nativePaths() : [];
  if (wasmRelaxedSimdSupported()) paths.push({ label: 'wasm-relaxed', backend: wasm('relaxed'), enter: () => {} });
  if (wasmSimdSupported()) paths.push({ label: 'wasm-simd', backend: wasm('simd'), enter: () => {} });
  paths.push({ label: 'wasm-scalar', backend: wasm('scalar'), enter: () => {} });
  paths.push({ label: 'js', backend: createJsBackend(), enter: () => {} });
  return paths;
}

/** Restores the native ISA the CPU picked (tests that force lower ISAs call it afterwards). */
export function restoreNativeIsa(): void {
  if ('backend' in native) setNativeIsa(nativeDefaultIsa());
}
