import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import { readManifest, readOnnxMetadata } from '../../common/onnx-metadata.ts';
import { GanforgeError } from '../../common/errors.ts';
import { MANIFEST_FORMAT, MANIFEST_KEY, type ModelManifest } from '../../common/manifest.ts';

const { onnx } = onnxProto;
const manifest: ModelManifest = {
  format: MANIFEST_FORMAT, family: 'mlp', latentDim: 100, classes: null, imageShape: [28, 28, 1], valueRange: [-1, 1],
  inputs: { latent: 'z', label: null }, output: 'image', truncationModes: ['psi', 'resample'],
  training: { dataset: 'mnist', steps: 10, epochs: 1, batchSize: 64, seed: 1, backend: 'wasm', loss: 'non-saturating' }, ganforgeVersion: '0.1.0',
};
const encode = (metadataProps: { key: string; value: string }[]) =>
  onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, producerName: 'test', opsetImport: [{ domain: '', version: 17 }], docString: 'ünïcode ✓',
    graph: { name: 'g', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }] }, metadataProps,
  })).finish();

describe('readOnnxMetadata', () => {
  it('reads metadata_props written by onnx-proto, including unicode', () => {
    const props = readOnnxMetadata(encode([{ key: 'a', value: '1' }, { key: MANIFEST_KEY, value: JSON.stringify(manifest) }, { key: 'name', value: 'Ziffern ✓' }]));
    assert.equal(props.get('a'), '1');
    assert.equal(props.get('name'), 'Ziffern ✓');
    assert.deepEqual(readManifest(encode([{ key: MANIFEST_KEY, value: JSON.stringify(manifest) }]), 'x.onnx'), manifest);
  });
  it('reports a model without a manifest as INVALID_MODEL naming the file', () => {
    assert.throws(() => readManifest(encode([]), 'plain.onnx'), (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_MODEL' && /plain\.onnx: no 'ganforge\.manifest'/.test(e.message));
  });
  it('reports truncated or garbage bytes as INVALID_MODEL', () => {
    const bytes = encode([{ key: MANIFEST_KEY, value: JSON.stringify(manifest) }]);
    assert.throws(() => readManifest(bytes.subarray(0, bytes.length - 7), 'cut.onnx'), (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_MODEL');
    assert.throws(() => readManifest(new TextEncoder().encode('<html>not a model</html>'), 'page.onnx'), (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_MODEL');
  });
  it('names the bad manifest field', () => {
    const bad = { ...manifest, latentDim: -3 };
    assert.throws(() => readManifest(encode([{ key: MANIFEST_KEY, value: JSON.stringify(bad) }]), 'm.onnx'), /manifest field 'latentDim' must be a positive integer/);
    const mismatch = { ...manifest, classes: ['a', 'b'] };
    assert.throws(() => readManifest(encode([{ key: MANIFEST_KEY, value: JSON.stringify(mismatch) }]), 'm.onnx'), /inputs\.label/);
  });
});
