// The JSON form of one hostile property case (test/hostile.property.test.ts). A case names an operation,
// the backend and algorithm it is forced onto, a base geometry (small, or one of the extreme templates)
// and up to a few mutations of how the arguments are presented. Everything here is plain data, so that
// the parent (fast-check, vitest) can generate, shrink and print it, and the child process
// (hostile-child.ts) can materialize it into real proxies, getters and buffers. No imports: the child
// loads this file too.

export const BACKENDS = ['native', 'wasm-relaxed', 'wasm-simd', 'wasm-scalar', 'js'] as const;
export type BackendName = (typeof BACKENDS)[number];

export const ALGOS = ['auto', 'direct', 'im2col', 'winograd', 'fft'] as const;
export type Algo = (typeof ALGOS)[number];

/**
 * Every public entry point the layer covers. Conv1d/Conv2d construct a layer, set its weight and bias,
 * then run forward and backward; Conv1dAsync/Conv2dAsync do the same with forwardAsync/backwardAsync.
 */
export const OPS = [
  'conv1d',
  'conv2d',
  'conv1dAsync',
  'conv2dAsync',
  'explain',
  'outputShape',
  'conv1dBackward',
  'conv2dBackward',
  'conv1dBackwardAsync',
  'conv2dBackwardAsync',
  'convTranspose1d',
  'convTranspose2d',
  'convTranspose1dAsync',
  'convTranspose2dAsync',
  'maxPool2d',
  'maxPool2dAsync',
  'avgPool2d',
  'avgPool2dAsync',
  'maxPool2dBackward',
  'maxPool2dBackwardAsync',
  'avgPool2dBackward',
  'avgPool2dBackwardAsync',
  'Conv1d',
  'Conv2d',
  'Conv1dAsync',
  'Conv2dAsync',
] as const;
export type Op = (typeof OPS)[number];

export type Family =
  | 'conv'
  | 'explain'
  | 'outputShape'
  | 'backward'
  | 'transpose'
  | 'maxPool'
  | 'avgPool'
  | 'maxPoolBackward'
  | 'avgPoolBackward'
  | 'layer';

export function familyOf(op: Op): Family {
  if (op === 'explain' || op === 'outputShape') return op;
  if (op.startsWith('Conv')) return 'layer';
  if (op.includes('Backward'))
    return op.startsWith('maxPool') ? 'maxPoolBackward' : op.startsWith('avgPool') ? 'avgPoolBackward' : 'backward';
  if (op.startsWith('convTranspose')) return 'transpose';
  if (op.startsWith('maxPool')) return 'maxPool';
  if (op.startsWith('avgPool')) return 'avgPool';
  return 'conv';
}

export const isAsync = (op: Op): boolean => op.endsWith('Async');
export const dimsOf = (op: Op): 1 | 2 => (op.includes('1d') ? 1 : 2);
/** Pooling and outputShape run no backend: `backend` and `algorithm` do not apply. */
export const takesBackend = (f: Family): boolean =>
  !['outputShape', 'maxPool', 'avgPool', 'maxPoolBackward', 'avgPoolBackward'].includes(f);

/** A number as JSON can carry it. */
export type Num = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

/** A hostile value for one option. */
export type HValue =
  | { kind: 'keep' } // the value the base geometry gives
  | { kind: 'num'; v: Num }
  | { kind: 'str'; v: string }
  | { kind: 'bigint'; v: string }
  | { kind: 'boxed'; v: number | string | boolean } // new Number(v) / new String(v) / new Boolean(v)
  | { kind: 'bool'; v: boolean }
  | { kind: 'null' }
  | { kind: 'undefined' } // the key present, with value undefined
  | { kind: 'object' } // {}
  | { kind: 'symbol' }
  /** An array: `holes` are indices left empty; `length` makes it longer (sparse) than its items. */
  | {
      kind: 'array';
      items: HValue[];
      holes?: number[];
      length?: number;
      form?: 'plain' | 'subclass' | 'frozen' | 'proxy' | 'extra-prop';
    }
  | { kind: 'typed'; type: 'Int32Array' | 'Float64Array'; items: number[] }
  /** An accessor on the options object: `first` on the first read, `later` on every read after it. */
  | { kind: 'getter'; first: HValue; later: HValue }
  | { kind: 'throwing-getter' };

/** How a tensor's (or bias / out's) Float32Array is presented. */
export type DataForm =
  | { kind: 'offset' } // a view into a larger buffer, guards around it
  | { kind: 'shared' } // SharedArrayBuffer-backed, at an offset
  | { kind: 'growable-shared' } // a growable SharedArrayBuffer (length-tracking view)
  | { kind: 'resizable'; tracking: boolean } // resizable ArrayBuffer: fixed-length or length-tracking view
  | { kind: 'subclass' }
  /** A subclass whose `length` getter says count + claim while the array really has count + truth elements. */
  | { kind: 'lying'; claim: number; truth: number }
  | { kind: 'proxy' } // a Proxy around the Float32Array
  | { kind: 'detached' }
  | { kind: 'wrong-type'; type: 'Float64Array' | 'Int32Array' | 'Uint8Array' | 'Array' | 'DataView' }
  | { kind: 'length'; delta: number }; // a plain Float32Array of count + delta elements

