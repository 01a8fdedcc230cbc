// Triton export: config.pbtxt is parsed as protobuf text format against (a transcribed subset of) Triton's
// model_config.proto with protobufjs reflection, checked against Triton's batching rules, and its names/types/dims are
// used to run the written model.onnx in onnxruntime-node the way Triton would feed it. No Triton server runs here.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { readManifest } from '../../common/onnx-metadata.ts';
import { exportTritonModel, tritonConfig } from '../../export/triton.ts';
import { exportStyleGenerator } from './helpers.ts';
import { ort } from '../../runtime/ort-node.ts';
import { buildFixtureGenerator, fixtureManifest } from '../fixtures/onnx-fixtures.ts';

const root = protobuf.parse(readFileSync(new URL('../fixtures/triton-model-config.subset.proto', import.meta.url), 'utf8'), { keepCase: true }).root;
const ModelConfig = root.lookupType('inference.ModelConfig');

// ---- a small protobuf text-format reader, strict about the schema ----
type Token = { kind: 'ident' | 'number' | 'string' | 'punct'; text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s+|#[^\n]*|([A-Za-z_][A-Za-z0-9_]*)|(-?\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*")|([{}[\]:,])/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m === null) throw new SyntaxError(`unexpected character ${JSON.stringify(text[at])} at ${at}`);
    at = re.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'ident', text: m[1] });
    else if (m[2] !== undefined) tokens.push({ kind: 'number', text: m[2] });
    else if (m[3] !== undefined) tokens.push({ kind: 'string', text: JSON.parse(m[3]) as string });
    else if (m[4] !== undefined) tokens.push({ kind: 'punct', text: m[4] });
  }
  return tokens;
}

function parseTextFormat(text: string, type: protobuf.Type): Record<string, unknown> {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const take = (punct?: string): Token => {
    const t = tokens[i++];
    if (t === undefined) throw new SyntaxError('unexpected end of input');
    if (punct !== undefined && (t.kind !== 'punct' || t.text !== punct)) throw new SyntaxError(`expected '${punct}', got '${t.text}'`);
    return t;
  };
  const scalar = (field: protobuf.Field): unknown => {
    const t = take();
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Enum) {
      if (t.kind !== 'ident' || !(t.text in resolved.values)) throw new TypeError(`${field.name}: '${t.text}' is not a ${resolved.name} value`);
      return resolved.values[t.text];
    }
    if (field.type === 'string') {
      if (t.kind !== 'string') throw new TypeError(`${field.name}: expected a string, got ${t.text}`);
      return t.text;
    }
    if (field.type === 'bool') {
      if (t.text !== 'true' && t.text !== 'false') throw new TypeError(`${field.name}: expected true/false, got ${t.text}`);
      return t.text === 'true';
    }
    if (/^u?int(32|64)$/.test(field.type)) {
      if (t.kind !== 'number' || !/^-?\d+$/.test(t.text) || (field.type.startsWith('u') && t.text.startsWith('-'))) throw new TypeError(`${field.name}: expected ${field.type}, got ${t.text}`);
      return Number(t.text);
    }
    throw new TypeError(`${field.name}: type ${field.type} not handled by this reader`);
  };
  const value = (field: protobuf.Field): unknown => {
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Type) {
      take('{');
      const nested = message(resolved, '}');
      take('}');
      return nested;
    }
    return scalar(field);
  };
  const message = (msgType: protobuf.Type, end: string | null): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    while (peek() !== undefined && !(peek()!.kind === 'punct' && peek()!.text === end)) {
      const nameToken = take();
      const field = msgType.fields[nameToken.text];
      if (nameToken.kind !== 'ident' || field === undefined) throw new TypeError(`unknown field '${nameToken.text}' in ${msgType.name}`);
      const isMessage = field.resolve().resolvedType instanceof protobuf.Type;
      if (peek()?.text === ':') take(':');
      else if (!isMessage) throw new SyntaxError(`expected ':' after scalar field '${field.name}'`);
      let values: unknown[];
      if (peek()?.text === '[') {
        take('[');
        values = [];
        while (peek()?.text !== ']') {
          values.push(value(field));
          if (peek()?.text === ',') take(',');
        }
        take(']');
        if (!field.repeated) throw new TypeError(`'${field.name}' in ${msgType.name} is not repeated but was given a list`);
      } else {
        values = [value(field)];
      }
      if (field.repeated) out[field.name] = [...((out[field.name] as unknown[] | undefined) ?? []), ...values];
      else if (field.name in out) throw new TypeError(`'${field.name}' in ${msgType.name} given twice`);
      else out[field.name] = values[0];
    }
    return out;
  };
  const parsed = message(type, null);
  const problem = type.verify(parsed);
  if (problem !== null) throw new TypeError(`not a valid ${type.name}: ${problem}`);
  return parsed;
}

