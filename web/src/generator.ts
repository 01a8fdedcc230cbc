// A generator for the page: fetch the .onnx, read its manifest, sample with the very code the server uses
// (common/generate-params.ts, common/latents.ts), so one request gives the same latents, bit for bit, on both sides.
// In a browser page the session lives in a Web Worker (web/src/worker-runner.ts) so that inference never blocks the
// page; in Node, in a worker, or with { worker: false } it runs on the calling thread.

import { GanforgeError, InvalidParameterError, describeValue } from '../../common/errors.ts';
import { parseGenerateParams, type GenerateParams, type RawGenerateParams } from '../../common/generate-params.ts';
import { randomSeed, sampleLatents } from '../../common/latents.ts';
import { generatorInputNames, truncationInputOf, truncationKindOf, type ModelManifest } from '../../common/manifest.ts';
import { styleMixFor, styleMixingFeeds, type StyleMix } from '../../common/style-mixing.ts';
import { readManifest } from '../../common/onnx-metadata.ts';
import { planTruncation, type TruncationMode } from '../../common/truncation.ts';
import { interpolateLatents, type InterpolationMode } from './interpolate.ts';
import { createWebSession, type Backend, type WebRuntimeOptions, type WebSession } from './ort-web.ts';
import type { GeneratorRunner, InferenceThread, LoadProgress } from './runner.ts';
import { canRunInWorker, loadInWorker } from './worker-runner.ts';

export type { InferenceThread, LoadProgress } from './runner.ts';

/** The server's default limit on images per request; the page keeps to the same. */
export const DEFAULT_MAX_IMAGES = 64;

export interface LoadGeneratorOptions extends WebRuntimeOptions {
  /** Called as the model's bytes arrive. Default: nothing. */
  onProgress?: (progress: LoadProgress) => void;
  /** Largest n accepted by generate(). Default 64 (the server's default). */
  maxImages?: number;
  /** Model name reported in results. Default: the file name without '.onnx'. */
  name?: string;
  /** Aborts the download. Default: none. */
  signal?: AbortSignal;
  /**
   * Run the session in a dedicated Web Worker (fetching the model there too), so the page stays responsive during
   * inference. Default: true in a browser page, false elsewhere (Node, inside a worker).
   */
  worker?: boolean;
  /** URL of the built ganforge-worker.js. Default: next to ganforge.js. */
  workerUrl?: string | URL;
}

export interface GeneratorInfo {
  /** Model name (file name without '.onnx'). */
  name: string;
  /** GAN family from the manifest ('mlp', 'cgan', ...). */
  family: string;
  /** Class names, index = label; null for an unconditional generator. */
  classes: string[] | null;
  latentDim: number;
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  /** [low, high] of the generator output. */
  valueRange: [number, number];
  truncationModes: TruncationMode[];
  /** The execution provider that actually runs the model. */
  backend: Backend;
  /** wasm threads in use. */
  threads: number;
  /** Why WebGPU is not in use, when it was considered. */
  fallbackReason: string | undefined;
  /** Where inference runs: 'worker' (a Web Worker) or 'page' (the thread that loaded the generator). */
  thread: InferenceThread;
  /** The full manifest read from the model's metadata. */
  manifest: ModelManifest;
}

/** What generate() takes: the same fields as /generate's query, typed. */
export interface GenerateRequest {
  /** Number of images. Default 1. */
  n?: number;
  /** Seed of image 0. Default: a fresh random seed (reported in the result). */
  seed?: number;
  /** Class index or name for a conditional model. Default: image k gets class k mod C. */
  class?: number | string;
  /** In [0.01, 1]; 1 = no truncation. Default 1. */
  truncation?: number;
  /** Default 'psi'. */
  truncationMode?: TruncationMode;
  /** Style-mixing models (manifest.styleMixing): the layers from mixFrom on take the style of this seed's latents. */
  mixSeed?: number;
  /** With mixSeed: the first synthesis layer that takes its style, in [0, layers]. Default: the fine half. */
  mixFrom?: number;
}

/** A walk through latent space from one seed's latent to another's, for animations. */
export interface InterpolateRequest {
  /** Seed of the first frame. */
  from: number;
  /** Seed of the last frame. */
  to: number;
  /** Frames including both ends. Default 16. */
  frames?: number;
  /** Class index or name for a conditional model (every frame). Default 0. */
  class?: number | string;
  /** Applied to both ends. Default 1. */
  truncation?: number;
  /** Default 'psi'. */
  truncationMode?: TruncationMode;
  /** Default 'slerp'. */
  mode?: InterpolationMode;
}

