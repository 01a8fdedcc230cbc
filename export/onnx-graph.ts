// A small ONNX graph builder over onnx-proto: the exporter's layer converters add nodes and initializers through it
// and never touch protobuf shapes directly. It fixes the format every ganforge model uses: IR 8 + ai.onnx opset 17,
// the newest pair Debian's onnx 1.12 checker fully validates and that onnxruntime 1.30 (node and web) runs.

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

/** Element types the exporter emits. */
export type ElementType = 'float32' | 'int64';

/** A dimension: a fixed size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

/** One node attribute; the kind picks the protobuf field (ONNX rejects an INT where a FLOAT is declared). */
export type Attribute =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'string'; value: string };

export const attr = {
  float: (value: number): Attribute => ({ kind: 'float', value }),
  int: (value: number): Attribute => ({ kind: 'int', value }),
  floats: (value: number[]): Attribute => ({ kind: 'floats', value }),
  ints: (value: number[]): Attribute => ({ kind: 'ints', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
};

export interface ModelOptions {
  /** Graph name. Default 'generator'. */
  graphName?: string;
  /** Model doc_string (a human-readable summary). Default ''. */
  docString?: string;
  /** metadata_props entries, written in this order. Default none. */
  metadata?: Record<string, string>;
  /** producer_name. Default 'ganforge'. */
  producerName?: string;
  /** producer_version. Default '0.0.0'. */
  producerVersion?: string;
}

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

/** Accumulates one ONNX graph; every name it hands out is unique within the graph. */
export class OnnxGraphBuilder {
  private readonly usedNames = new Set<string>();
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly droppableInputs = new Set<string>();

  /** A fresh name derived from `base` (characters outside [A-Za-z0-9_./:-] become '_'); `base` itself when still free. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'value';
    let name = clean;
    for (let i = 1; this.usedNames.has(name); i++) name = `${clean}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  /**
   * Declares a graph input with exactly this name (graph inputs and outputs are part of the model's contract).
   * `dropWhenUnused`: leave it out of the model when no kept node reads it (an input only some topologies use).
   */
  addInput(name: string, type: ElementType, dims: Dim[], options: { dropWhenUnused?: boolean } = {}): string {
    this.claimExact(name);
    this.inputs.push(valueInfo(name, type, dims));
    if (options.dropWhenUnused === true) this.droppableInputs.add(name);
    return name;
  }

  /** Whether a graph input of this name has been declared. */
  hasInput(name: string): boolean {
    return this.inputs.some((i) => i.name === name);
  }

  /** Declares an existing value as a graph output. */
  addOutput(name: string, type: ElementType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Reserves an exact name (an output name the consumer expects); throws if it is taken. */
  claimExact(name: string): string {
    if (this.usedNames.has(name)) throw new Error(`ONNX value name '${name}' is already used in this graph`);
    this.usedNames.add(name);
    return name;
  }

  /** A float32 constant; the bytes are copied little-endian from the array's own view (its byteOffset is respected). */
  addFloatInitializer(base: string, dims: number[], data: Float32Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`initializer '${base}': ${data.length} values for dims [${dims.join(', ')}]`);
    const name = this.uniqueName(base);
    this.initializers.push({ name, dims, dataType: DATA_TYPE.float32, rawData: littleEndianBytes(data) });
    return name;
  }

  /** An int64 constant (shapes, axes, slice bounds); dims default to a vector of the values' length. */
  addInt64Initializer(base: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.uniqueName(base);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: DATA_TYPE.int64, rawData: littleEndianBytes(data) });
    return name;
  }

  /** Adds one node with a single output named after `base`; returns that output's name. */
  addNode(opType: string, inputs: string[], base: string, attributes: Record<string, Attribute> = {}): string {
    const output = this.uniqueName(base);
    this.addNodeWithOutputs(opType, inputs, [output], base, attributes);
    return output;
  }

  /** Adds one node writing to outputs whose names the caller has already claimed. */
  addNodeWithOutputs(opType: string, inputs: string[], outputs: string[], base: string, attributes: Record<string, Attribute> = {}): void {
    this.nodes.push({
      opType,
      name: this.uniqueName(`${base}/${opType}`),
      input: inputs,
      output: outputs,
      attribute: Object.entries(attributes).map(([name, a]) => attributeProto(name, a)),
    });
  }

  /** Serializes the graph as a complete ModelProto, without nodes and initializers no graph output depends on. */
  toBytes(options: ModelOptions = {}): Uint8Array {
    const { graphName = 'generator', docString = '', metadata = {}, producerName = 'ganforge', producerVersion = '0.0.0' } = options;
    // Converters may add a layout Transpose that a later consumer bypasses (it reuses the NHWC value); drop such dead ends.
    const needed = new Set(this.outputs.map((o) => o.name!));
    const kept: onnxProto.onnx.INodeProto[] = [];
    // Nodes were added in topological order, so walking backwards sees every consumer before its producer.
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i]!;
      if (!node.output!.some((o) => needed.has(o))) continue;
      kept.unshift(node);
      for (const input of node.input!) if (input !== '') needed.add(input);
    }
    const graph: onnxProto.onnx.IGraphProto = {
      name: graphName,
      node: kept,
      initializer: this.initializers.filter((t) => needed.has(t.name!)),
      input: this.inputs.filter((i) => !this.droppableInputs.has(i.name!) || needed.has(i.name!)),
      output: this.outputs,
    };
    return onnx.ModelProto.encode({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName,
      producerVersion,
      docString,
      graph,
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    }).finish();
  }
}

function valueInfo(name: string, type: ElementType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: DATA_TYPE[type], shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

function attributeProto(name: string, a: Attribute): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'float': return { name, type: T.FLOAT, f: a.value };
    case 'int': return { name, type: T.INT, i: a.value };
    case 'floats': return { name, type: T.FLOATS, floats: a.value };
    case 'ints': return { name, type: T.INTS, ints: a.value };
    case 'string': return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX raw_data is little-endian; copy so later changes to the source array cannot alter the model. */
function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (!LITTLE_ENDIAN_HOST) {
    const width = data.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  }
  return bytes;
}