const conditional = { classes: ['zero', 'one', 'two'], weightSeed: 2, latentDim: 8, imageShape: [6, 5, 1] as [number, number, number] };

interface Tensor {
  name: string;
  data_type: string;
  dims: number[];
  reshape?: { shape?: number[] };
}

test('config.pbtxt parses against Triton ModelConfig and follows its batching rules; model.onnx runs with those shapes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ganforge-triton-'));
  try {
    const onnx = buildFixtureGenerator(conditional);
    const manifest = fixtureManifest(conditional);
    const result = exportTritonModel({ dir, name: 'digits', onnx, manifest, maxBatchSize: 16, preferredBatchSizes: [4, 16], maxQueueDelayMicroseconds: 500 });
    assert.equal(result.onnxPath, join(dir, 'digits', '1', 'model.onnx'));
    assert.deepEqual(new Uint8Array(readFileSync(result.onnxPath)), new Uint8Array(onnx));
    const config = parseTextFormat(readFileSync(join(dir, 'digits', 'config.pbtxt'), 'utf8'), ModelConfig);
    // A round trip through the binary encoding keeps every field: the values have the schema's wire types.
    const decoded = ModelConfig.toObject(ModelConfig.decode(ModelConfig.encode(ModelConfig.fromObject(config)).finish()), { enums: String, longs: Number });
    assert.equal(decoded.name, 'digits');
    assert.equal(decoded.platform, 'onnxruntime_onnx');
    assert.equal(decoded.max_batch_size, 16);
    assert.deepEqual(decoded.dynamic_batching, { preferred_batch_size: [4, 16], max_queue_delay_microseconds: 500 });
    const inputs = decoded.input as Tensor[];
    const outputs = decoded.output as Tensor[];
    assert.deepEqual(inputs.map((t) => [t.name, t.data_type, t.dims]), [[manifest.inputs.latent, 'TYPE_FP32', [8]], [manifest.inputs.label, 'TYPE_INT64', [1]]]);
    assert.deepEqual(outputs.map((t) => [t.name, t.data_type, t.dims]), [[manifest.output, 'TYPE_FP32', [6, 5, 1]]]);
    // Triton: a reshape must hold as many elements as dims; the label's per-image shape is [] (graph input [batch]).
    const label = inputs[1]!;
    assert.deepEqual(label.reshape?.shape ?? [], []);
    assert.equal((label.reshape?.shape ?? []).reduce((a, b) => a * b, 1), label.dims.reduce((a, b) => a * b, 1));
    // Feed the model as Triton would at a preferred batch size: [batch, ...reshape ?? dims] with the configured names.
    const session = await ort.InferenceSession.create(readFileSync(result.onnxPath));
    try {
      const batch = 4;
      const shapeOf = (t: Tensor) => [batch, ...(t.reshape === undefined ? t.dims : (t.reshape.shape ?? []))];
      const feeds = {
        [inputs[0]!.name]: new ort.Tensor('float32', new Float32Array(batch * 8).fill(0.1), shapeOf(inputs[0]!)),
        [label.name]: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 0n]), shapeOf(label)),
      };
      const out = await session.run(feeds);
      assert.deepEqual(out[outputs[0]!.name]!.dims.map(Number), [batch, ...outputs[0]!.dims]);
    } finally {
      await session.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a conditional style generator: the config lists every graph input (z, label, ψ, mix_z, mix_from) and the model runs with those shapes', async () => {
  const onnx = await exportStyleGenerator({ imageShape: [28, 28, 1], latentDim: 8 });
  const manifest = readManifest(onnx, 'style.onnx');
  const config = parseTextFormat(tritonConfig({ name: 'style', manifest }), ModelConfig);
  const inputs = (ModelConfig.toObject(ModelConfig.decode(ModelConfig.encode(ModelConfig.fromObject(config)).finish()), { enums: String, longs: Number }).input as Tensor[]);
  assert.deepEqual(inputs.map((t) => [t.name, t.data_type, t.dims]), [['z', 'TYPE_FP32', [8]], ['label', 'TYPE_INT64', [1]], ['truncation', 'TYPE_FP32', [1]], ['mix_from', 'TYPE_FP32', [1]], ['mix_z', 'TYPE_FP32', [8]]]);
  const session = await ort.InferenceSession.create(onnx);
  try {
    assert.deepEqual([...session.inputNames].sort(), inputs.map((t) => t.name).sort(), 'the config names exactly the graph inputs');
    const batch = 2;
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const t of inputs) {
      const shape = [batch, ...(t.reshape === undefined ? t.dims : (t.reshape.shape ?? []))];
      const size = shape.reduce((a, b) => a * b, 1);
      feeds[t.name] = t.data_type === 'TYPE_INT64' ? new ort.Tensor('int64', new BigInt64Array(size).fill(3n), shape) : new ort.Tensor('float32', new Float32Array(size).fill(0.5), shape);
    }
    assert.deepEqual((await session.run(feeds)).image!.dims.map(Number), [batch, 28, 28, 1]);
  } finally {
    await session.release();
  }
});

