// A GeneratorRunner that runs each model on one onnxruntime-node session in the calling thread: for offline callers
// (eval/) that sample batch after batch and have no HTTP thread to keep free, so they need none of the server's
// worker pool. Same sessions, same latents (runtime/generator-runner.ts), so the same images as the server.

import { availableParallelism } from 'node:os';
import { GanforgeError } from '../common/errors.ts';
import { truncationInputOf, type ModelManifest } from '../common/manifest.ts';
import { styleMixingFeeds } from '../common/style-mixing.ts';
import { psiRows, type GeneratorInput, type GeneratorOutput, type GeneratorRunner } from './generator-runner.ts';
import { createNodeSession, ort, type Device } from './ort-node.ts';

export interface SessionRunnerOptions {
  models: readonly { name: string; bytes: Uint8Array; manifest: ModelManifest }[];
  /** Execution provider choice (runtime/ort-node.ts). Default 'cpu': offline results should not depend on the machine. */
  device?: Device;
  /** onnxruntime intra-op threads. Default: the cores (as the server's one-worker pool). */
  intraOpNumThreads?: number;
}

export interface SessionRunner extends GeneratorRunner {
  /** Releases every session. */
  close(): Promise<void>;
}

export async function openSessionRunner(options: SessionRunnerOptions): Promise<SessionRunner> {
  const { device = 'cpu', intraOpNumThreads = Math.max(1, availableParallelism()) } = options;
  const sessions = new Map<string, { session: ort.InferenceSession; manifest: ModelManifest }>();
  try {
    for (const model of options.models) {
      const { session } = await createNodeSession(model.bytes, { device, intraOpNumThreads, allowSpinning: false });
      sessions.set(model.name, { session, manifest: model.manifest });
    }
  } catch (error) {
    await Promise.all([...sessions.values()].map((s) => s.session.release()));
    throw error;
  }
  return {
    async run(name: string, input: GeneratorInput): Promise<GeneratorOutput> {
      const entry = sessions.get(name);
      if (entry === undefined) throw new GanforgeError('UNKNOWN_MODEL', `unknown model '${name}'`, { parameter: 'model' });
      const { manifest, session } = entry;
      if (!Number.isInteger(input.count) || input.count < 1) throw new RangeError(`'count' must be a positive integer, got ${input.count}`);
      if (input.latent.length !== input.count * manifest.latentDim) {
        throw new RangeError(`run: ${input.count} latents of width ${manifest.latentDim} need ${input.count * manifest.latentDim} values, got ${input.latent.length}`);
      }
      if ((manifest.inputs.label !== null) !== (input.labels !== null) || (input.labels !== null && input.labels.length !== input.count)) {
        throw new RangeError(`run: model '${name}' needs ${manifest.inputs.label === null ? 'no labels' : `${input.count} labels`}`);
      }
      const feeds: Record<string, ort.Tensor> = { [manifest.inputs.latent]: new ort.Tensor('float32', input.latent, [input.count, manifest.latentDim]) };
      if (manifest.inputs.label !== null) feeds[manifest.inputs.label] = new ort.Tensor('int64', input.labels!, [input.count]);
      const psiInput = truncationInputOf(manifest);
      if (psiInput !== null) feeds[psiInput] = new ort.Tensor('float32', psiRows(input.psi, input.count), [input.count, 1]);
      for (const feed of styleMixingFeeds(manifest, input.count, input.latent, input.mix ?? null)) feeds[feed.name] = new ort.Tensor('float32', feed.data, feed.dims);
      const output = (await session.run(feeds, [manifest.output]))[manifest.output]!;
      return { data: output.data as Float32Array, dims: output.dims.map(Number) };
    },
    async close(): Promise<void> {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.all(open.map((s) => s.session.release()));
    },
  };
}
