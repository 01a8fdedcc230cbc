// `ganforge train`: parses flags into TrainGanOptions, picks the tfjs backend (and says why better ones were skipped),
// and turns Ctrl-C into "save a checkpoint, then exit" instead of losing the run.

import { resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidParameterError } from '../common/errors.ts';
import { BACKEND_PREFERENCES, describeBackend, selectBackend, type BackendPreference } from '../train/backend.ts';
import { CACHE_DIR_NAME, DEFAULT_MAX_IN_MEMORY_BYTES } from '../train/dataset/image-folder.ts';
import { DATASETS } from '../train/dataset/registry.ts';
import { FAMILIES } from '../train/models/registry.ts';
import { portableCommand } from '../train/portable-paths.ts';
import { LOSSES } from '../train/losses/registry.ts';
import { OPTIMIZERS } from '../train/optimizers/registry.ts';
import { SCHEDULE_FORMS } from '../train/optimizers/schedule.ts';
import { BEST_METRICS, type BestMetric } from '../train/checkpoint.ts';
import { PRESETS } from '../train/presets.ts';
import { startDashboard, type Dashboard } from '../train/dashboard/server.ts';
import { formatRunSummary } from '../train/run-summary.ts';
import { train } from '../train/train.ts';
import type { TrainGanOptions } from '../train/trainer.ts';
import type { Subcommand } from './subcommand.ts';