/** Generated images in the layout of /generate?format=json, with the values as a Float32Array. */
export interface GenerateResult {
  model: string;
  seed: number;
  /** [n, height, width, channels]. */
  shape: [number, number, number, number];
  /** The model's output value range. */
  range: [number, number];
  /** Label of each image for a conditional model, else null. */
  labels: number[] | null;
  /** NHWC values. */
  data: Float32Array;
}

export class Generator {
  readonly info: GeneratorInfo;
  private readonly runner: GeneratorRunner;
  private readonly maxImages: number;
  // onnxruntime-web runs one inference per session at a time; calls queue here instead of failing.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(runner: GeneratorRunner, manifest: ModelManifest, name: string, maxImages: number) {
    this.runner = runner;
    this.maxImages = maxImages;
    this.info = Object.freeze({
      name,
      family: manifest.family,
      classes: manifest.classes,
      latentDim: manifest.latentDim,
      imageShape: manifest.imageShape,
      valueRange: manifest.valueRange,
      truncationModes: manifest.truncationModes,
      backend: runner.backend,
      threads: runner.threads,
      fallbackReason: runner.fallbackReason,
      thread: runner.thread,
      manifest,
    });
  }

  /**
   * Validates a request exactly as the server validates /generate's query (typed values or query-style strings);
   * throws InvalidParameterError naming the field.
   */
  parseRequest(request: GenerateRequest | RawGenerateParams = {}): GenerateParams {
    if (typeof request !== 'object' || request === null) throw new TypeError(`generate() takes an options object, got ${typeof request}`);
    return parseGenerateParams(request, this.info.manifest, { maxImages: this.maxImages }, randomSeed);
  }

  async generate(request: GenerateRequest = {}): Promise<GenerateResult> {
    return this.generateParsed(this.parseRequest(request));
  }

  /** generate() for parameters already checked by parseRequest(). */
  async generateParsed(params: GenerateParams): Promise<GenerateResult> {
    // The server's decision (common/truncation.ts): a w-space model gets untruncated z and ψ; the others truncated z.
    const plan = planTruncation(truncationKindOf(this.info.manifest), params.truncation, params.truncationMode);
    const latent = sampleLatents({
      latentDim: this.info.latentDim,
      count: params.n,
      seed: params.seed,
      truncation: plan.latentTruncation,
      truncationMode: plan.latentMode,
    });
    const mix = params.mix ? styleMixFor(this.info.manifest, params.mix, params.n, plan.latentTruncation, plan.latentMode) : null;
    const data = await this.run(latent, params.labels, params.n, plan.psi === null ? null : new Float32Array(params.n).fill(plan.psi), mix);
    return { model: this.info.name, seed: params.seed, shape: [params.n, ...this.info.imageShape], range: this.info.valueRange, labels: params.labels, data };
  }

  /** Frames from seed `from` to seed `to`; the first and last equal generate() with those seeds. */
  async interpolate(request: InterpolateRequest): Promise<GenerateResult> {
    const { frames = 16, mode = 'slerp' } = request;
    if (!Number.isInteger(frames) || frames < 2 || frames > this.maxImages) {
      throw new InvalidParameterError('frames', `'frames' must be an integer in [2, ${this.maxImages}], got ${describeValue(frames)}`);
    }
    const common = { n: frames, class: request.class ?? (this.info.classes === null ? undefined : 0), truncation: request.truncation, truncationMode: request.truncationMode };
    const start = this.parseRequest({ ...common, seed: request.from });
    const end = this.parseRequest({ ...common, n: 1, seed: request.to });
    const plan = planTruncation(truncationKindOf(this.info.manifest), start.truncation, start.truncationMode);
    const endpoint = (params: GenerateParams) => sampleLatents({ latentDim: this.info.latentDim, count: 1, seed: params.seed, truncation: plan.latentTruncation, truncationMode: plan.latentMode });
    const latent = interpolateLatents(endpoint(start), endpoint(end), frames, mode);
    const data = await this.generateFromLatents(latent, start.labels, plan.psi === null ? null : new Float32Array(frames).fill(plan.psi));
    return { model: this.info.name, seed: start.seed, shape: [frames, ...this.info.imageShape], range: this.info.valueRange, labels: start.labels, data };
  }

  /**
   * Runs the generator on latents the caller made (interpolation, editing): `latent` holds count × latentDim values,
   * `labels` one class index per image for a conditional model, `psi` a w-space model's ψ per image (null: 1, none),
   * `mix` a style-mixing model's second latents and crossovers (null: no mixing).
   */
  async generateFromLatents(latent: Float32Array, labels: readonly number[] | null = null, psi: Float32Array | null = null, mix: StyleMix | null = null): Promise<Float32Array> {
    const { latentDim, classes } = this.info;
    if (!(latent instanceof Float32Array) || latent.length === 0 || latent.length % latentDim !== 0) {
      throw new RangeError(`'latent' must be a Float32Array of count × ${latentDim} values, got ${latent instanceof Float32Array ? latent.length : typeof latent} values`);
    }
    const count = latent.length / latentDim;
    if (classes !== null) {
      if (labels === null || labels.length !== count) throw new InvalidParameterError('class', `this model is conditional: give one label per latent (${count}), got ${labels === null ? 'none' : labels.length}`);
      const bad = labels.find((l) => !Number.isInteger(l) || l < 0 || l >= classes.length);
      if (bad !== undefined) throw new InvalidParameterError('class', `'class' must be an integer in [0, ${classes.length - 1}], got ${bad}`);
    } else if (labels !== null) {
      throw new InvalidParameterError('class', `model family '${this.info.family}' is unconditional and takes no 'class'`);
    }
    if (psi !== null && (!(psi instanceof Float32Array) || psi.length !== count || psi.some((v) => !(v >= 0 && v <= 1)))) {
      throw new InvalidParameterError('truncation', `'psi' must be a Float32Array of ${count} values in [0, 1], got ${psi instanceof Float32Array ? `${psi.length} values` : typeof psi}`);
    }
    if (mix !== null) {
      const mixing = this.info.manifest.styleMixing;
      if (mixing === undefined) throw new InvalidParameterError('mixSeed', `model family '${this.info.family}' has no style-mixing inputs`);
      const badFrom = [...mix.from].some((v) => !Number.isInteger(v) || v < 0 || v > mixing.layers);
      if (!(mix.latent instanceof Float32Array) || mix.latent.length !== latent.length || !(mix.from instanceof Float32Array) || mix.from.length !== count || badFrom) {
        throw new InvalidParameterError('mixFrom', `a style mix needs ${latent.length} second-latent values and ${count} crossovers, integers in [0, ${mixing.layers}]`);
      }
    }
    return this.run(latent, labels, count, psi, mix);
  }

  /** Frees the session (its wasm or GPU memory) and, for a worker, the worker. */
  async dispose(): Promise<void> {
    await this.queue.catch(() => {});
    await this.runner.release();
  }

  private run(latent: Float32Array, labels: readonly number[] | null, count: number, psi: Float32Array | null = null, mix: StyleMix | null = null): Promise<Float32Array> {
    const task = this.queue.catch(() => {}).then(() => this.runner.run(latent, labels, count, psi, mix));
    this.queue = task;
    return task;
  }
}