/** How a tensor's shape array is presented (for outputShape: the shape arguments themselves). */
export type ShapeForm =
  | { kind: 'typed'; type: 'Int32Array' | 'Float64Array' | 'Uint32Array' }
  | { kind: 'proxy' }
  | { kind: 'frozen' }
  | { kind: 'extra-prop' }
  | { kind: 'holey'; at: number }
  | { kind: 'array-like' } // { length, 0: ..., 1: ... }, not an array
  | { kind: 'string-dim'; at: number }
  | { kind: 'value'; at: number; v: Num } // one entry replaced (data unchanged)
  | { kind: 'long'; length: number } // the right entries, then a sparse tail to `length`
  | { kind: 'lying-proxy'; length: number } // a Proxy whose `length` says `length`
  | { kind: 'rank'; delta: 1 | -1 }; // a trailing 1 appended, or the last entry dropped

/** What a switching getter returns after its first read. */
export type Later = 'short' | 'other-values' | 'detached' | 'other-shape';

/** How the tensor object itself is presented. */
export type ObjectForm =
  | { kind: 'proxy' }
  | { kind: 'frozen' }
  | { kind: 'class' } // data and shape as prototype getters of a class instance
  | { kind: 'getter'; field: 'data' | 'shape'; later: Later }
  | { kind: 'throwing-getter'; field: 'data' | 'shape' }
  | { kind: 'null' }
  | { kind: 'bare-array' } // the Float32Array itself instead of { data, shape }
  | { kind: 'extra-key' }; // an unknown extra field (allowed: tensors are duck-typed)

export type OptionsContainer =
  | 'array-empty'
  | 'array-props'
  | 'class'
  | 'proxy'
  | 'frozen'
  | 'null-proto'
  | 'extra-key'
  | 'null'
  | 'number';

/** The argument slots a tensor mutation can target. */
export type TensorSlot = 'input' | 'weight' | 'gradOutput' | 'bias' | 'out' | 'indices';

export type MidCallAction = 'shrink' | 'grow' | 'detach';

export type Mutation =
  | { m: 'option'; key: string; value: HValue }
  | { m: 'container'; form: OptionsContainer }
  | { m: 'data'; slot: TensorSlot; form: DataForm }
  | { m: 'shape'; slot: TensorSlot; form: ShapeForm }
  | { m: 'object'; slot: TensorSlot; form: ObjectForm }
  /**
   * Changes a buffer while the call runs: right after an async call returned its promise, or (sync and
   * async) from inside the library, at the `read`-th property read of the options object.
   */
  | { m: 'midcall'; slot: TensorSlot; action: MidCallAction; when: 'after-call' | 'option-read'; read: number };

export type PadForm = 'none' | 'valid' | 'same' | 'int' | 'perdim' | 'explicit';

/** The valid problem a case starts from (every size explicit; options are rendered from it). */
export interface Geom {
  dims: 1 | 2;
  N: number;
  C: number;
  /** Output channels (conv: weight.shape[0]; transposed: weight.shape[1] * groups). */
  K: number;
  groups: number;
  spatial: number[];
  kernel: number[];
  stride: number[];
  dilation: number[];
  /** [before, after] per spatial dimension, flat. Pooling: symmetric. */
  pad: number[];
  /** Transposed convolution's output padding, per dimension. */
  outPad: number[];
  padForm: PadForm;
  /** 'default': the option is left out (conv: all 1; pooling: stride = kernel). */
  strideForm: 'default' | 'scalar' | 'array';
  channelsLast: boolean;
  unbatched: boolean;
  bias: boolean;
  relu: boolean;
  out: 'none' | 'exact' | 'larger';
  ceilMode: boolean;
  countIncludePad: boolean | null;
  returnIndices: boolean;
  /** maxPool2dBackward: pass the forward's indices (the input as { shape } only). */
  givenIndices: boolean;
  needs: ('input' | 'weight' | 'bias')[] | null;
  /** Which extreme template made this geometry ('' for ordinary ones): for reports. */
  template: string;
}

export interface HostileCase {
  op: Op;
  backend: BackendName;
  algorithm: Algo;
  geom: Geom;
  mutations: Mutation[];
  dataSeed: number;
}

/** What the child reports for one case. */
export interface Outcome {
  /** 'pass': the outcome was allowed; 'fail': it was not; 'skip': the backend is not available here. */
  status: 'pass' | 'fail' | 'skip';
  /** What happened: 'result', 'error', 'user-error'; or for failures the failure class. */
  what: string;
  detail: string;
  ms: number;
  /** Of which the call itself (the rest is building the arguments and the oracle). */
  callMs?: number;
  /** Peak RSS of the child process after the case, bytes. */
  peakRss: number;
  /** The error the call threw, when it threw (class: message). */
  error?: string;
  /** The algorithm the call reported (layers, explain), for coverage. */
  ran?: string;
}
