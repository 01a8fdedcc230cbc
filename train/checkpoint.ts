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
//   runs/<run>/checkpoints/step-000938/optimizer/{state.json,weights.bin}       both optimizers' state (train/optimizers/state.ts)
//   runs/<run>/checkpoints/step-000938/checksums.json                            size and SHA-256 of every file above, written last
//   runs/<run>/best.json                             like latest.json, naming the checkpoint with the best eval metric (--eval-every)
//
// Loading a run verifies each candidate (files present, sizes against model.json's weightsManifest, the checksums) and
// skips a corrupt or half-written one with a message naming it, falling back to the previous complete one.

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../common/errors.ts';
import { isTempName, replaceDirectoryAtomic, writeFileAtomic } from './atomic-write.ts';
import './models/layers/discriminator-layers.ts'; // registers the custom discriminator layers, so loadLayersModel can rebuild them
import './models/layers/generator-layers.ts'; // and the style generator's (stylegan-lite)
import { OPTIMIZER_STATE_FORMAT, type OptimizerState, type OptimizerStateManifest } from './optimizers/state.ts';
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
/** Folder of both optimizers' state: state.json (manifest) + weights.bin. Absent in checkpoints saved before it existed. */
export const OPTIMIZER_DIR = 'optimizer';
const OPTIMIZER_MANIFEST_FILE = 'state.json';
export const CHECKSUMS_FILE = 'checksums.json';
export const CHECKSUMS_FORMAT = 'ganforge.checksums/1';
export const BEST_FILE = 'best.json';
export const BEST_FORMAT = 'ganforge.best/1';

/** Eval metrics a best checkpoint can be chosen by, and which way is better. */
export const BEST_METRICS = Object.freeze({ frechetDistance: 'lower', conditionalAccuracy: 'higher', classCoverage: 'higher' } as const);
export type BestMetric = keyof typeof BEST_METRICS;

/** The pointer file naming the checkpoint whose eval (measured at its own step) is the best so far. */
export interface BestPointer {
  format: typeof BEST_FORMAT;
  /** Checkpoint folder, relative to the run folder. */
  checkpoint: string;
  step: number;
  metric: BestMetric;
  value: number;
  better: 'lower' | 'higher';
}

/** A checkpoint passed over while loading a run, and why. */
export interface SkippedCheckpoint {
  dir: string;
  reason: string;
}

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
  /** Both optimizers' state; null in checkpoints saved before it was kept. */
  optimizerState: OptimizerState | null;
  /** Newer checkpoints that were corrupt or incomplete and passed over, newest first. */
  skipped: SkippedCheckpoint[];
}

export interface LoadCheckpointOptions {
  /** Load the checkpoint best.json names (the best eval metric) instead of the newest. Default false. */
  best?: boolean;
  /** Told about each checkpoint skipped as corrupt or incomplete. Default: a warning line on stderr. */
  onSkip?: (message: string, skipped: SkippedCheckpoint) => void;
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
  /** Both optimizers' state, saved as optimizer/ so a resume continues the moments. Default none. */
  optimizerState?: OptimizerState | null;
  /**
   * Also keep the checkpoint with the best value of this eval metric (among checkpoints whose sidecar carries an eval
   * of their own step) and point best.json at it; null = no best pointer. Default 'frechetDistance'.
   */
  keepBest?: BestMetric | null;
}

