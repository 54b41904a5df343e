// The engines' choose() is a call into C++ or wasm that builds a sentence (a few microseconds, a
// visible share of a small layer's call), and the dispatcher asks it on every 'auto' call. Its answer
// depends only on the packed parameters and on state the adapter sees change (the ISA, the knobs), so
// the adapters remember the last few answers, keyed by the packed parameters compared element-wise
// (a network alternates between its layers' shapes).

export class ChoiceMemo<T> {
  private readonly keys: Int32Array[] = [];
  private readonly values: T[] = [];
  private next = 0;

  constructor(private readonly size = 16) {}

  get(packed: Int32Array): T | undefined {
    const n = packed.length;
    outer: for (let e = 0; e < this.keys.length; e++) {
      const k = this.keys[e];
      for (let i = 0; i < n; i++) if (k[i] !== packed[i]) continue outer;
      return this.values[e];
    }
    return undefined;
  }

  /** Remembers `value` for a copy of `packed` (the caller reuses its array), replacing the oldest entry when full. */
  set(packed: Int32Array, value: T): void {
    const at = this.keys.length < this.size ? this.keys.length : this.next;
    this.keys[at] = packed.slice();
    this.values[at] = value;
    this.next = (at + 1) % this.size;
  }

  clear(): void {
    this.keys.length = 0;
    this.values.length = 0;
    this.next = 0;
  }
}
