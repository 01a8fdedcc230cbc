// Tile's gradient (train/tile-gradient.ts), which replaces tfjs-core's one-slice-per-copy gradient: equal to the sum of
// dy's copies computed element by element in JS, on every backend that loads, for ranks 1–4 and mixed reps; reached by
// tf.grad through tf.tile once gan-stepper.ts is imported; and — the reason it exists — a LayerNorm critic's gradient
// penalty (tf.grad inside tf.variableGrads) runs the same number of kernels whatever the critic's width, where
// tfjs-core's gradient ran one Slice (and, differentiated again, one PadV2) per tiled element.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../../common/random.ts';
import { selectBackend, type BackendName } from '../../train/backend.ts';
import '../../train/gan-stepper.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { criticGradientNorms } from '../../train/techniques/gradient-penalty.ts';
import { tileGradient } from '../../train/tile-gradient.ts';

/** Row-major strides of `shape`. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1]! * shape[i + 1]!;
  return out;
}

/** The reference: dx[j] = Σ over every output index whose coordinates are ≡ j modulo the input shape, of dy there. */
function referenceTileGradient(dy: Float32Array, inputShape: readonly number[], reps: readonly number[]): Float32Array {
  const outputShape = inputShape.map((n, i) => n * reps[i]!);
  const outStrides = strides(outputShape);
  const inStrides = strides(inputShape);
  const dx = new Float32Array(inputShape.reduce((a, b) => a * b, 1));
  for (let flat = 0; flat < dy.length; flat++) {
    let source = 0;
    for (let axis = 0; axis < outputShape.length; axis++) {
      const coordinate = Math.floor(flat / outStrides[axis]!) % outputShape[axis]!;
      source += (coordinate % inputShape[axis]!) * inStrides[axis]!;
    }
    dx[source] = dx[source]! + dy[flat]!;
  }
  return dx;
}

function randomValues(count: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: count }, () => 2 * random.nextOpenUnit() - 1);
}

const CASES: { shape: number[]; reps: number[] }[] = [
  { shape: [5], reps: [3] },
  { shape: [2, 3], reps: [1, 1] },
  { shape: [2, 3], reps: [4, 2] },
  { shape: [3, 1, 2], reps: [1, 5, 2] },
  { shape: [2, 1, 1, 1], reps: [1, 7, 7, 16] }, // LayerNorm's statistics: one per sample, tiled over H, W, C
  { shape: [1, 1, 1, 4], reps: [3, 2, 2, 1] }, // LayerNorm's γ and β: one per channel, tiled over B, H, W
  { shape: [2, 3, 2, 2], reps: [2, 1, 3, 2] },
];

async function loadableBackends(): Promise<BackendName[]> {
  const names: BackendName[] = [];
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    if ((await selectBackend({ prefer: name })).name === name) names.push(name);
  }
  return names;
}

describe('Tile gradient', () => {
  let backends: BackendName[] = [];
  before(async () => { backends = await loadableBackends(); });

  for (const backend of ['tensorflow', 'wasm', 'cpu'] as const) {
    describe(`on ${backend}`, () => {
      before(async () => { if (backends.includes(backend)) await tf.setBackend(backend); });

      it('equals the element-by-element sum of dy\'s copies, directly and through tf.grad of tf.tile', (t) => {
        if (!backends.includes(backend)) return t.skip(`${backend} does not load here`);
        assert.equal(tf.getBackend(), backend);
        CASES.forEach(({ shape, reps }, index) => {
          const outputShape = shape.map((n, i) => n * reps[i]!);
          const dyValues = randomValues(outputShape.reduce((a, b) => a * b, 1), 100 + index);
          const expected = referenceTileGradient(dyValues, shape, reps);
          const before = tf.memory().numTensors;
          const [direct, viaGrad] = tf.tidy(() => {
            const dy = tf.tensor(dyValues, outputShape);
            const x = tf.tensor(randomValues(expected.length, index), shape);
            // d/dx Σ tile(x)·dy = the Tile gradient of dy.
            const g = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.tile(input, reps), dy)))(x);
            return [tileGradient(dy, shape, reps), g];
          });
          for (const [label, got] of [['tileGradient', direct], ['tf.grad', viaGrad]] as const) {
            assert.deepEqual(got.shape, shape, `${label} shape for ${JSON.stringify({ shape, reps })}`);
            const values = got.dataSync();
            for (let i = 0; i < expected.length; i++) {
              assert.ok(Math.abs(values[i]! - expected[i]!) <= 1e-5 * (1 + Math.abs(expected[i]!)), `${label} ${JSON.stringify({ shape, reps })}[${i}]: ${values[i]} vs ${expected[i]}`);
            }
          }
          tf.dispose([direct, viaGrad]);
          assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
        });
      });

      it("a LayerNorm DCGAN critic's gradient penalty runs the same kernels at 4× the width, not one per tiled element", async (t) => {
        if (!backends.includes(backend)) return t.skip(`${backend} does not load here`);
        const family = getFamily('dcgan');
        const kernelCount = async (discriminatorChannels: number): Promise<{ kernels: number; slices: number }> => {
          const d = family.buildDiscriminator(resolveFamilyConfig(family, { discriminatorNorm: 'layer', discriminatorChannels }),
            { imageShape: [28, 28, 1], numClasses: null, latentDim: 8, seed: 3 });
          const x = tf.tensor4d(randomValues(2 * 784, 9), [2, 28, 28, 1]);
          const variables = d.trainableWeights.map((w) => w.read() as tf.Variable);
          const profile = await tf.profile(() => {
            const { value, grads } = tf.variableGrads(() => tf.square(tf.sub(criticGradientNorms((im) => d.apply(im, { training: true }) as tf.Tensor, x), 1)).mean<tf.Scalar>(), variables);
            tf.dispose([value, ...Object.values(grads)]);
          });
          d.dispose();
          x.dispose();
          return { kernels: profile.kernels.length, slices: profile.kernels.filter((k) => k.name === 'Slice' || k.name === 'PadV2').length };
        };
        const narrow = await kernelCount(4);
        const wide = await kernelCount(16);
        // tfjs-core's gradient: 7·7·(2·4) = 392 Slices at width 4 and 1,568 at 16 in the first backward pass alone.
        assert.equal(wide.kernels, narrow.kernels, `kernels at width 4: ${narrow.kernels}, at 16: ${wide.kernels}`);
        assert.ok(narrow.slices < 10, `${narrow.slices} Slice/PadV2 kernels in the penalty's double backprop`);
      });
    });
  }
});
