// The constants shared by the TypeScript layer, the C++ addon and the AssemblyScript module: one
// table, from which native/gen-interface.mjs writes each side's declarations at build time
// (src/backends/interface.generated.ts, native/conv/interface.generated.h,
// assembly/interface.generated.ts). Change a constant here, never in a generated file.
// native/selfcheck.mjs and native/bench.mjs import this file directly.

/**
 * The fields of a convolution's parameters, in the order of the Int32Array both engines read.
 * kind: 'positive' (>= 1), 'pad' (>= 0), 'flag' (0 or 1).
 */
export const PARAM_FIELDS = [
  { name: 'N', kind: 'positive' },
  { name: 'C', kind: 'positive' },
  { name: 'H', kind: 'positive' },
  { name: 'W', kind: 'positive' },
  { name: 'K', kind: 'positive' },
  { name: 'R', kind: 'positive' },
  { name: 'S', kind: 'positive' },
  { name: 'groups', kind: 'positive' },
  { name: 'strideH', kind: 'positive' },
  { name: 'strideW', kind: 'positive' },
  { name: 'dilationH', kind: 'positive' },
  { name: 'dilationW', kind: 'positive' },
  { name: 'padTop', kind: 'pad' },
  { name: 'padBottom', kind: 'pad' },
  { name: 'padLeft', kind: 'pad' },
  { name: 'padRight', kind: 'pad' },
  { name: 'OH', kind: 'positive' },
  { name: 'OW', kind: 'positive' },
  { name: 'relu', kind: 'flag' },
  // With relu: min(6, .) after the ReLU (ReLU6, clamp(0, 6)); 1 without relu is invalid.
  { name: 'relu6', kind: 'flag' },
];

/** Forward algorithms; the index is the code both engines take. */
export const ALGORITHMS = ['direct', 'im2col', 'winograd', 'fft'];

/** The native grad-weight kernel's algorithms; the index is the code the addon takes. */
export const GRAD_WEIGHT_ALGORITHMS = ['auto', 'gemm', 'winograd'];

/**
 * Status codes of the wasm module's exports (0: OK) and what the TypeScript side reports for them.
 * Code -1 never comes from the module: the worker pool reports a thread that threw.
 */
export const WASM_STATUS = [
  { code: 0, name: 'OK', message: 'ok' },
  {
    code: 1,
    name: 'ERR_PARAM',
    message:
      'a size, stride or dilation is not positive, a padding is negative, relu or relu6 is not 0/1 (or relu6 is 1 without relu), or the weight store handle is not one',
  },
  { code: 2, name: 'ERR_GROUPS', message: 'C or K is not divisible by groups' },
  { code: 3, name: 'ERR_OUTPUT_SHAPE', message: 'OH/OW do not match the input, kernel, padding, stride and dilation' },
  { code: 4, name: 'ERR_LENGTH', message: 'a buffer length does not match the shape' },
  { code: 5, name: 'ERR_MEMORY', message: 'WebAssembly memory could not grow to hold the buffers and workspace' },
  { code: 6, name: 'ERR_ALGORITHM', message: 'the algorithm does not apply to this shape or is not built into this module' },
  { code: 7, name: 'ERR_NOT_PREPARED', message: 'run() without a matching prepare()' },
  // The caller skipped copying the weights (skipWeights) but this run reads them (non-finite data
  // falls back to im2col): copy them in, skipWeights(0), run again.
  { code: 8, name: 'ERR_WEIGHTS', message: 'the run reads weights the caller skipped' },
  { code: 9, name: 'ERR_INDEX', message: 'the padded input or the strided, dilated window reaches past index 2^31 - 1' },
  {
    code: 10,
    name: 'ERR_TOO_LARGE',
    message: "a tensor would exceed 2^28 elements (1 GiB), the wasm backend's per-tensor limit",
  },
  { code: 11, name: 'ERR_KNOB', message: 'the forcing knob is not one of this engine or its value is out of range' },
  { code: -1, name: 'ERR_WORKER', message: 'a wasm worker threw' },
];

/**
 * Test-only forcing knobs: each overrides one choice an engine makes by its own rule, so that a
 * test or benchmark can run every variant on the same shapes. Set through the backends' setKnob
 * (native: the addon's setKnob; wasm: the module's setKnob, on every instance); `dflt` leaves the
 * rule in charge. Valid values: `values`, or min..max. native/README.md lists them for developers.
 */
export const KNOBS = [
  {
    name: 'winogradTile',
    engines: ['native', 'wasm'],
    dflt: 0,
    values: [0, 2, 4],
    doc: 'Winograd output tile: 2 runs F(2x2,3x3) / F(2,3), 4 runs F(4x4,3x3) / F(4,3) where F(4) is accurate (F(2) elsewhere); 0: the cost rule',
  },
  {
    name: 'winogradGemm',
    engines: ['native'],
    dflt: -1,
    values: [-1, 0, 1],
    doc: "native Winograd's tuple-GEMM register tile: 0 the wide one, 1 the narrow one; -1: the cost rule",
  },
  {
    name: 'winogradBlockKb',
    engines: ['native'],
    dflt: 512,
    min: 1,
    max: 1 << 20,
    doc: "native Winograd's budget in KiB for one block of tiles' V and M (fewer KiB: more blocks, to exercise the thread split)",
  },
];