/** Folder name of the checkpoint at `step`: zero-padded so names sort by step. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Saves both networks and the sidecar into runs/<run>/checkpoints/step-N atomically, then moves latest.json to it. */
export async function saveCheckpoint(options: SaveCheckpointOptions): Promise<string> {
  const { runDir, generator, discriminator, generatorEma, sidecar, keep = 3, optimizerState, keepBest = 'frechetDistance' } = options;
  if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`'keep' must be a non-negative integer, got ${keep}`);
  if (keepBest !== null && !Object.hasOwn(BEST_METRICS, keepBest)) {
    throw new RangeError(`'keepBest' must be one of ${Object.keys(BEST_METRICS).join(', ')} or null, got ${String(keepBest)}`);
  }
  const checkpointsDir = join(runDir, CHECKPOINTS_DIR);
  const name = checkpointName(sidecar.step);
  const dir = join(checkpointsDir, name);
  await replaceDirectoryAtomic(dir, async (temp) => {
    await saveLayersModel(generator, join(temp, 'generator'));
    await saveLayersModel(discriminator, join(temp, 'discriminator'));
    if (generatorEma) await saveLayersModel(generatorEma, join(temp, GENERATOR_EMA_DIR));
    if (optimizerState) {
      await mkdir(join(temp, OPTIMIZER_DIR));
      await writeFile(join(temp, OPTIMIZER_DIR, OPTIMIZER_MANIFEST_FILE), `${JSON.stringify(optimizerState.manifest)}\n`, { flush: true });
      await writeFile(join(temp, OPTIMIZER_DIR, WEIGHTS_FILE), optimizerState.data, { flush: true });
    }
    await writeFile(join(temp, SIDECAR_FILE), `${JSON.stringify(sidecar, null, 2)}\n`, { flush: true });
    // Last, over what is on disk: a load compares every file against it (a truncated or altered file is refused).
    await writeFile(join(temp, CHECKSUMS_FILE), `${JSON.stringify({ format: CHECKSUMS_FORMAT, files: await hashFiles(temp) }, null, 2)}\n`, { flush: true });
  });
  const relativeDir = `${CHECKPOINTS_DIR}/${name}`;
  const best = keepBest === null ? null : await updateBestPointer(runDir, relativeDir, sidecar, keepBest);
  const pointer: LatestPointer = { format: LATEST_FORMAT, checkpoint: relativeDir, step: sidecar.step };
  await writeFileAtomic(join(runDir, LATEST_FILE), `${JSON.stringify(pointer, null, 2)}\n`);
  if (keep > 0) await pruneCheckpoints(checkpointsDir, name, keep, best?.checkpoint.slice(CHECKPOINTS_DIR.length + 1) ?? null);
  return resolve(dir);
}

/** Keeps the newest `keep` step-N folders, `current` and the best one; deletes the rest. */
async function pruneCheckpoints(checkpointsDir: string, current: string, keep: number, best: string | null): Promise<void> {
  const names = (await readdir(checkpointsDir)).filter((n) => /^step-\d+$/.test(n)).sort();
  const kept = new Set([...names.slice(-keep), current, ...(best === null ? [] : [best])]);
  for (const old of names) if (!kept.has(old)) await rm(join(checkpointsDir, old), { recursive: true, force: true });
}

