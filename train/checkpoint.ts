// Checkpoints of a run: generator + discriminator as tfjs-layers models (model.json + weights.bin each) and the run
// sidecar (run.json), written atomically so a crash or Ctrl-C never leaves a half checkpoint, plus a `latest.json`
// pointer. The exporter reads runs through loadCheckpoint; tfjs-node's file:// handler is not available here, so the
// IOHandlers over fs are ours.
//
//   runs/<run>/latest.json                          {"format":"ganforge.latest/1","checkpoint":"checkpoints/step-000938","step":938}
//   runs/<run>/checkpoints/step-000938/run.json
//   runs/<run>/checkpoints/step-000938/generator/{model.json,weights.bin}
//   runs/<run>/checkpoints/step-000938/discriminator/{model.json,weights.bin}
//   runs/<run>/checkpoints/step-000938/generator-ema/{model.json,weights.bin}   (only with --ema: the averaged generator)

import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../common/errors.ts';
import { isTempName, replaceDirectoryAtomic, writeFileAtomic } from './atomic-write.ts';
import './models/layers/discriminator-layers.ts'; // registers the custom discriminator layers, so loadLayersModel can rebuild them
import { SIDECAR_FORMAT, type RunSidecar } from './run-sidecar.ts';

export const LATEST_FORMAT = 'ganforge.latest/1';
export const LATEST_FILE = 'latest.json';
export const CHECKPOINTS_DIR = 'checkpoints';
export const SIDECAR_FILE = 'run.json';
const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';
const NETWORKS = ['generator', 'discriminator'] as const;
/** Folder of the EMA generator (train/techniques/generator-ema.ts), present only in runs trained with it. */
export const GENERATOR_EMA_DIR = 'generator-ema';

/** The pointer file naming a run's newest complete checkpoint. */
export interface LatestPointer {
  format: typeof LATEST_FORMAT;
  /** Checkpoint folder, relative to the run folder. */
  checkpoint: string;
  step: number;
}

export interface LoadedCheckpoint {
  generator: tf.LayersModel;
  discriminator: tf.LayersModel;
  /** The exponential moving average of the generator's weights, when the run kept one; else null. */
  generatorEma: tf.LayersModel | null;
  sidecar: RunSidecar;
  /** Absolute path of the checkpoint folder that was loaded. */
  dir: string;
}

export interface SaveCheckpointOptions {
  /** The run folder (runs/<run>). */
  runDir: string;
  generator: tf.LayersModel;
  discriminator: tf.LayersModel;
  /** The EMA generator, saved as generator-ema/ beside the other two. Default none. */
  generatorEma?: tf.LayersModel | null;
  sidecar: RunSidecar;
  /** Complete checkpoints to keep (older ones are deleted after the pointer moves). Default 3; 0 keeps all. */
  keep?: number;
}

/** Folder name of the checkpoint at `step`: zero-padded so names sort by step. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Saves both networks and the sidecar into runs/<run>/checkpoints/step-N atomically, then moves latest.json to it. */
export async function saveCheckpoint(options: SaveCheckpointOptions): Promise<string> {
  const { runDir, generator, discriminator, generatorEma, sidecar, keep = 3 } = options;
  if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`'keep' must be a non-negative integer, got ${keep}`);
  const checkpointsDir = join(runDir, CHECKPOINTS_DIR);
  const name = checkpointName(sidecar.step);
  const dir = join(checkpointsDir, name);
  await replaceDirectoryAtomic(dir, async (temp) => {
    await saveLayersModel(generator, join(temp, 'generator'));
    await saveLayersModel(discriminator, join(temp, 'discriminator'));
    if (generatorEma) await saveLayersModel(generatorEma, join(temp, GENERATOR_EMA_DIR));
    await writeFile(join(temp, SIDECAR_FILE), `${JSON.stringify(sidecar, null, 2)}\n`, { flush: true });
  });
  const pointer: LatestPointer = { format: LATEST_FORMAT, checkpoint: `${CHECKPOINTS_DIR}/${name}`, step: sidecar.step };
  await writeFileAtomic(join(runDir, LATEST_FILE), `${JSON.stringify(pointer, null, 2)}\n`);
  if (keep > 0) await pruneCheckpoints(checkpointsDir, name, keep);
  return resolve(dir);
}

async function pruneCheckpoints(checkpointsDir: string, current: string, keep: number): Promise<void> {
  const names = (await readdir(checkpointsDir)).filter((n) => /^step-\d+$/.test(n) && n !== current).sort();
  const excess = names.length - (keep - 1);
  for (const old of names.slice(0, Math.max(0, excess))) await rm(join(checkpointsDir, old), { recursive: true, force: true });
}

/** Saves a layers model as model.json + weights.bin in `dir` (created). */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology!,
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
    };
    if (artifacts.trainingConfig !== undefined) modelJson.trainingConfig = artifacts.trainingConfig;
    await writeFile(join(dir, MODEL_FILE), JSON.stringify(modelJson), { flush: true });
    await writeFile(join(dir, WEIGHTS_FILE), new Uint8Array(weights), { flush: true });
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
}