test('golden: an unconditional model has no label input; the text is stable', () => {
  const manifest = fixtureManifest({});
  assert.equal(
    tritonConfig({ name: 'default', manifest }),
    [
      '# ganforge mlp generator: z ~ N(0, I) of width 8.',
      '# Output: NHWC images in [-1, 1]. Seeded latents and truncation are computed by the client (see common/latents.ts).',
      'name: "default"',
      'platform: "onnxruntime_onnx"',
      'max_batch_size: 64',
      'input [',
      '  {',
      `    name: "${manifest.inputs.latent}"`,
      '    data_type: TYPE_FP32',
      '    dims: [ 8 ]',
      '  }',
      ']',
      'output [',
      '  {',
      `    name: "${manifest.output}"`,
      '    data_type: TYPE_FP32',
      '    dims: [ 6, 5, 1 ]',
      '  }',
      ']',
      'dynamic_batching {',
      '  preferred_batch_size: [ 8, 32 ]',
      '  max_queue_delay_microseconds: 1000',
      '}',
      'instance_group [',
      '  {',
      '    count: 1',
      '    kind: KIND_AUTO',
      '  }',
      ']',
      '',
    ].join('\n'),
  );
  parseTextFormat(tritonConfig({ name: 'default', manifest }), ModelConfig);
});

test('the reader rejects what Triton would: unknown fields, bad enums, lists for scalars; options are range-checked', () => {
  assert.throws(() => parseTextFormat('max_batch: 4', ModelConfig), /unknown field 'max_batch'/);
  assert.throws(() => parseTextFormat('input [ { name: "z" data_type: TYPE_FLOAT } ]', ModelConfig), /not a DataType value/);
  assert.throws(() => parseTextFormat('max_batch_size: [ 1, 2 ]', ModelConfig), /not repeated/);
  assert.throws(() => parseTextFormat('dynamic_batching { max_queue_delay_microseconds: -1 }', ModelConfig), /uint64/);
  const manifest = fixtureManifest({});
  assert.throws(() => tritonConfig({ name: '../x', manifest }), RangeError);
  assert.throws(() => tritonConfig({ name: 'x', manifest, maxBatchSize: 0 }), RangeError);
  assert.throws(() => tritonConfig({ name: 'x', manifest, maxBatchSize: 8, preferredBatchSizes: [16] }), /\[1, 8\]/);
  assert.doesNotMatch(tritonConfig({ name: 'x', manifest, maxBatchSize: 4 }), /preferred_batch_size/);
});
