// The sentence that explains the last supports() or choose() answer, as UTF-8 in a static buffer:
// the TypeScript side decodes reasonLength() bytes at reasonPtr(). Written piece by piece, with no
// allocation (the stub runtime never frees), and cut at REASON_BYTES.

import { STATIC_BASE, STATIC_REASON, REASON_BYTES } from './statics';

const REASON: usize = STATIC_BASE + STATIC_REASON;
let length: usize = 0;

export function reasonPtr(): usize { return REASON; }
export function reasonLength(): i32 { return <i32>length; }

export function clearReason(): void { length = 0; }

@inline function putByte(b: u32): void {
  if (length < REASON_BYTES) store<u8>(REASON + length++, <u8>b);
}

/** Appends s (UTF-16 code units of the BMP, as every sentence here is) as UTF-8. */
export function put(s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    if (c < 0x80) {
      putByte(c);
    } else if (c < 0x800) {
      putByte(0xc0 | (c >> 6)); putByte(0x80 | (c & 0x3f));
    } else {
      putByte(0xe0 | (c >> 12)); putByte(0x80 | ((c >> 6) & 0x3f)); putByte(0x80 | (c & 0x3f));
    }
  }
}

/** Appends the decimal digits of n. */
export function putInt(n: i64): void {
  if (n < 0) { putByte(0x2d); n = -n; }
  let div: i64 = 1;
  while (div <= n / 10) div *= 10;
  for (; div > 0; div /= 10) putByte(<u32>(0x30 + (n / div) % 10));
}
