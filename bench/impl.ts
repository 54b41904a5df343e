// What the harness needs from anything it times: fastconv variants and peers look the same.
import type { Layer, LayerData } from './suite.js';

export interface Prepared {
  /** One convolution of the prepared layer into a reused output buffer. */
  run(): void | Promise<void>;
  /** The last result as NCHW/NCW float32 (the layout fastconv and PyTorch use). */
  output(): Float32Array | Promise<Float32Array>;
  /** A self-timed batch of `reps` calls in ms, for implementations that live in a worker (keeps message latency out). */
  batch?(reps: number): Promise<number>;
  /** Untimed set-up before each timed batch (e.g. selecting a thread count). */
  before?(): void;
  dispose?(): void | Promise<void>;
}

export interface Impl {
  /** Stable key used in JSON and the SVG, e.g. "fastconv-native/winograd/1t", "ort-node/2t". */
  id: string;
  family: 'fastconv' | 'peer';
  /** Which fastconv backend this peer is compared with: native peers vs native, wasm peers vs wasm. */
  arena: 'native' | 'wasm' | 'js';
  threads: number;
  algorithm?: string;
  /** A Prepared, or a sentence saying why this implementation cannot run the layer. */
  prepare(l: Layer, d: LayerData): Promise<Prepared | string>;
}

/** Peers register under a short name used by --peers. */
export interface PeerFactory {
  name: string;
  /** Which --backend run the peer belongs to. */
  arena: 'native' | 'wasm';
  /** Implementations for the requested thread counts, or a sentence saying why the peer is unavailable. */
  create(threads: number[]): Promise<Impl[] | string>;
}
