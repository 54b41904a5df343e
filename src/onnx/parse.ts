// ONNX bytes -> the runner's graph: nodes with decoded attributes, initializers as typed arrays, the
// graph's inputs and outputs with their declared shapes. Everything a malformed file could get wrong is
// checked here or at compile time and reported as an OnnxError; decode errors are wrapped into one.

import type { AttributeProto, Int64, NodeProto, TensorProto, ValueInfoProto } from './schema.js';
import { decodeModel, toNumber } from './schema.js';

/** Any load-time problem of a model: malformed file, unsupported op or attribute, inconsistent graph. */
export class OnnxError extends Error {
  override name = 'OnnxError';
}

/**
 * Floats in a Float32Array; integer and bool tensors in a Float64Array (int64 values past 2^53 lose
 * precision, which only the INT64_MAX/MIN "to the end" sentinels of Slice reach, and those clamp anyway).
 */
export type DType = 'float32' | 'int' | 'bool';
export interface Value {
  dtype: DType;
  shape: number[];
  data: Float32Array | Float64Array;
}

export type AttrValue = number | number[] | string | string[] | Value;
export interface OnnxNode {
  name: string;
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, { type: number; value: AttrValue }>;
  /** "Conv 'conv1'" for messages. */
  label: string;
}
export interface ValueInfo {
  name: string;
  dtype: DType | 'other';
  shape: (number | string)[] | null;
}
export interface OnnxGraph {
  opset: number;
  producer: string;
  nodes: OnnxNode[];
  initializers: Map<string, Value>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

// TensorProto.DataType
const FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  BOOL = 9,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13;
const INT_TYPES = new Set([UINT8, INT8, UINT16, INT16, INT32, INT64, UINT32, UINT64]);
const TYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED',
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
  14: 'COMPLEX64',
  15: 'COMPLEX128',
  16: 'BFLOAT16',
};
export const typeName = (t: number): string => TYPE_NAMES[t] ?? `type ${t}`;

/** The runner's dtype for an ONNX element type, or null when it cannot hold it. */
export function dtypeOf(t: number): DType | null {
  if (t === FLOAT || t === DOUBLE) return 'float32';
  if (INT_TYPES.has(t)) return 'int';
  if (t === BOOL) return 'bool';
  return null;
}

function checkedDims(dims: Int64[], what: string): number[] {
  const shape = dims.map(toNumber);
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new OnnxError(`${what}: dimension ${d} is not a non-negative integer`);
    n *= d;
  }
  if (n > MAX_TENSOR_ELEMENTS) throw new OnnxError(`${what}: ${n} elements, more than the supported ${MAX_TENSOR_ELEMENTS}`);
  return shape;
}

const ELEMENT_BYTES: Record<number, number> = {
  [FLOAT]: 4,
  [DOUBLE]: 8,
  [UINT8]: 1,
  [INT8]: 1,
  [UINT16]: 2,
  [INT16]: 2,
  [INT32]: 4,
  [INT64]: 8,
  [UINT32]: 4,
  [UINT64]: 8,
  [BOOL]: 1,
};

function readRaw(raw: Uint8Array, type: number, n: number, what: string): Float32Array | Float64Array {
  const size = ELEMENT_BYTES[type];
  if (raw.length !== n * size)
    throw new OnnxError(`${what}: raw_data holds ${raw.length} bytes, ${n} ${typeName(type)} elements need ${n * size}`);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = type === FLOAT || type === DOUBLE ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (type) {
      case FLOAT:
        out[i] = v.getFloat32(o, true);
        break;
      case DOUBLE:
        out[i] = v.getFloat64(o, true);
        break;
      case UINT8:
      case BOOL:
        out[i] = v.getUint8(o);
        break;
      case INT8:
        out[i] = v.getInt8(o);
        break;
      case UINT16:
        out[i] = v.getUint16(o, true);
        break;
      case INT16:
        out[i] = v.getInt16(o, true);
        break;
      case INT32:
        out[i] = v.getInt32(o, true);
        break;
      case UINT32:
        out[i] = v.getUint32(o, true);
        break;
      case INT64:
        out[i] = Number(v.getBigInt64(o, true));
        break;
      case UINT64:
        out[i] = Number(v.getBigUint64(o, true));
        break;
    }
  }
  return out;
}

