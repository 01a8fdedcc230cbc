// The set of generators a server offers: every *.onnx in one folder, each checked once at startup (manifest present and
// valid, graph loadable by onnxruntime with the inputs/outputs the manifest names). A bad file is refused with a logged
// reason and never takes the others down. The sha256 identifies the exact model version (ETags, /models). The set
// changes at run time only through LiveModelRepository's methods (serve/model-watcher.ts picks up folder changes).

import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { GanforgeError } from '../common/errors.ts';
import { generatorInputNames, truncationInputOf, type ModelManifest } from '../common/manifest.ts';
import { readManifest } from '../common/onnx-metadata.ts';
import type { Logger } from './logger.ts';
import { chooseProvider, createNodeSession, type Device, type ExecutionProvider } from '../runtime/ort-node.ts';

/** Model names are file names without '.onnx': letters, digits, '.', '_', '-', not starting with a dot. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export interface ServedModel {
  name: string;
  /** Absolute path of the file it was read from. */
  path: string;
  manifest: ModelManifest;
  /** The file's bytes as loaded (what workers run and what GET /models/:name.onnx returns). */
  bytes: Uint8Array;
  size: number;
  mtime: Date;
  /** Hex sha256 of `bytes`: the model version. */
  sha256: string;
  provider: ExecutionProvider;
  /** Why CUDA was not used, when it was asked for and failed. */
  fallbackReason: string | undefined;
}

export interface RefusedModel {
  file: string;
  reason: string;
}

export interface ModelRepository {
  /** Loaded models by name, in name order. */
  readonly models: ReadonlyMap<string, ServedModel>;
  /** Files that were not loaded and why. */
  readonly refused: readonly RefusedModel[];
  /** 'default' if present, else the first model by name; undefined when nothing loaded. */
  readonly defaultModel: ServedModel | undefined;
}

/**
 * The repository the server holds. Its contents change only through these methods (the models-folder watcher calls
 * them); each change swaps in a new map or list rather than editing the old one, so a request that is iterating
 * `models` or `refused` keeps a consistent view.
 */
export class LiveModelRepository implements ModelRepository {
  private current: ReadonlyMap<string, ServedModel> = new Map();
  private refusals: readonly RefusedModel[] = [];

  /** The folder's real path (symlinks resolved), which every served model lives directly inside. */
  constructor(readonly root: string) {}

  get models(): ReadonlyMap<string, ServedModel> {
    return this.current;
  }

  get refused(): readonly RefusedModel[] {
    return this.refusals;
  }

  get defaultModel(): ServedModel | undefined {
    return this.current.get('default') ?? this.current.values().next().value;
  }