/** An onnxruntime-web session on this thread. */
class SessionRunner implements GeneratorRunner {
  readonly backend: Backend;
  readonly threads: number;
  readonly fallbackReason: string | undefined;
  readonly thread: InferenceThread = 'page';
  private readonly web: WebSession;
  private readonly manifest: ModelManifest;
  private readonly name: string;

  constructor(web: WebSession, manifest: ModelManifest, name: string) {
    this.web = web;
    this.manifest = manifest;
    this.name = name;
    this.backend = web.backend;
    this.threads = web.threads;
    this.fallbackReason = web.fallbackReason;
  }

  async run(latent: Float32Array, labels: readonly number[] | null, count: number, psi: Float32Array | null = null, mix: StyleMix | null = null): Promise<Float32Array> {
    const { ort, session } = this.web;
    const { inputs, output, latentDim, imageShape } = this.manifest;
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      [inputs.latent]: new ort.Tensor('float32', latent, [count, latentDim]),
    };
    if (inputs.label !== null && labels !== null) {
      feeds[inputs.label] = new ort.Tensor('int64', BigInt64Array.from(labels, (l) => BigInt(l)), [count]);
    }
    const psiInput = truncationInputOf(this.manifest);
    if (psiInput !== null) feeds[psiInput] = new ort.Tensor('float32', psi ?? new Float32Array(count).fill(1), [count, 1]);
    for (const feed of styleMixingFeeds(this.manifest, count, latent, mix)) feeds[feed.name] = new ort.Tensor('float32', feed.data, feed.dims);
    const results = await session.run(feeds, [output]);
    const tensor = results[output]!;
    try {
      const expected = [count, ...imageShape];
      if (tensor.dims.length !== 4 || tensor.dims.some((d, i) => d !== expected[i])) {
        throw new GanforgeError('INVALID_MODEL', `model '${this.name}' returned shape [${tensor.dims.join(', ')}], its manifest promises [${expected.join(', ')}]`);
      }
      // A WebGPU output lives on the GPU; getData() downloads it (a plain copy for wasm).
      return (await tensor.getData()) as Float32Array;
    } finally {
      tensor.dispose();
    }
  }

  release(): Promise<void> {
    return this.web.session.release();
  }
}

