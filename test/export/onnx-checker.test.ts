// Exported models pass the ONNX reference checker with full shape inference (Debian's python3-onnx 1.12, which is why
// the exporter emits IR 8 / opset 17). onnxruntime only warns on a declared-vs-inferred shape mismatch; the checker
// fails, so this is where such exporter bugs show up. CI installs python3-onnx; elsewhere a missing checker skips.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { exportGenerator, generatorConventions } from '../../export/export-generator.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { exportForTest, randomizeWeights, testManifest, useCpuBackend } from './helpers.ts';

// Debian's own interpreter: a pyenv python3 earlier on PATH does not see the apt-installed onnx module.
const PYTHON = '/usr/bin/python3';
const CHECK = 'import sys, onnx\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(p, full_check=True)\n    print("ok", p)';

function checkerAvailable(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `${PYTHON} cannot import onnx (${(probe.stderr || String(probe.error ?? '')).trim().split('\n').pop()}); install it with 'apt-get install -y python3-onnx'`;
}

const missing = checkerAvailable();
const skip = missing !== null && process.env.CI !== 'true' ? `skipped: ${missing}` : false;

let dir: string;
before(async () => {
  await useCpuBackend();
  dir = await mkdtemp(join(tmpdir(), 'ganforge-checker-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * The generators of the families whose graphs no hand-built model above covers, as their registry builds them (narrow):
 * stylegan-lite's mapping + modulated synthesis + w-space ψ, unconditional and conditional at 28×28 and 32×32×3, and
 * the VAE decoders (MLP, conditional, convolutional).
 */
function familyGenerators(): Record<string, Uint8Array> {
  const cases: { file: string; family: string; config: Record<string, unknown>; imageShape: [number, number, number] }[] = [
    { file: 'stylegan-lite-28.onnx', family: 'stylegan-lite', config: { wDim: 16, synthesisChannels: 16, mappingLayers: 2 }, imageShape: [28, 28, 1] },
    { file: 'stylegan-lite-32-rgb.onnx', family: 'stylegan-lite', config: { wDim: 16, synthesisChannels: 16, mappingLayers: 2 }, imageShape: [32, 32, 3] },
    { file: 'cstylegan-lite-28.onnx', family: 'cstylegan-lite', config: { wDim: 16, synthesisChannels: 16, mappingLayers: 2 }, imageShape: [28, 28, 1] },
    { file: 'vae-mlp.onnx', family: 'vae', config: { hiddenUnits: [32] }, imageShape: [28, 28, 1] },
    { file: 'cvae-mlp.onnx', family: 'cvae', config: { hiddenUnits: [32] }, imageShape: [28, 28, 1] },
    { file: 'vae-conv.onnx', family: 'vae', config: { architecture: 'conv', decoderChannels: 8, encoderChannels: 4 }, imageShape: [28, 28, 1] },
  ];
  return Object.fromEntries(cases.map((c, index) => {
    const family = getFamily(c.family);
    const classes = family.conditional ? DIGITS : null;
    const model = family.buildGenerator(resolveFamilyConfig(family, c.config), { imageShape: c.imageShape, numClasses: classes?.length ?? null, latentDim: 8, seed: 20 + index });
    randomizeWeights(model, 30 + index, 0.1);
    const manifest = { ...testManifest({ family: c.family, latentDim: 8, imageShape: c.imageShape, classes }), ...generatorConventions(model) };
    return [c.file, exportGenerator(model, manifest)];
  }));
}

describe('onnx.checker.check_model(full_check=True)', { skip }, () => {
  it('accepts exported generators and discriminators covering every layer type and every family\'s generator', async () => {
    assert.equal(missing, null, missing ?? ''); // with CI=true a missing checker fails here instead of skipping

    const dcgan = tf.sequential({
      layers: [
        tf.layers.dense({ units: 4 * 4 * 8, inputShape: [6], useBias: false }),
        tf.layers.batchNormalization(),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.reshape({ targetShape: [4, 4, 8] }),
        tf.layers.conv2dTranspose({ filters: 4, kernelSize: 5, strides: 2, padding: 'same' }),
        tf.layers.reLU({ maxValue: 6 }),
        tf.layers.conv2dTranspose({ filters: 4, kernelSize: 4, strides: 2, padding: 'valid', activation: 'relu' }),
        tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }),
        tf.layers.upSampling2d({ size: [1, 1] }),
        tf.layers.conv2d({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }),
      ],
    });
    randomizeWeights(dcgan, 1);
    const dcganShape = dcgan.outputs[0]!.shape.slice(1) as [number, number, number];

    const z = tf.input({ shape: [6] });
    const label = tf.input({ shape: [1] });
    const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 10, outputDim: 6 }).apply(label)) as tf.SymbolicTensor;
    const mixed = tf.layers.multiply().apply([z, embedded]) as tf.SymbolicTensor;
    const joined = tf.layers.concatenate().apply([mixed, z]) as tf.SymbolicTensor;
    const hidden = tf.layers.activation({ activation: 'selu' }).apply(tf.layers.dense({ units: 16 }).apply(joined)) as tf.SymbolicTensor;
    const image = tf.layers.dense({ units: 16, activation: 'tanh' }).apply(tf.layers.dropout({ rate: 0.5 }).apply(hidden)) as tf.SymbolicTensor;
    const cgan = tf.model({ inputs: [z, label], outputs: image });
    randomizeWeights(cgan, 2);

    const critic = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', inputShape: [8, 8, 1] }),
        tf.layers.leakyReLU(),
        tf.layers.flatten(),
        tf.layers.dense({ units: 1, activation: 'sigmoid' }),
      ],
    });
    randomizeWeights(critic, 3);

    const files = {
      'dcgan.onnx': exportGenerator(dcgan, testManifest({ latentDim: 6, imageShape: dcganShape })),
      'cgan.onnx': exportGenerator(cgan, testManifest({ latentDim: 6, imageShape: [4, 4, 1], classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] })),
      'critic.onnx': exportForTest(critic, [{ name: 'image', data: new Float32Array(64), shape: [1, 8, 8, 1] }]),
      ...familyGenerators(),
    };
    const paths = [];
    for (const [name, bytes] of Object.entries(files)) {
      const path = join(dir, name);
      await writeFile(path, bytes);
      paths.push(path);
    }
    const result = spawnSync(PYTHON, ['-c', CHECK, ...paths], { encoding: 'utf8' });
    assert.equal(result.status, 0, `checker rejected a model:\n${result.stderr}`);
    assert.equal(result.stdout.trim().split('\n').length, paths.length);
  });
});
