// A one-node ONNX model (Conv with weight and bias as initializers), encoded by hand.
// Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto, ...).
import { ProtoWriter } from './protobuf.js';

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_INT = 2,
  ATTR_INTS = 7; // AttributeProto.AttributeType
const IR_VERSION = 8,
  OPSET = 13; // supported by every onnxruntime >= 1.10

export interface ConvModelSpec {
  inputShape: number[]; // [N, C, H, W] or [N, C, W]
  outputShape: number[];
  weightShape: number[]; // [K, C/groups, R(, S)]
  weight: Float32Array;
  bias: Float32Array | null;
  strides: number[];
  dilations: number[];
  pads: number[]; // ONNX order: all begins, then all ends
  group: number;
}

function tensor(name: string, dims: number[], data: Float32Array): ProtoWriter {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength); // little-endian hosts only
  return new ProtoWriter().packedInts(1, dims).int(2, FLOAT).string(8, name).bytes(9, raw.slice());
}

function valueInfo(name: string, dims: number[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, new ProtoWriter().int(1, d));
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

function intsAttr(name: string, vs: number[]): ProtoWriter {
  return new ProtoWriter().string(1, name).int(20, ATTR_INTS).packedInts(8, vs);
}

export function convModel(m: ConvModelSpec): Uint8Array {
  const node = new ProtoWriter().string(1, 'x').string(1, 'w');
  if (m.bias) node.string(1, 'b');
  node
    .string(2, 'y')
    .string(3, 'conv')
    .string(4, 'Conv')
    .message(5, intsAttr('kernel_shape', m.weightShape.slice(2)))
    .message(5, intsAttr('strides', m.strides))
    .message(5, intsAttr('dilations', m.dilations))
    .message(5, intsAttr('pads', m.pads))
    .message(5, new ProtoWriter().string(1, 'group').int(20, ATTR_INT).int(3, m.group));
  const graph = new ProtoWriter()
    .message(1, node)
    .string(2, 'fastconv_bench')
    .message(5, tensor('w', m.weightShape, m.weight));
  if (m.bias) graph.message(5, tensor('b', [m.bias.length], m.bias));
  graph.message(11, valueInfo('x', m.inputShape)).message(12, valueInfo('y', m.outputShape));
  return new ProtoWriter()
    .int(1, IR_VERSION)
    .string(2, 'fastconv-bench')
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, '').int(2, OPSET))
    .finish();
}

import type { Layer, LayerData } from '../suite.js';

/** The ONNX model of a suite layer, conv1d kept 1-D so the peer runs its own 1-D path. */
export function layerModel(l: Layer, d: LayerData): Uint8Array {
  const is1d = l.op === 'conv1d';
  return convModel({
    inputShape: l.inputShape,
    outputShape: l.outputShape,
    weightShape: l.weightShape,
    weight: d.w,
    bias: d.b,
    strides: is1d ? [l.strideW] : [l.strideH, l.strideW],
    dilations: is1d ? [l.dilW] : [l.dilH, l.dilW],
    pads: is1d ? [l.padW, l.padW] : [l.padH, l.padW, l.padH, l.padW],
    group: l.groups,
  });
}
