// Arguments of async calls, checked again after every await. An async call validates its typed arrays
// when it is made but uses them later (the wasm threaded path loads them once its workers are ready
// and stores into `out` after they finish; NHWC transposes the result into `out` after the
// convolution; the native addon copies back on the JS thread). Meanwhile the caller's code can resize
// a resizable ArrayBuffer (or grow a growable SharedArrayBuffer) or detach one (transfer(),
// structuredClone or postMessage with a transfer list). Typed-array writes out of bounds are silently
// dropped, so without a check a shrunk `out` gets a short write and looks like success.
//
// The rule, the same on every backend (native/addon.cc applies it in its copy back):
//   an argument is intact while its view still has exactly the element count it was validated with,
//   read through the intrinsic length getter (a subclass may override `length`).
// Consequences: a fixed-length view that a resize left wholly in bounds (the buffer grew, or shrank
// but still covers the view) sees the same memory (resizable buffers never move) and the call goes on; a
// length-tracking view (made without a length) follows its buffer, so any resize of that buffer is an
// error, and so is a fixed-length view pushed out of bounds (it then reads length 0). A detached
// buffer reads length 0 too. Errors name the argument: TypeError when its buffer was detached,
// RangeError when it was resized (a wrong length, as the checks at the call say). A resize undone
// before the check (shrink, then grow back) cannot be seen by a length check; the values the call
// read are then whatever the buffer held.

import { trueLength } from './shape.js';

const typedArrayProto = Object.getPrototypeOf(Float32Array.prototype) as object;
const bufferOf = (() => {
  const get = Object.getOwnPropertyDescriptor(typedArrayProto, 'buffer')?.get;
  // ES2015 defines this getter; an engine without it cannot run this library at all.
  if (!get) throw new Error('fastconv: %TypedArray%.prototype.buffer has no getter in this JavaScript engine');
  return get;
})();

/** Whether `buffer` is detached (Node 20 has no ArrayBuffer.prototype.detached; a detached buffer cannot back a new view). */
function isDetached(buffer: ArrayBufferLike): boolean {
  if (typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer) return false;
  const flag = (buffer as { detached?: unknown }).detached;
  if (typeof flag === 'boolean') return flag;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Throws unless `a` still has the `length` elements it was validated with (see the rule above).
 * `call` and `name` make the message: "conv2dAsync: out ...". Absent arrays (no bias) pass.
 */
export function checkIntact(call: string, name: string, a: Float32Array | null | undefined, length: number): void {
  if (!a) return;
  const now = trueLength(a);
  if (now === length) return;
  if (isDetached(bufferOf.call(a) as ArrayBufferLike)) {
    throw new TypeError(`${call}: ${name}'s ArrayBuffer was detached or transferred during the call`);
  }
  throw new RangeError(
    `${call}: ${name} was resized during the call: it has ${now} elements now, ` +
      `${length} when the call was made (a length-tracking view follows its buffer's size; a fixed-length view reads 0 once out of bounds)`
  );
}

/** An async call's arrays as validated when it was made: [name, array, length] for checkIntact. */
export type HeldArgs = readonly (readonly [string, Float32Array | null | undefined, number])[];

/** checkIntact over every argument, in order: the first changed one is named. */
export function checkAllIntact(call: string, args: HeldArgs): void {
  for (const [name, a, length] of args) checkIntact(call, name, a, length);
}
