// `ganforge export` as a library call: a run's newest checkpoint → verified .onnx + a readable JSON beside it. The
// .onnx is written under a temp name, checked for parity against tfjs from that very file, and only then renamed
// into place, so an unsupported layer or a failed check leaves no model for the server to pick up.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../common/errors.ts';
import { MANIFEST_FORMAT, type ModelManifest } from '../common/manifest.ts';
import { TRUNCATION_MODES } from '../common/truncation.ts';
import { GENERATOR_EMA_DIR, loadCheckpoint, readBestPointer } from '../train/checkpoint.ts';
import { TEMP_PREFIX, asWriteFailure, fsyncPath, writeFileAtomic } from '../train/atomic-write.ts';
import type { RunSidecar } from '../train/run-sidecar.ts';
import { GENERATOR_NAMES, exportGenerator, generatorConventions } from './export-generator.ts';
import { verifyGeneratorParity, type ParityOptions, type ParityReport } from './verify.ts';
import { GANFORGE_VERSION } from '../common/version.ts';

export const EXPORT_SIDECAR_FORMAT = 'ganforge.export/1';

export interface ExportRunOptions extends ParityOptions {
  /** Run folder (runs/<run>), or one checkpoint folder inside it. Required. */
  runDir: string;
  /** Path of the .onnx to write; `<name>.json` goes beside it. Required. */
  outPath: string;
  /** ganforge version recorded in the manifest. Default: package.json's version. */
  ganforgeVersion?: string;
  /** Export the checkpoint best.json names (best eval metric, from --eval-every) instead of the newest. Default false. */
  best?: boolean;
}

export interface WriteGeneratorOptions extends ParityOptions {
  model: tf.LayersModel;
  manifest: ModelManifest;
  /** Path of the .onnx to write; `<name>.json` goes beside it. Required. */
  outPath: string;
  /** Extra facts for the JSON sidecar (e.g. the checkpoint folder). Default none. */
  source?: Record<string, unknown>;
}

export interface ExportReport {
  /** Absolute path of the written .onnx. */
  path: string;
  /** Absolute path of the JSON written beside it. */
  sidecarPath: string;
  /** Size of the .onnx in bytes. */
  bytes: number;
  manifest: ModelManifest;
  parity: ParityReport;
}

/** The manifest of a run's generator, from its checkpoint sidecar; `averaged`: the EMA generator is the one exported. */
export function manifestFromSidecar(sidecar: RunSidecar, ganforgeVersion: string, averaged = false): ModelManifest {
  return {
    format: MANIFEST_FORMAT,
    family: sidecar.family,
    latentDim: sidecar.latentDim,
    classes: sidecar.classes,
    imageShape: sidecar.imageShape,
    valueRange: sidecar.valueRange,
    inputs: { latent: GENERATOR_NAMES.latent, label: sidecar.classes === null ? null : GENERATOR_NAMES.label },
    output: GENERATOR_NAMES.output,
    // A VAE decoder's `truncation` is the temperature T (z ~ N(0, T²·I)), which only the 'psi' mode draws.
    ...(sidecar.objective === 'variational' ? { truncationModes: ['psi' as const], truncation: { kind: 'temperature' as const } } : { truncationModes: [...TRUNCATION_MODES] }),
    training: {
      dataset: sidecar.dataset,
      steps: sidecar.step,
      epochs: sidecar.epoch,
      batchSize: sidecar.batchSize,
      seed: sidecar.seed,
      backend: sidecar.backend,
      loss: sidecar.loss,
      command: sidecar.command,
      durationSeconds: sidecar.durationSeconds,
      ...(averaged ? { generatorEma: sidecar.training?.generatorEma ?? null } : {}),
    },
    ganforgeVersion,
  };
}

/**
 * Loads the run's newest checkpoint, exports its generator (the EMA average when the run kept one, as the trainer
 * sampled it), verifies parity and writes the files.
 */
export async function exportRun(options: ExportRunOptions): Promise<ExportReport> {
  const { runDir, outPath, ganforgeVersion = GANFORGE_VERSION, best = false, ...parity } = options;
  if (typeof runDir !== 'string' || runDir === '') throw new TypeError(`'runDir' must be a non-empty string, got ${String(runDir)}`);
  const checkpoint = await loadCheckpoint(runDir, { best });
  const bestPointer = best ? await readBestPointer(runDir) : null;
  const averaged = checkpoint.generatorEma !== null;
  const model = checkpoint.generatorEma ?? checkpoint.generator;
  try {
    return await writeVerifiedGenerator({
      ...parity,
      model,
      // A style generator's own layers make it a w-space model (ψ as a graph input, noise zeroed).
      manifest: { ...manifestFromSidecar(checkpoint.sidecar, ganforgeVersion, averaged), ...generatorConventions(model) },
      outPath,
      source: {
        checkpoint: checkpoint.dir, step: checkpoint.sidecar.step, generator: averaged ? GENERATOR_EMA_DIR : 'generator',
        ...(bestPointer === null ? {} : { chosenBy: { metric: bestPointer.metric, value: bestPointer.value, better: bestPointer.better } }),
      },
    });
  } finally {
    checkpoint.generator.dispose();
    checkpoint.discriminator.dispose();
    checkpoint.generatorEma?.dispose();
  }
}

/** Exports `model`, writes it under a temp name, checks parity on that file, renames it into place, writes the JSON. */
export async function writeVerifiedGenerator(options: WriteGeneratorOptions): Promise<ExportReport> {
  const { model, manifest, outPath, source = {}, ...parityOptions } = options;
  if (typeof outPath !== 'string' || extname(outPath) !== '.onnx') {
    throw new InvalidParameterError('outPath', `'outPath' must be a path ending in .onnx, got ${JSON.stringify(outPath)}`);
  }
  const path = resolve(outPath);
  const sidecarPath = join(dirname(path), `${basename(path, '.onnx')}.json`);
  const bytes = exportGenerator(model, manifest); // throws UNSUPPORTED_LAYER before any file exists
  // The temp name does not end in .onnx, so a server watching the folder never loads a model that is still unchecked.
  const temp = join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  let parity: ParityReport;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temp, bytes, { flush: true });
    parity = await verifyGeneratorParity(model, temp, manifest, parityOptions);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    // A full or read-only disk: WRITE_FAILED naming the model file (a model already there is untouched).
    throw asWriteFailure(error, path);
  }
  await fsyncPath(dirname(path));
  const report: ExportReport = { path, sidecarPath, bytes: bytes.length, manifest, parity };
  const readable = { format: EXPORT_SIDECAR_FORMAT, model: basename(path), bytes: bytes.length, exportedAt: new Date().toISOString(), source, parity, manifest };
  await writeFileAtomic(sidecarPath, `${JSON.stringify(readable, null, 2)}\n`);
  return report;
}