/** An IOHandler that loads model.json + the weight files it lists from a folder on disk. */
export function fileLoadHandler(dir: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const jsonPath = join(dir, MODEL_FILE);
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (cause) {
        throw new GanforgeError('INVALID_CHECKPOINT', `${jsonPath}: cannot read the model topology (${(cause as Error).message})`, { cause });
      }
      if (typeof modelJson !== 'object' || modelJson === null || modelJson.modelTopology == null || !Array.isArray(modelJson.weightsManifest)) {
        throw new GanforgeError('INVALID_CHECKPOINT', `${jsonPath}: not a tfjs layers model.json (needs modelTopology and weightsManifest)`);
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const full = join(dir, path);
            try {
              const bytes = await readFile(full);
              buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
            } catch (cause) {
              throw new GanforgeError('INVALID_CHECKPOINT', `${full}: cannot read weights (${(cause as Error).message})`, { cause });
            }
          }
        }
        const data = tf.io.CompositeArrayBuffer.join(buffers);
        const expected = specs.reduce((sum, s) => sum + weightByteSize(s), 0);
        if (data.byteLength !== expected) {
          throw new GanforgeError('INVALID_CHECKPOINT', `${dir}: weights hold ${data.byteLength} bytes, model.json lists ${expected}`);
        }
        return [specs, data];
      });
    },
  };
}

function weightByteSize(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const bytesPer = spec.dtype === 'float32' || spec.dtype === 'int32' ? 4 : spec.dtype === 'bool' ? 1 : 4;
  return count * bytesPer;
}

/** Loads a layers model saved by saveLayersModel. */
export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(fileLoadHandler(dir));
  } catch (error) {
    if (error instanceof GanforgeError) throw error;
    throw new GanforgeError('INVALID_CHECKPOINT', `${dir}: tfjs cannot rebuild the model (${(error as Error).message})`, { cause: error });
  }
}

/**
 * Finds the checkpoint folder to load in `path`: a checkpoint folder itself (has run.json), or a run folder, whose
 * latest.json names it; without a usable pointer, the highest complete step-N folder. Temp folders are ignored.
 */
export async function resolveCheckpointDir(path: string): Promise<string> {
  const abs = resolve(path);
  if (!(await isDirectory(abs))) throw new GanforgeError('INVALID_CHECKPOINT', `${abs}: no such run or checkpoint folder`);
  if (await isCompleteCheckpoint(abs)) return abs;
  const pointerPath = join(abs, LATEST_FILE);
  const pointer = await readPointer(pointerPath);
  if (pointer !== null) {
    const dir = resolve(abs, pointer.checkpoint);
    if (relative(abs, dir).startsWith('..')) throw new GanforgeError('INVALID_CHECKPOINT', `${pointerPath}: checkpoint path leaves the run folder`);
    if (await isCompleteCheckpoint(dir)) return dir;
  }
  const checkpointsDir = join(abs, CHECKPOINTS_DIR);
  const names = (await isDirectory(checkpointsDir)) ? await readdir(checkpointsDir) : [];
  const candidates = names.filter((n) => !isTempName(n) && /^step-\d+$/.test(n)).sort().reverse();
  for (const name of candidates) {
    const dir = join(checkpointsDir, name);
    if (await isCompleteCheckpoint(dir)) return dir;
  }
  throw new GanforgeError('INVALID_CHECKPOINT', `${abs}: no complete checkpoint (no usable ${LATEST_FILE} and no ${CHECKPOINTS_DIR}/step-N with ${SIDECAR_FILE} and both networks)`);
}

async function readPointer(path: string): Promise<LatestPointer | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const p = JSON.parse(text) as Partial<LatestPointer>;
    return p.format === LATEST_FORMAT && typeof p.checkpoint === 'string' ? (p as LatestPointer) : null;
  } catch {
    return null;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isCompleteCheckpoint(dir: string): Promise<boolean> {
  const files = [SIDECAR_FILE, ...NETWORKS.flatMap((n) => [join(n, MODEL_FILE), join(n, WEIGHTS_FILE)])];
  for (const f of files) {
    try {
      if (!(await stat(join(dir, f))).isFile()) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Reads and checks run.json; throws INVALID_CHECKPOINT naming the file and field. */
export async function readSidecar(checkpointDir: string): Promise<RunSidecar> {
  const path = join(checkpointDir, SIDECAR_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new GanforgeError('INVALID_CHECKPOINT', `${path}: cannot read the run sidecar (${(cause as Error).message})`, { cause });
  }
  const s = raw as Partial<RunSidecar> | null;
  const fail = (field: string, expected: string): never => {
    throw new GanforgeError('INVALID_CHECKPOINT', `${path}: field '${field}' must be ${expected}`);
  };
  if (typeof s !== 'object' || s === null) return fail('(root)', 'an object');
  if (s.format !== SIDECAR_FORMAT) fail('format', `"${SIDECAR_FORMAT}"`);
  if (typeof s.family !== 'string') fail('family', 'a string');
  if (!Number.isInteger(s.latentDim) || (s.latentDim as number) < 1) fail('latentDim', 'a positive integer');
  if (!Array.isArray(s.imageShape) || s.imageShape.length !== 3) fail('imageShape', '[height, width, channels]');
  if (s.classes !== null && !Array.isArray(s.classes)) fail('classes', 'null or an array of strings');
  if (!Number.isInteger(s.step)) fail('step', 'an integer');
  return s as RunSidecar;
}

/**
 * Loads a run's newest complete checkpoint (or the checkpoint folder given). Needs a tfjs backend to be ready
 * (train/backend.ts selectBackend, or tfjs's default cpu). Errors are GanforgeError('INVALID_CHECKPOINT') with the path.
 */
export async function loadCheckpoint(runDir: string): Promise<LoadedCheckpoint> {
  const dir = await resolveCheckpointDir(runDir);
  const sidecar = await readSidecar(dir);
  const generator = await loadLayersModel(join(dir, 'generator'));
  const discriminator = await loadLayersModel(join(dir, 'discriminator'));
  // Checkpoints are written whole (replaceDirectoryAtomic), so a model.json here means the EMA generator was saved.
  const emaDir = join(dir, GENERATOR_EMA_DIR);
  const generatorEma = (await isFile(join(emaDir, MODEL_FILE))) ? await loadLayersModel(emaDir) : null;
  return { generator, discriminator, generatorEma, sidecar, dir };
}