/**
 * Loads a generator from a URL (fetched with progress) or from bytes already in memory. Fails with NOT_FOUND when the
 * server has no such file and INVALID_MODEL when the bytes are not a ganforge generator.
 */
export async function loadGenerator(source: string | URL | Uint8Array | ArrayBuffer, options: LoadGeneratorOptions = {}): Promise<Generator> {
  const maxImages = options.maxImages ?? DEFAULT_MAX_IMAGES;
  if (!Number.isInteger(maxImages) || maxImages < 1) throw new RangeError(`'maxImages' must be a positive integer, got ${maxImages}`);
  const inWorker = options.worker ?? canRunInWorker();
  if (inWorker) {
    if (!canRunInWorker()) throw new InvalidParameterError('worker', "'worker' is true but this is no browser page that can start a Web Worker; use { worker: false }");
    if (!(typeof source === 'string' || source instanceof URL || source instanceof Uint8Array || source instanceof ArrayBuffer)) {
      throw new TypeError(`loadGenerator takes a URL or the model's bytes, got ${typeof source}`);
    }
    const name = options.name ?? (typeof source === 'string' || source instanceof URL ? undefined : 'model');
    const loaded = await loadInWorker(source instanceof ArrayBuffer ? new Uint8Array(source) : source, { ...options, ...(name === undefined ? {} : { name }) });
    return new Generator(loaded.runner, loaded.manifest, loaded.name, maxImages);
  }
  let bytes: Uint8Array;
  let label: string;
  if (typeof source === 'string' || source instanceof URL) {
    label = String(source);
    bytes = await fetchModel(label, options);
  } else if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    label = options.name ?? 'model';
    bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
  } else {
    throw new TypeError(`loadGenerator takes a URL or the model's bytes, got ${typeof source}`);
  }
  const name = options.name ?? modelNameFromUrl(label);
  const manifest = readManifest(bytes, label);
  const web = await createWebSession(bytes, options);
  checkSignature(web, manifest, label);
  return new Generator(new SessionRunner(web, manifest, name), manifest, name, maxImages);
}

/** '/models/default.onnx?v=2' → 'default'. */
export function modelNameFromUrl(url: string): string {
  const path = url.split(/[?#]/)[0]!;
  const file = path.slice(path.lastIndexOf('/') + 1);
  return (file.endsWith('.onnx') ? file.slice(0, -5) : file) || 'model';
}

async function fetchModel(url: string, options: LoadGeneratorOptions): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, options.signal === undefined ? {} : { signal: options.signal });
  } catch (cause) {
    throw new GanforgeError('NOT_FOUND', `model '${url}' could not be fetched (${(cause as Error).message})`, { cause });
  }
  if (!response.ok) {
    let detail = '';
    try {
      const body = (await response.json()) as { message?: unknown };
      if (typeof body.message === 'string') detail = `: ${body.message}`;
    } catch {
      // Not a JSON error body; the status says enough.
    }
    throw new GanforgeError(response.status === 404 ? 'NOT_FOUND' : 'INVALID_MODEL', `model '${url}' could not be loaded: HTTP ${response.status}${detail}`);
  }
  const header = response.headers.get('Content-Length');
  const total = header === null ? null : Number(header);
  if (response.body === null || options.onProgress === undefined) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    options.onProgress?.({ loaded: bytes.length, total });
    return bytes;
  }
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    options.onProgress({ loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** The graph must take the inputs the manifest names, so a mismatched file fails at load and not at first generate. */
function checkSignature(web: WebSession, manifest: ModelManifest, source: string): void {
  const expected = generatorInputNames(manifest); // latent, label, and a w-space model's ψ
  const actual = web.session.inputNames;
  if (actual.length !== expected.length || !expected.every((n) => actual.includes(n))) {
    throw new GanforgeError('INVALID_MODEL', `${source}: graph inputs are [${actual.join(', ')}] but the manifest names [${expected.join(', ')}]`);
  }
  if (!web.session.outputNames.includes(manifest.output)) {
    throw new GanforgeError('INVALID_MODEL', `${source}: graph outputs are [${web.session.outputNames.join(', ')}] but the manifest names '${manifest.output}'`);
  }
}