/** Size and SHA-256 of every file under `dir`, by path relative to it ('/'-separated). */
async function hashFiles(dir: string, prefix = ''): Promise<Record<string, { bytes: number; sha256: string }>> {
  const out: Record<string, { bytes: number; sha256: string }> = {};
  for (const entry of (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) Object.assign(out, await hashFiles(dir, path));
    else if (entry.isFile() && path !== CHECKSUMS_FILE) {
      const bytes = await readFile(join(dir, path));
      out[path] = { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
    }
  }
  return out;
}

/** Throws INVALID_CHECKPOINT naming the first file that is missing, of the wrong size or altered since the save. */
async function verifyChecksums(dir: string): Promise<void> {
  const path = join(dir, CHECKSUMS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return; // saved before checksums were recorded: the size checks against model.json still apply
  }
  let files: Record<string, { bytes: number; sha256: string }>;
  try {
    const parsed = JSON.parse(text) as { format?: unknown; files?: unknown };
    if (parsed.format !== CHECKSUMS_FORMAT || typeof parsed.files !== 'object' || parsed.files === null) throw new Error(`not a ${CHECKSUMS_FORMAT} file`);
    files = parsed.files as typeof files;
  } catch (cause) {
    throw new GanforgeError('INVALID_CHECKPOINT', `${path}: cannot read the checksums (${(cause as Error).message})`, { cause });
  }
  for (const [name, expected] of Object.entries(files)) {
    const full = join(dir, ...name.split('/'));
    let bytes: Buffer;
    try {
      bytes = await readFile(full);
    } catch {
      throw new GanforgeError('INVALID_CHECKPOINT', `${full}: missing (${CHECKSUMS_FILE} lists it)`);
    }
    if (bytes.byteLength !== expected.bytes) {
      throw new GanforgeError('INVALID_CHECKPOINT', `${full}: ${bytes.byteLength} bytes, ${expected.bytes} were saved (truncated or half-written)`);
    }
    if (createHash('sha256').update(bytes).digest('hex') !== expected.sha256) {
      throw new GanforgeError('INVALID_CHECKPOINT', `${full}: SHA-256 differs from the one recorded at save (the file was altered or damaged)`);
    }
  }
}

/** Moves best.json to `checkpoint` when its own-step eval beats the current best; returns the pointer in force. */
async function updateBestPointer(runDir: string, checkpoint: string, sidecar: RunSidecar, metric: BestMetric): Promise<BestPointer | null> {
  const current = await readBestPointer(runDir);
  const value = sidecar.eval?.step === sidecar.step ? sidecar.eval[metric] : null;
  if (typeof value !== 'number' || !Number.isFinite(value)) return current;
  const better = BEST_METRICS[metric];
  const stillThere = current !== null && (await isDirectory(resolve(runDir, current.checkpoint)));
  const beats = current === null || current.metric !== metric || !stillThere || current.checkpoint === checkpoint ||
    (better === 'lower' ? value < current.value : value > current.value);
  if (!beats) return current;
  const pointer: BestPointer = { format: BEST_FORMAT, checkpoint, step: sidecar.step, metric, value, better };
  await writeFileAtomic(join(runDir, BEST_FILE), `${JSON.stringify(pointer, null, 2)}\n`);
  return pointer;
}

/** best.json of a run, or null when there is none (or it is unreadable). */
export async function readBestPointer(runDir: string): Promise<BestPointer | null> {
  try {
    const p = JSON.parse(await readFile(join(runDir, BEST_FILE), 'utf8')) as Partial<BestPointer>;
    return p.format === BEST_FORMAT && typeof p.checkpoint === 'string' && typeof p.value === 'number' && typeof p.metric === 'string' && Object.hasOwn(BEST_METRICS, p.metric)
      ? (p as BestPointer) : null;
  } catch {
    return null;
  }
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
  return (await missingFiles(dir)).length === 0;
}

/** The files every checkpoint has that `dir` lacks (all of them when `dir` is not a folder). */
async function missingFiles(dir: string): Promise<string[]> {
  const files = [SIDECAR_FILE, ...NETWORKS.flatMap((n) => [`${n}/${MODEL_FILE}`, `${n}/${WEIGHTS_FILE}`])];
  const missing: string[] = [];
  for (const f of files) if (!(await isFile(join(dir, f)))) missing.push(f);
  return missing;
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
 * Loads a run's newest complete checkpoint (or the checkpoint folder given, or with `best` the one best.json names).
 * Each candidate is verified — files present, sizes against model.json's weightsManifest, the checksums recorded at
 * save, readable JSON — and a corrupt or half-written one is skipped with a message naming it, for the previous one;
 * it is never loaded. A checkpoint folder given directly, or the best one, is loaded or refused, with no fallback.
 * Needs a tfjs backend to be ready (train/backend.ts selectBackend, or tfjs's default cpu). Errors are
 * GanforgeError('INVALID_CHECKPOINT') with the path.
 */
export async function loadCheckpoint(runDir: string, options: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  const abs = resolve(runDir);
  const onSkip = options.onSkip ?? ((message: string) => { process.stderr.write(`warning: ${message}\n`); });
  if (!(await isDirectory(abs))) throw new GanforgeError('INVALID_CHECKPOINT', `${abs}: no such run or checkpoint folder`);
  if (options.best) {
    const best = await readBestPointer(abs);
    if (best === null) {
      throw new GanforgeError('INVALID_CHECKPOINT',
        `${abs}: no ${BEST_FILE}: the run has no eval metrics yet, so no best checkpoint (train it with --eval-every N to record them)`);
    }
    const dir = resolve(abs, best.checkpoint);
    if (relative(abs, dir).startsWith('..')) throw new GanforgeError('INVALID_CHECKPOINT', `${join(abs, BEST_FILE)}: checkpoint path leaves the run folder`);
    return { ...(await loadCheckpointFolder(dir)), skipped: [] };
  }
  if (await isFile(join(abs, SIDECAR_FILE))) return { ...(await loadCheckpointFolder(abs)), skipped: [] };
  const skipped: SkippedCheckpoint[] = [];
  const skip = (dir: string, reason: string) => {
    const entry = { dir, reason };
    skipped.push(entry);
    onSkip(`skipping checkpoint ${dir}: ${reason}; falling back to the previous complete one`, entry);
  };
  const checkpointsDir = join(abs, CHECKPOINTS_DIR);
  const names = (await isDirectory(checkpointsDir)) ? await readdir(checkpointsDir) : [];
  for (const name of names.filter(isTempName).sort()) {
    onSkip(`ignoring ${join(checkpointsDir, name)}: a save that did not finish (the process stopped while writing it)`, { dir: join(checkpointsDir, name), reason: 'temp folder' });
  }
  const candidates: string[] = [];
  const pointer = await readPointer(join(abs, LATEST_FILE));
  if (pointer !== null) {
    const dir = resolve(abs, pointer.checkpoint);
    if (relative(abs, dir).startsWith('..')) throw new GanforgeError('INVALID_CHECKPOINT', `${join(abs, LATEST_FILE)}: checkpoint path leaves the run folder`);
    candidates.push(dir);
  }
  for (const name of names.filter((n) => /^step-\d+$/.test(n)).sort().reverse()) {
    const dir = join(checkpointsDir, name);
    if (!candidates.includes(dir)) candidates.push(dir);
  }
  for (const dir of candidates) {
    const missing = await missingFiles(dir);
    if (missing.length > 0) {
      skip(dir, `incomplete (no ${missing.join(', ')})`);
      continue;
    }
    try {
      return { ...(await loadCheckpointFolder(dir)), skipped };
    } catch (error) {
      if (!(error instanceof GanforgeError) || error.code !== 'INVALID_CHECKPOINT') throw error;
      skip(dir, error.message);
    }
  }
  const why = skipped.length === 0 ? '' : `; skipped: ${skipped.map((s) => `${s.dir} (${s.reason})`).join('; ')}`;
  throw new GanforgeError('INVALID_CHECKPOINT', `${abs}: no complete checkpoint (no usable ${LATEST_FILE} and no ${CHECKPOINTS_DIR}/step-N with ${SIDECAR_FILE} and both networks)${why}`);
}

/** Verifies and loads one checkpoint folder; disposes what it loaded when a later part fails. */
async function loadCheckpointFolder(dir: string): Promise<Omit<LoadedCheckpoint, 'skipped'>> {
  const missing = await missingFiles(dir);
  if (missing.length > 0) throw new GanforgeError('INVALID_CHECKPOINT', `${dir}: incomplete checkpoint (no ${missing.join(', ')})`);
  await verifyChecksums(dir);
  const sidecar = await readSidecar(dir);
  const optimizerState = await readOptimizerState(dir);
  const models: tf.LayersModel[] = [];
  try {
    const generator = await loadLayersModel(join(dir, 'generator'));
    models.push(generator);
    const discriminator = await loadLayersModel(join(dir, 'discriminator'));
    models.push(discriminator);
    // Checkpoints are written whole (replaceDirectoryAtomic), so a model.json here means the EMA generator was saved.
    const emaDir = join(dir, GENERATOR_EMA_DIR);
    const generatorEma = (await isFile(join(emaDir, MODEL_FILE))) ? await loadLayersModel(emaDir) : null;
    return { generator, discriminator, generatorEma, sidecar, dir, optimizerState };
  } catch (error) {
    for (const m of models) m.dispose();
    throw error;
  }
}

/** optimizer/ of a checkpoint, checked against its own manifest; null when the checkpoint predates it. */
async function readOptimizerState(dir: string): Promise<OptimizerState | null> {
  const manifestPath = join(dir, OPTIMIZER_DIR, OPTIMIZER_MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    return null;
  }
  let manifest: OptimizerStateManifest;
  try {
    manifest = JSON.parse(text) as OptimizerStateManifest;
  } catch (cause) {
    throw new GanforgeError('INVALID_CHECKPOINT', `${manifestPath}: cannot read the optimizer state (${(cause as Error).message})`, { cause });
  }
  if (manifest?.format !== OPTIMIZER_STATE_FORMAT || !Number.isInteger(manifest.bytes) || typeof manifest.generator !== 'object' || typeof manifest.discriminator !== 'object') {
    throw new GanforgeError('INVALID_CHECKPOINT', `${manifestPath}: not a ${OPTIMIZER_STATE_FORMAT} manifest`);
  }
  const weightsPath = join(dir, OPTIMIZER_DIR, WEIGHTS_FILE);
  let data: Buffer;
  try {
    data = await readFile(weightsPath);
  } catch (cause) {
    throw new GanforgeError('INVALID_CHECKPOINT', `${weightsPath}: cannot read the optimizer state (${(cause as Error).message})`, { cause });
  }
  if (data.byteLength !== manifest.bytes) {
    throw new GanforgeError('INVALID_CHECKPOINT', `${weightsPath}: holds ${data.byteLength} bytes, ${OPTIMIZER_MANIFEST_FILE} lists ${manifest.bytes}`);
  }
  return { manifest, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