  /** Adds or replaces the model of that name and forgets any refusal of its file. */
  put(model: ServedModel): void {
    const next = new Map(this.current);
    next.set(model.name, model);
    this.current = new Map([...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    this.accept(`${model.name}.onnx`);
  }

  /** Stops serving a model; returns what was removed. */
  remove(name: string): ServedModel | undefined {
    const model = this.current.get(name);
    if (model === undefined) return undefined;
    const next = new Map(this.current);
    next.delete(name);
    this.current = next;
    return model;
  }

  /** Records (or updates) why a file is not served. */
  refuse(file: string, reason: string): void {
    this.refusals = [...this.refusals.filter((r) => r.file !== file), { file, reason }].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }

  /** Drops the refusal of a file that loaded or disappeared. */
  accept(file: string): void {
    if (this.refusals.some((r) => r.file === file)) this.refusals = this.refusals.filter((r) => r.file !== file);
  }
}

export interface LoadModelRepositoryOptions {
  /** Folder holding the .onnx files. */
  dir: string;
  /** Execution provider choice for the probe session (the same the workers will use). Default 'auto'. */
  device?: Device;
  /** Where refusals and loads are reported. Default: nothing. */
  logger?: Logger;
}

/** Loads every *.onnx directly inside `dir`; throws NOT_FOUND only when the folder itself is missing. */
export async function loadModelRepository(options: LoadModelRepositoryOptions): Promise<LiveModelRepository> {
  const { device = 'auto', logger = () => {} } = options;
  chooseProvider(device); // '--device cuda' where CUDA cannot run: one INVALID_PARAMETER with the reason, not a refusal per model
  const dir = resolve(options.dir);
  let root: string;
  let entries: string[];
  try {
    root = await realpath(dir);
    entries = (await readdir(root)).filter((f) => f.endsWith('.onnx')).sort();
  } catch (cause) {
    throw new GanforgeError('NOT_FOUND', `models folder '${dir}' cannot be read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  const repository = new LiveModelRepository(root);
  for (const file of entries) {
    try {
      const model = await loadModelFile(root, file, device);
      repository.put(model);
      logModelLoaded(logger, model, device);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      repository.refuse(file, reason);
      logger({ level: 'warn', event: 'model-refused', file, reason });
    }
  }
  return repository;
}

/**
 * The 'model-loaded' line for a model that is now served, and a 'provider-fallback' line if its session fell back for
 * a reason of its own (the machine-wide reason is the server's one 'execution-provider' line).
 */
export function logModelLoaded(logger: Logger, model: ServedModel, device: Device, fields: Record<string, unknown> = {}): void {
  logger({ level: 'info', event: 'model-loaded', model: model.name, family: model.manifest.family, provider: model.provider, sha256: model.sha256, size: model.size, ...fields });
  if (model.fallbackReason !== undefined && model.fallbackReason !== chooseProvider(device).reason) logger({ level: device === 'cuda' ? 'warn' : 'info', event: 'provider-fallback', model: model.name, provider: model.provider, reason: model.fallbackReason });
}

/**
 * Reads and checks one `<name>.onnx` inside `root` (a real path): name, location, manifest, and a probe session with
 * the inputs and outputs the manifest names. Throws INVALID_MODEL with the reason, or the file system's error.
 */
export async function loadModelFile(root: string, file: string, device: Device): Promise<ServedModel> {
  const name = file.slice(0, -'.onnx'.length);
  if (!MODEL_NAME_PATTERN.test(name)) {
    throw new GanforgeError('INVALID_MODEL', `${file}: model names must match ${MODEL_NAME_PATTERN.source}; rename the file`);
  }
  // A symlink may point elsewhere; serving it would expose a file outside the models folder.
  const path = await realpath(join(root, file));
  if (!path.startsWith(root + sep)) throw new GanforgeError('INVALID_MODEL', `${file}: resolves outside the models folder`);
  const info = await stat(path);
  if (!info.isFile()) throw new GanforgeError('INVALID_MODEL', `${file}: not a regular file`);
  const bytes = new Uint8Array(await readFile(path));
  const manifest = readManifest(bytes, file);
  let probe;
  try {
    probe = await createNodeSession(bytes, { device, intraOpNumThreads: 1 });
  } catch (cause) {
    throw new GanforgeError('INVALID_MODEL', `${file}: onnxruntime cannot load it (${firstLine(cause)})`, { cause });
  }
  try {
    checkSignature(file, manifest, probe.session.inputMetadata, probe.session.outputNames);
  } finally {
    await probe.session.release();
  }
  return {
    name,
    path,
    manifest,
    bytes,
    size: bytes.length,
    mtime: info.mtime,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    provider: probe.provider,
    fallbackReason: probe.fallbackReason,
  };
}

interface InputInfo {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

/** The graph must take exactly the inputs the manifest names, with the latent width it declares. */
function checkSignature(file: string, manifest: ModelManifest, inputs: readonly InputInfo[], outputs: readonly string[]): void {
  const fail = (what: string): never => {
    throw new GanforgeError('INVALID_MODEL', `${file}: ${what}`);
  };
  const expected = generatorInputNames(manifest); // latent, label, and a w-space model's ψ
  const actual = inputs.map((i) => i.name);
  if (actual.length !== expected.length || !expected.every((n) => actual.includes(n))) {
    fail(`graph inputs are [${actual.join(', ')}] but the manifest names [${expected.join(', ')}]`);
  }
  const latent = inputs.find((i) => i.name === manifest.inputs.latent)!;
  const width = latent.shape?.[1];
  if (latent.type !== 'float32' || latent.shape?.length !== 2 || (typeof width === 'number' && width !== manifest.latentDim)) {
    fail(`latent input '${latent.name}' must be float32 [batch, ${manifest.latentDim}], got ${latent.type} [${latent.shape?.join(', ')}]`);
  }
  const label = inputs.find((i) => i.name === manifest.inputs.label);
  if (label !== undefined && label.type !== 'int64') fail(`label input '${label.name}' must be int64, got ${label.type}`);
  const psi = inputs.find((i) => i.name === truncationInputOf(manifest));
  if (psi !== undefined && (psi.type !== 'float32' || psi.shape?.length !== 2 || psi.shape[1] !== 1)) {
    fail(`truncation input '${psi.name}' must be float32 [batch, 1], got ${psi.type} [${psi.shape?.join(', ')}]`);
  }
  if (!outputs.includes(manifest.output)) fail(`graph outputs are [${outputs.join(', ')}] but the manifest names '${manifest.output}'`);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
}