export function parseTensor(t: TensorProto, what: string): Value {
  what = t.name ? `${what} '${t.name}'` : what;
  if (t.dataLocation === 1 || t.externalData.length > 0)
    throw new OnnxError(`${what}: external data files are not supported (save the model with its weights inside)`);
  const dtype = dtypeOf(t.dataType);
  if (!dtype)
    throw new OnnxError(`${what}: element type ${typeName(t.dataType)} is not supported (float, double, integers and bool are)`);
  const shape = checkedDims(t.dims, what);
  const n = shape.reduce((a, b) => a * b, 1);
  let data: Float32Array | Float64Array;
  if (t.rawData.length > 0) data = readRaw(t.rawData, t.dataType, n, what);
  else {
    const src: ArrayLike<Int64> =
      t.dataType === FLOAT
        ? t.floatData
        : t.dataType === DOUBLE
          ? t.doubleData
          : t.dataType === INT64
            ? t.int64Data
            : t.dataType === UINT32 || t.dataType === UINT64
              ? t.uint64Data
              : t.int32Data;
    if (src.length !== n) throw new OnnxError(`${what}: holds ${src.length} values, its shape [${shape.join(', ')}] needs ${n}`);
    data = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = toNumber(src[i]);
  }
  return { dtype, shape, data };
}

// AttributeProto.AttributeType
export const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const decoder = new TextDecoder();

function parseAttr(a: AttributeProto, label: string): { type: number; value: AttrValue } {
  const what = `${label} attribute '${a.name}'`;
  if (a.refAttrName) throw new OnnxError(`${what}: references a function attribute, which only functions have`);
  switch (a.type) {
    case ATTR.FLOAT:
      return { type: a.type, value: a.f };
    case ATTR.INT:
      return { type: a.type, value: toNumber(a.i) };
    case ATTR.STRING:
      return { type: a.type, value: decoder.decode(a.s) };
    case ATTR.TENSOR:
      if (!a.t) throw new OnnxError(`${what}: a TENSOR attribute without its tensor`);
      return { type: a.type, value: parseTensor(a.t, what) };
    case ATTR.FLOATS:
      return { type: a.type, value: Array.from(a.floats) };
    case ATTR.INTS:
      return { type: a.type, value: a.ints.map(toNumber) };
    case ATTR.STRINGS:
      return { type: a.type, value: a.strings.map((s) => decoder.decode(s)) };
    default:
      throw new OnnxError(`${what}: attribute type ${a.type} (graphs, sparse tensors, type protos) is not supported`);
  }
}

function parseNode(n: NodeProto, index: number): OnnxNode {
  const name = n.name || `#${index}`;
  const label = `node '${name}' (${n.opType || '?'})`;
  if (!n.opType) throw new OnnxError(`${label}: has no op_type`);
  const attrs = new Map<string, { type: number; value: AttrValue }>();
  for (const a of n.attribute) {
    if (attrs.has(a.name)) throw new OnnxError(`${label}: attribute '${a.name}' appears twice`);
    attrs.set(a.name, parseAttr(a, label));
  }
  return { name, op: n.opType, domain: n.domain, inputs: [...n.input], outputs: [...n.output], attrs, label };
}

function parseValueInfo(v: ValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  if (!tt) return { name: v.name, dtype: 'other', shape: null };
  const dims = tt.shape?.dim;
  return {
    name: v.name,
    dtype: dtypeOf(tt.elemType) ?? 'other',
    shape: dims
      ? dims.map((d) => (d.dimValue !== undefined && d.value === 'dimValue' ? toNumber(d.dimValue) : d.dimParam || '?'))
      : null,
  };
}

export function parseModel(bytes: Uint8Array): OnnxGraph {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('the model must be a Uint8Array (or a file path in Node)');
  if (bytes.length === 0) throw new OnnxError('the model file is empty');
  let m: ReturnType<typeof decodeModel>;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    throw new OnnxError(`not a valid ONNX file (protobuf decoding failed: ${(e as Error).message})`);
  }
  if (!m.graph) throw new OnnxError('not a valid ONNX file: the ModelProto has no graph');
  let opset = 0;
  for (const o of m.opsetImport) {
    if (o.domain === '' || o.domain === 'ai.onnx') opset = toNumber(o.version);
    else throw new OnnxError(`opset domain '${o.domain}' is not supported (only the default ONNX domain is)`);
  }
  if (!(opset >= 7 && opset <= 21)) throw new OnnxError(`ONNX opset ${opset} is not supported (7 to 21 are)`);
  const g = m.graph;
  const initializers = new Map<string, Value>();
  for (const t of g.initializer) initializers.set(t.name, parseTensor(t, 'initializer'));
  const nodes = g.node.map(parseNode);
  const inputs = g.input.filter((v) => !initializers.has(v.name)).map(parseValueInfo);
  return { opset, producer: m.producerName, nodes, initializers, inputs, outputs: g.output.map(parseValueInfo) };
}
