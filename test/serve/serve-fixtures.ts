// Shared set-up for the server tests: a temporary models folder of real fixture generators, and small HTTP helpers.

import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtureGenerator, fixtureManifest, writeFixtureModels, type FixtureGeneratorOptions } from '../fixtures/onnx-fixtures.ts';
import { createApp, type AppOptions } from '../../serve/app.ts';
import { InferencePool, type PoolModel } from '../../serve/inference-pool.ts';
import { loadModelRepository, type ModelRepository } from '../../serve/model-repository.ts';

export const DIGIT_CLASSES = ['zero', 'one', 'two'];

/** default: unconditional 6×5×1; digits: conditional with three named classes; slow: heavy on purpose. */
export const MODEL_SPECS = {
  default: {},
  digits: { classes: DIGIT_CLASSES, weightSeed: 2 },
  slow: { slowLayers: 24, slowWidth: 1536, weightSeed: 3 }, // ≈100–250 ms for n=64 on this 2-core machine
} satisfies Record<string, FixtureGeneratorOptions>;

export function makeModelsDir(models: Record<string, FixtureGeneratorOptions | Uint8Array> = MODEL_SPECS): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ganforge-serve-'));
  writeFixtureModels(dir, models);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function poolModel(name: string, options: FixtureGeneratorOptions): PoolModel {
  return { name, bytes: buildFixtureGenerator(options), manifest: fixtureManifest(options) };
}

export interface ErrorBody {
  error: string;
  message: string;
  parameter?: string;
}

export async function getJson<T = unknown>(url: string): Promise<{ status: number; headers: Headers; body: T }> {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

export async function getBytes(url: string): Promise<{ status: number; headers: Headers; bytes: Uint8Array }> {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, bytes: new Uint8Array(await response.arrayBuffer()) };
}

/** The float32 images of a `format=npy` URL; a status other than 200 fails with the error body. */
export async function getNpyImages(url: string): Promise<Float32Array> {
  const { status, bytes } = await getBytes(url);
  if (status !== 200) throw new Error(`${url} → ${status} ${new TextDecoder().decode(bytes)}`);
  return parseNpy(bytes).data;
}

/** Parses a v1.0 .npy file written by serve/npy.ts: header dict text and float32 data. */
export function parseNpy(bytes: Uint8Array): { header: string; shape: number[]; data: Float32Array } {
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const start = 10 + headerLength;
  const data = new Float32Array(bytes.slice(start).buffer);
  return { header, shape, data };
}

export interface TestServer {
  /** http://127.0.0.1:<port> */
  base: string;
  repository: ModelRepository;
  pool: InferencePool;
  /** Stops the server and the pool, and removes the models folder. */
  close(): Promise<void>;
}

/** Fixture models → repository → one-worker CPU pool → createApp on a loopback port (the app-level tests' set-up). */
export async function startTestServer(
  models: Record<string, FixtureGeneratorOptions | Uint8Array>,
  appOptions: Omit<Partial<AppOptions>, 'repository' | 'pool'> = {},
): Promise<TestServer> {
  const { dir, cleanup } = makeModelsDir(models);
  const repository = await loadModelRepository({ dir, device: 'cpu' });
  const pool = await InferencePool.start({ models: [...repository.models.values()], device: 'cpu', workers: 1 });
  const server = createServer(createApp({ repository, pool, ...appOptions })).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    repository,
    pool,
    async close() {
      server.close();
      await pool.close();
      cleanup();
    },
  };
}