const HELP = `usage: ganforge train --family <name> --dataset <name|idx-path|image-folder> --out <run-dir> [options]

  --family NAME          family (vae/cvae: a VAE, trained on the ELBO; lr-g/lr-d are its decoder/encoder rates, default 1e-3): ${Object.entries(FAMILIES).map(([n, f]) => `${n} (${f.summary})`).join('; ')}
  --dataset NAME|PATH    ${Object.keys(DATASETS).join(', ')}, an IDX images file (e.g. Fashion-MNIST's train-images-idx3-ubyte), or a
                         folder of PNG/JPEG images: one sub-folder per class (sorted names), or images directly in it (unlabelled);
                         decoded once into <folder>/${CACHE_DIR_NAME}/ and reused while the files are unchanged
  --image-size N         image folders: centre-crop and resize every image to N×N (default: their own size if all agree and are square)
  --channels 1|3         image folders: 1 = grey (luma), 3 = RGB (default: 3 if any image is in colour, else 1)
  --cache-dir DIR        image folders: where the decoded cache lives (default <folder>/${CACHE_DIR_NAME})
  --memory-mb N          image folders: above N MB of float32 pixels, read batches from the disk cache (default ${DEFAULT_MAX_IN_MEMORY_BYTES / 2 ** 20})
  --labels PATH          IDX labels file for a dataset given by path (needed by conditional families)
  --class-names A,B,...  class names for the labels of a dataset given by path
  --out DIR              run folder: checkpoints/, latest.json, metrics.jsonl, samples/ (default runs/<family>-<dataset>)
  --epochs N             passes over the data (default 5)
  --steps N              stop after N generator updates instead
  --batch-size N         images per batch (default 64)
  --set KEY=VALUE        a family config field (repeatable; VALUE is JSON or text), e.g. --set discriminatorNorm=layer
  --minibatch-stddev     D sees the minibatch standard deviation (Karras et al. 2018); = --set minibatchStddev=true
  --spectral-norm        spectral normalisation of D's kernels (Miyato et al. 2018); = --set spectralNorm=true
  --preset NAME          ${Object.values(PRESETS).map((p) => `${p.name}: ${p.summary}`).join('\n                         ')}
                         (flags given explicitly override the preset)
  --loss NAME            ${Object.values(LOSSES).map((l) => `${l.name}: ${l.summary}`).join('\n                         ')}
                         (default non-saturating)
  --optimizer NAME       ${Object.values(OPTIMIZERS).map((k) => `${k.name}: ${k.summary}`).join('\n                         ')}
                         (default adam)
  --lr-g X, --lr-d X     learning rates of generator / discriminator (default 2e-4 each)
  --lr-schedule S        ${SCHEDULE_FORMS} (default constant)
  --beta1 X, --beta2 X   Adam β (default 0.5, 0.999)
  --momentum X           SGD / RMSProp momentum (default 0)
  --rho X                RMSProp decay (default 0.9)
  --epsilon X            Adam / RMSProp ε (default 1e-7)
  --d-steps N            discriminator (critic) updates per generator update (default 1; WGAN uses 5)
  --gradient-penalty X   WGAN-GP penalty weight λ on random real/fake interpolates (default 0 = off; the paper uses 10)
  --weight-clip X        WGAN: clip critic weights to ±X after each update (default 0 = off; the paper uses 0.01)
  --label-smoothing X    one-sided: real targets 1 − X (default 0; 0.1 is usual; non-saturating/minimax only)
  --ema X                average G's weights with decay X (e.g. 0.999); the average is sampled and exported (default 0 = off)
  --eval-every N         run the eval protocol (MNIST judge, 1,000 samples) every N steps; checkpoints there, for export --best
  --dashboard            serve the live dashboard of this run while it trains (its stop button saves and stops)
  --dashboard-port N     its port (default 8090; 0 picks a free one)
  --no-diagnoses         do not watch for a won discriminator, mode collapse or divergence (warnings in diagnoses.jsonl)
  --latent-dim N         width of z (default 100)
  --seed N               seed of weights, batch order and latents (default 0)
  --limit N              train on the first N images only (image folders: N taken round-robin over the classes)
  --sample-every N       also write a sample grid every N steps (default: per epoch)
  --checkpoint-every N   also checkpoint every N steps (default: per epoch)
  --keep-checkpoints N   complete checkpoints kept, newest first (default 3; 0 = all)
  --keep-best METRIC     also keep the checkpoint with the best eval metric (best.json, for export --best):
                         ${Object.keys(BEST_METRICS).join(' | ')} | none (default frechetDistance)
  --resume               continue the run in --out exactly from its latest complete checkpoint (weights, optimizer
                         state, step, data order, random streams)
  --backend NAME         ${BACKEND_PREFERENCES.join(' | ')} (default auto: tensorflow → wasm → cpu)
  --threads N|auto       threads of the wasm backend (default auto: every core; 1 = its single-threaded SIMD build)
  -h, --help             this text

Ctrl-C saves a checkpoint at the current step and exits; a second Ctrl-C (a second later) exits at once.`;

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      family: { type: 'string' }, dataset: { type: 'string' }, labels: { type: 'string' }, 'class-names': { type: 'string' },
      out: { type: 'string' }, epochs: { type: 'string' }, steps: { type: 'string' }, 'batch-size': { type: 'string' },
      'lr-g': { type: 'string' }, 'lr-d': { type: 'string' }, 'latent-dim': { type: 'string' }, loss: { type: 'string' },
      set: { type: 'string', multiple: true }, preset: { type: 'string' }, optimizer: { type: 'string' }, 'lr-schedule': { type: 'string' },
      beta1: { type: 'string' }, beta2: { type: 'string' }, momentum: { type: 'string' }, rho: { type: 'string' }, epsilon: { type: 'string' },
      'eval-every': { type: 'string' }, 'no-diagnoses': { type: 'boolean' }, dashboard: { type: 'boolean' }, 'dashboard-port': { type: 'string' },
      'gradient-penalty': { type: 'string' }, 'weight-clip': { type: 'string' }, 'label-smoothing': { type: 'string' }, ema: { type: 'string' },
      'd-steps': { type: 'string' }, seed: { type: 'string' }, limit: { type: 'string' }, 'sample-every': { type: 'string' },
      'checkpoint-every': { type: 'string' }, 'keep-checkpoints': { type: 'string' }, 'keep-best': { type: 'string' }, resume: { type: 'boolean' }, 'minibatch-stddev': { type: 'boolean' }, 'spectral-norm': { type: 'boolean' }, backend: { type: 'string' }, threads: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      'image-size': { type: 'string' }, channels: { type: 'string' }, 'cache-dir': { type: 'string' }, 'memory-mb': { type: 'string' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const family = values.family ?? 'mlp';
  const dataset = values.dataset ?? 'mnist';
  const backend = (values.backend ?? 'auto') as BackendPreference;
  if (!(BACKEND_PREFERENCES as readonly string[]).includes(backend)) {
    throw new InvalidParameterError('backend', `'--backend' must be one of ${BACKEND_PREFERENCES.join(', ')}, got ${backend}`);
  }
  const threads = values.threads === undefined || values.threads === 'auto' ? 'auto' : int(values.threads, 'threads', 1);
  const selected = await selectBackend({ prefer: backend, wasmThreads: threads });
  console.error(describeBackend(selected));

  const controller = new AbortController();
  let firstInterrupt = 0;
  const onSigint = () => {
    // One Ctrl-C can arrive twice (the terminal signals the whole group and wrappers such as npx/tsx relay it), so
    // only a second press a moment later means "quit without saving".
    if (firstInterrupt > 0) {
      if (Date.now() - firstInterrupt > 1000) process.exit(130);
      return;
    }
    firstInterrupt = Date.now();
    console.error('\ninterrupted: saving a checkpoint at the current step (Ctrl-C again to quit without saving)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const outDir = values.out ?? `runs/${family}-${dataset.replace(/[^A-Za-z0-9_-]+/g, '_').slice(-40)}`;
  let dashboard: Dashboard | null = null;
  if (values.dashboard) {
    await mkdir(outDir, { recursive: true });
    dashboard = await startDashboard({
      runsDir: outDir, port: values['dashboard-port'] === undefined ? 8090 : int(values['dashboard-port'], 'dashboard-port', 0),
      onStop: () => {
        console.error('\ndashboard: stop requested: saving a checkpoint at the current step');
        controller.abort();
      },
    });
    console.error(`dashboard: ${dashboard.url}`);
  }
  try {
    // train() picks the loop by the family's objective (the GAN loop, or the VAE loop for vae/cvae).
    const result = await train({
      family,
      dataset,
      datasetOptions: {
        ...(values.labels === undefined ? {} : { labelsPath: values.labels }),
        ...(values['class-names'] === undefined ? {} : { classNames: values['class-names'].split(',').map((s) => s.trim()) }),
        ...(values.limit === undefined ? {} : { limit: int(values.limit, 'limit', 1) }),
        ...(values['image-size'] === undefined ? {} : { imageSize: int(values['image-size'], 'image-size', 1) }),
        ...(values.channels === undefined ? {} : { channels: channelsFlag(values.channels) }),
        ...(values['cache-dir'] === undefined ? {} : { cacheDir: values['cache-dir'] }),
        ...(values['memory-mb'] === undefined ? {} : { maxInMemoryBytes: int(values['memory-mb'], 'memory-mb', 0) * 2 ** 20 }),
      },
      outDir,
      ...(values.epochs === undefined ? {} : { epochs: int(values.epochs, 'epochs', 1) }),
      ...(values.steps === undefined ? {} : { steps: int(values.steps, 'steps', 1) }),
      ...(values['batch-size'] === undefined ? {} : { batchSize: int(values['batch-size'], 'batch-size', 1) }),
      ...(values['lr-g'] === undefined ? {} : { learningRateGenerator: num(values['lr-g'], 'lr-g') }),
      ...(values['lr-d'] === undefined ? {} : { learningRateDiscriminator: num(values['lr-d'], 'lr-d') }),
      ...(values['latent-dim'] === undefined ? {} : { latentDim: int(values['latent-dim'], 'latent-dim', 1) }),
      ...(values['d-steps'] === undefined ? {} : { discriminatorSteps: int(values['d-steps'], 'd-steps', 1) }),
      ...(values.seed === undefined ? {} : { seed: int(values.seed, 'seed', 0) }),
      ...(values['sample-every'] === undefined ? {} : { sampleEvery: int(values['sample-every'], 'sample-every', 0) }),
      ...(values['checkpoint-every'] === undefined ? {} : { checkpointEvery: int(values['checkpoint-every'], 'checkpoint-every', 0) }),
      ...(values['keep-checkpoints'] === undefined ? {} : { keepCheckpoints: int(values['keep-checkpoints'], 'keep-checkpoints', 0) }),
      ...(values['keep-best'] === undefined ? {} : { keepBest: keepBestFlag(values['keep-best']) }),
      ...(values.loss === undefined ? {} : { loss: values.loss }),
      ...(values.preset === undefined ? {} : { preset: values.preset }),
      ...(values.optimizer === undefined ? {} : { optimizer: values.optimizer }),
      ...(values['lr-schedule'] === undefined ? {} : { lrSchedule: values['lr-schedule'] }),
      ...(values.set === undefined && !values['minibatch-stddev'] && !values['spectral-norm'] ? {} : {
        familyConfig: {
          ...(values['minibatch-stddev'] ? { minibatchStddev: true } : {}),
          ...(values['spectral-norm'] ? { spectralNorm: true } : {}),
          ...familyConfigFlags(values.set ?? []),
        },
      }),
      ...numberFlags(values, { beta1: 'beta1', beta2: 'beta2', momentum: 'momentum', rho: 'rho', epsilon: 'epsilon', 'gradient-penalty': 'gradientPenalty',
        'weight-clip': 'weightClip', 'label-smoothing': 'labelSmoothing', ema: 'generatorEma' }),
      ...(values['eval-every'] === undefined ? {} : { evalEvery: int(values['eval-every'], 'eval-every', 1) }),
      ...(values['no-diagnoses'] ? { diagnoses: false } : {}),
      resume: values.resume ?? false,
      signal: controller.signal,
      // Recorded in the sidecar and the exported model: absolute paths made relative to the run folder.
      command: portableCommand(['ganforge', 'train', ...args], resolve(outDir)),
    });
    console.error(formatRunSummary(result.summary));
    return result.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    await dashboard?.close();
  }
}

function int(text: string, name: string, min: number): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) throw new InvalidParameterError(name, `'--${name}' must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  return value;
}

/** Flags that are plain numbers ≥ 0, copied into the options under their option names; ranges are checked by trainGan. */
type NumberOption = 'beta1' | 'beta2' | 'momentum' | 'rho' | 'epsilon' | 'gradientPenalty' | 'weightClip' | 'labelSmoothing' | 'generatorEma';

function numberFlags(values: Record<string, unknown>, names: Record<string, NumberOption>): Pick<TrainGanOptions, NumberOption> {
  const out: Pick<TrainGanOptions, NumberOption> = {};
  for (const [flag, option] of Object.entries(names)) {
    const text = values[flag];
    if (typeof text !== 'string') continue;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new InvalidParameterError(option, `'--${flag}' must be a number ≥ 0, got ${JSON.stringify(text)}`);
    out[option] = value;
  }
  return out;
}

/** --set KEY=VALUE pairs: VALUE parsed as JSON (numbers, booleans, arrays), else kept as text. */
function familyConfigFlags(pairs: string[]): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidParameterError('set', `'--set' takes KEY=VALUE (a family config field), got ${JSON.stringify(pair)}`);
    const text = pair.slice(eq + 1);
    let value: unknown = text;
    try { value = JSON.parse(text); } catch { /* not JSON: a plain string such as 'layer' */ }
    config[pair.slice(0, eq)] = value;
  }
  return config;
}

function keepBestFlag(text: string): BestMetric | null {
  if (text === 'none') return null;
  if (Object.hasOwn(BEST_METRICS, text)) return text as BestMetric;
  throw new InvalidParameterError('keep-best', `'--keep-best' must be one of ${Object.keys(BEST_METRICS).join(', ')}, none, got ${JSON.stringify(text)}`);
}

function channelsFlag(text: string): 1 | 3 {
  if (text.trim() === '1') return 1;
  if (text.trim() === '3') return 3;
  throw new InvalidParameterError('channels', `'--channels' must be 1 or 3, got ${JSON.stringify(text)}`);
}

function num(text: string, name: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new InvalidParameterError(name, `'--${name}' must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

export const trainCommand: Subcommand = {
  summary: 'train a GAN on a dataset',
  run,
};
