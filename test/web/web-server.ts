// What the web tests serve: the real server that `ganforge serve` starts (startServer: model repository, inference
// workers, HTTP API, the web client router in front) on a loopback port over fixture generators; and a build of
// web/dist when it is stale.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../serve/logger.ts';
import { startServer } from '../../serve/server.ts';
import { writeFixtureModels, type FixtureGeneratorOptions } from '../fixtures/onnx-fixtures.ts';

export const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const root = new URL('../../', import.meta.url).pathname;
export const WEB_DIST = join(root, 'web', 'dist');

/** Rebuilds web/dist when any client source is newer than the built ganforge.js. */
export function ensureWebBuilt(): void {
  const built = join(WEB_DIST, 'ganforge.js');
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, e) => Math.max(max, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
  const sourcesChanged = () => Math.max(newest(join(root, 'web', 'src')), newest(join(root, 'web', 'demo')), newest(join(root, 'common'))) > statSync(built).mtimeMs;
  if (existsSync(built) && !sourcesChanged()) return;
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'build-web.mjs')], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`build-web failed:\n${result.stdout}\n${result.stderr}`);
}

export interface WebTestServer {
  url: string;
  modelsDir: string;
  close(): Promise<void>;
}

/**
 * Fixture models: 'default' a 28×28 conditional generator over the ten digits, 'plain' an unconditional one, and any
 * `extraModels` a suite needs (a slow one, say).
 */
export async function startWebTestServer(options: { distDir?: string; extraModels?: Record<string, FixtureGeneratorOptions | Uint8Array> } = {}): Promise<WebTestServer> {
  const modelsDir = writeFixtureModels(mkdtempSync(join(tmpdir(), 'ganforge-web-')), {
    default: { classes: DIGITS, latentDim: 16, imageShape: [28, 28, 1], weightSeed: 3 },
    plain: { latentDim: 8, imageShape: [12, 12, 1] },
    ...options.extraModels,
  });
  const server = await startServer({ modelsDir, port: 0, device: 'cpu', workers: 1, logger: silentLogger, ...(options.distDir === undefined ? {} : { web: options.distDir }) });
  const { url } = server;
  return {
    url,
    modelsDir,
    close: async () => {
      await server.close();
      rmSync(modelsDir, { recursive: true, force: true });
    },
  };
}
