// Every exported layer type, run in the real onnxruntime-node and compared with tfjs predict on random weights (the
// cases live in layer-cases.ts; ops-web.test.ts runs the same ones in onnxruntime-web), plus what only needs the
// exporter: the registry is fully covered, ConvTranspose keeps a CUDA-friendly form, unsupported input is refused.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { attr, OnnxGraphBuilder } from '../../export/onnx-graph.ts';
import { SUPPORTED_LAYERS } from '../../export/ops/registry.ts';
import { convTransposeCudaFallbacks, decodeNodes, exportForTest, randomValues, useCpuBackend, type TestInput } from './helpers.ts';
import { defineParitySuite, layerClassesCovered, PARITY_CASES } from './layer-cases.ts';

function imageInput(shape: number[]): TestInput {
  return { name: 'x', data: randomValues(shape.reduce((a, b) => a * b, 1), 1), shape: [1, ...shape] };
}

/** A one-layer model on an input of the given shape. */
function single(inputShape: number[], layer: tf.layers.Layer): tf.LayersModel {
  const x = tf.input({ shape: inputShape });
  return tf.model({ inputs: x, outputs: layer.apply(x) as tf.SymbolicTensor });
}

before(async () => {
  await useCpuBackend();
});

defineParitySuite('onnxruntime-node');

describe('the parity cases', () => {
  it('cover every converter in the registry, each with a group of its own', () => {
    const covered = layerClassesCovered();
    const groups = new Set(PARITY_CASES.map((c) => c.layer));
    for (const name of SUPPORTED_LAYERS) {
      assert.ok(covered.has(name), `${name} is used by a parity case`);
      if (name !== 'InputLayer' && name !== 'Dropout') assert.ok(groups.has(name), `${name} has its own parity group`);
    }
  });
});

describe('ConvTranspose stays in the form the CUDA provider runs on the GPU', () => {
  it("k5 s2 'same' (TF's uneven trim) becomes symmetric pads [1, 1, 1, 1] and a Slice, decoded from the ModelProto", () => {
    const model = single([4, 4, 2], tf.layers.conv2dTranspose({ filters: 2, kernelSize: 5, strides: 2, padding: 'same' }));
    const nodes = decodeNodes(exportForTest(model, [imageInput([4, 4, 2])]));
    const convT = nodes.filter((n) => n.opType === 'ConvTranspose');
    assert.equal(convT.length, 1);
    assert.deepEqual((convT[0]!.attributes.get('pads')?.ints ?? []).map(Number), [1, 1, 1, 1]);
    assert.equal(convT[0]!.attributes.has('auto_pad'), false);
    assert.ok(nodes.some((n) => n.opType === 'Slice'), 'a Slice trims the extra row and column');
  });

  it('the check itself flags asymmetric pads and auto_pad (so the per-case assertion can fail)', () => {
    const graph = new OnnxGraphBuilder();
    const x = graph.addInput('x', 'float32', ['batch', 2, 4, 4]);
    const w = graph.addFloatInitializer('w', [2, 2, 3, 3], new Float32Array(36));
    const a = graph.addNode('ConvTranspose', [x, w], 'asymmetric', { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([0, 0, 1, 1]) });
    const b = graph.addNode('ConvTranspose', [a, w], 'auto', { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), auto_pad: attr.string('SAME_UPPER') });
    const c = graph.addNode('ConvTranspose', [b, w], 'fine', { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), auto_pad: attr.string('NOTSET') });
    graph.addOutput(c, 'float32', ['batch', 2, 16, 16]);
    const problems = convTransposeCudaFallbacks(graph.toBytes());
    assert.equal(problems.length, 2, problems.join('; '));
    assert.match(problems[0]!, /asymmetric pads \[0, 0, 1, 1\]/);
    assert.match(problems[1]!, /auto_pad=SAME_UPPER/);
  });
});

describe('unsupported layers and configs', () => {
  it('a layer with no mapping fails with UNSUPPORTED_LAYER naming its class and the supported list', () => {
    const model = single([8, 8, 1], tf.layers.maxPooling2d({ poolSize: 2 }));
    assert.throws(
      () => exportForTest(model, [imageInput([8, 8, 1])]),
      (e: unknown) => {
        assert.ok(e instanceof GanforgeError);
        assert.equal(e.code, 'UNSUPPORTED_LAYER');
        assert.match(e.message, /MaxPooling2D/);
        for (const name of SUPPORTED_LAYERS) assert.ok(e.message.includes(name), `message lists ${name}`);
        return true;
      },
    );
  });

  it('BatchNormalization on a non-channel axis is refused (tfjs itself normalizes it as if it were the last axis)', () => {
    const model = single([2, 3, 1], tf.layers.batchNormalization({ axis: 1 }));
    assert.throws(() => exportForTest(model, [imageInput([2, 3, 1])]), (e: unknown) => e instanceof GanforgeError && e.code === 'UNSUPPORTED_LAYER' && /'axis'/.test(e.message));
  });

  it('Add of a rank-2 and a rank-4 value (tfjs rank-expanding broadcast) is refused naming the ranks', () => {
    const a = tf.input({ shape: [2] });
    const b = tf.input({ shape: [3, 4, 2] });
    const model = tf.model({ inputs: [a, b], outputs: tf.layers.add().apply([b, a]) as tf.SymbolicTensor });
    assert.throws(
      () => exportForTest(model, [{ name: 'a', data: new Float32Array(2), shape: [1, 2] }, imageInput([3, 4, 2])]),
      (e: unknown) => e instanceof GanforgeError && e.code === 'UNSUPPORTED_LAYER' && /'input ranks' = \[4,2\]/.test(e.message),
    );
  });

  it('an activation with no mapping fails with UNSUPPORTED_LAYER naming it', () => {
    const model = single([4], tf.layers.dense({ units: 2, activation: 'gelu' }));
    assert.throws(() => exportForTest(model, [{ name: 'z', data: new Float32Array(4), shape: [1, 4] }]), (e: unknown) => {
      assert.ok(e instanceof GanforgeError);
      assert.equal(e.code, 'UNSUPPORTED_LAYER');
      assert.match(e.message, /"gelu"/);
      assert.match(e.message, /supported activations: .*tanh/);
      return true;
    });
  });
});
