// The WGAN-GP penalty's double backprop through a LayerNorm DCGAN critic (--preset wgan-gp's critic), timed with
// tfjs-core's own Tile gradient (one slice per copy; the baseline) and with train/tile-gradient.ts, in the same run on
// the same backend, alternating. The stock gradient's cost grows with the critic's width, so its largest case is
// bounded by --stock-max-width.
//
//   npx tsx bench/gradient-penalty.ts [--backend wasm] [--batch 8] [--widths 8,16,32,64] [--stock-max-width 32] [--runs 5]

import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
// Captured before anything registers ganforge's gradient (gan-stepper.ts does so on import).
const stockTileGradient = tf.getGradient('Tile');
const { selectBackend } = await import('../train/backend.ts');
const { getFamily, resolveFamilyConfig } = await import('../train/models/registry.ts');
const { criticGradientNorms } = await import('../train/techniques/gradient-penalty.ts');
const { tileGradientConfig } = await import('../train/tile-gradient.ts');
const { medianSeconds } = await import('./timing.ts');

const { values } = parseArgs({
  options: { backend: { type: 'string' }, batch: { type: 'string' }, widths: { type: 'string' }, 'stock-max-width': { type: 'string' }, runs: { type: 'string' } },
});
const batch = Number(values.batch ?? 8);
const widths = (values.widths ?? '8,16,32,64').split(',').map(Number);
const stockMaxWidth = Number(values['stock-max-width'] ?? 32);
const runs = Number(values.runs ?? 5);
const selected = await selectBackend({ prefer: (values.backend ?? 'wasm') as 'wasm' });
const family = getFamily('dcgan');

/** Seconds for one penalty value and its gradient over the critic's weights, and the kernels it ran. */
async function penaltyStep(width: number): Promise<{ seconds: number; kernels: number }> {
  const d = family.buildDiscriminator(resolveFamilyConfig(family, { discriminatorNorm: 'layer', discriminatorChannels: width }), { imageShape: [28, 28, 1], numClasses: null, latentDim: 100, seed: 1 });
  const x = tf.randomUniform([batch, 28, 28, 1], -1, 1, 'float32', 7);
  const variables = d.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => tf.square(tf.sub(criticGradientNorms((im) => d.apply(im, { training: true }) as tf.Tensor, x), 1)).mean<tf.Scalar>(), variables);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const profile = await tf.profile(step);
  const seconds = await medianSeconds(step, 1, runs);
  d.dispose();
  x.dispose();
  return { seconds, kernels: profile.kernels.length };
}

console.log(`backend ${selected.name}, batch ${batch}, median of ${runs} runs after 1 warm-up, ${new Date().toISOString()}`);
console.log('| critic width | stock Tile gradient | kernels | ganforge Tile gradient | kernels | speed-up |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const width of widths) {
  let stock: { seconds: number; kernels: number } | null = null;
  if (width <= stockMaxWidth) {
    tf.registerGradient(stockTileGradient);
    stock = await penaltyStep(width);
  }
  tf.registerGradient(tileGradientConfig);
  const ours = await penaltyStep(width);
  const cell = (r: { seconds: number; kernels: number } | null) => (r === null ? '— | —' : `${(r.seconds * 1000).toFixed(0)} ms | ${r.kernels}`);
  console.log(`| ${width} | ${cell(stock)} | ${cell(ours)} | ${stock === null ? '—' : `${(stock.seconds / ours.seconds).toFixed(1)}×`} |`);
}
