// How fast is sampling in the page compared with the server's runtime? Measures images/s of the exported mlp generator
// in headless Chromium (onnxruntime-web wasm, 1 thread and all cores) and in onnxruntime-node (1 thread and default
// threads) at n = 1 and 64, plus the time from navigation to the demo's first grid on a cold cache. A browser call is
// the library's generate() (seeded latents + inference + reading the output back), as the demo runs it.
// Run: npx tsx bench/browser-throughput.ts   (needs Debian's chromium: apt-get install -y chromium)

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { chromium, type Browser } from 'playwright-core';
import { sampleLatents } from '../common/latents.ts';
import { MANIFEST_FORMAT, type ModelManifest } from '../common/manifest.ts';
import { exportGenerator } from '../export/export-generator.ts';
import { silentLogger } from '../serve/logger.ts';
import { createNodeSession, onnxruntimeVersion, ort } from '../runtime/ort-node.ts';
import { startServer } from '../serve/server.ts';
import { BUILD_WEB_COMMAND } from '../serve/web-assets.ts';
import { buildMlpGenerator, mlpDefaults } from '../train/models/mlp.ts';
import { medianSeconds } from './timing.ts';

export interface BrowserBenchOptions {
  /** Chromium binary. Default '/usr/bin/chromium' (or $CHROMIUM_PATH). */
  executablePath?: string;
  /** Batch sizes measured. Default [1, 64]. */
  batchSizes?: number[];
  /** Untimed calls before measuring. Default 3. */
  warmup?: number;
  /** Timed calls per figure at n = 1 (larger n get fewer, at least 5). Default 41. */
  runsAtBatch1?: number;
  /** Cold page loads timed for the first-grid figure. Default 3. */
  pageLoads?: number;
}

export interface BrowserBenchResult {
  /** Images/s by runtime label, per batch size. */
  rows: { batch: number; imagesPerSecond: Record<string, number> }[];
  runtimes: string[];
  /** Median ms from navigation start to the first grid (n = 16), cold cache, per browser thread setting. */
  firstGridMs: Record<string, number>;
  environment: string;
}

const LATENT_DIM = 100;
const IMAGE_SHAPE: [number, number, number] = [28, 28, 1];
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export async function benchBrowserThroughput(options: BrowserBenchOptions = {}): Promise<BrowserBenchResult> {
  const { executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', batchSizes = [1, 64], warmup = 3, runsAtBatch1 = 41, pageLoads = 3 } = options;
  const runsFor = (batch: number) => Math.max(5, Math.round(runsAtBatch1 / Math.sqrt(batch)));
  const cores = availableParallelism();
  if (!existsSync(new URL('../web/dist/ganforge.js', import.meta.url))) throw new Error(`build the browser client first: ${BUILD_WEB_COMMAND}`);
  if (!existsSync(executablePath)) throw new Error(`no chromium at ${executablePath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);

  await tf.setBackend('cpu');
  const model = buildMlpGenerator({ ...mlpDefaults }, { imageShape: IMAGE_SHAPE, numClasses: null, latentDim: LATENT_DIM, seed: 1 });
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT, family: 'mlp', latentDim: LATENT_DIM, classes: null, imageShape: IMAGE_SHAPE, valueRange: [-1, 1],
    inputs: { latent: 'z', label: null }, output: 'image', truncationModes: ['psi', 'resample'],
    training: { dataset: 'none', steps: 0, epochs: 0, batchSize: 0, seed: 1, backend: 'cpu', loss: 'non-saturating' }, ganforgeVersion: '0.0.0',
  };
  const bytes = exportGenerator(model, manifest);
  model.dispose();

  const rows: BrowserBenchResult['rows'] = batchSizes.map((batch) => ({ batch, imagesPerSecond: {} }));
  const runtimes: string[] = [];

  // onnxruntime-node, timed the same way: latents sampled per call, output read back.
  for (const threads of [1, 0]) {
    const label = `onnxruntime-node ${threads === 0 ? 'default threads' : '1 thread'}`;
    runtimes.push(label);
    const { session } = await createNodeSession(bytes, { device: 'cpu', intraOpNumThreads: threads });
    try {
      for (const row of rows) {
        const call = async () => {
          const z = sampleLatents({ latentDim: LATENT_DIM, count: row.batch, seed: 7 });
          const out = await session.run({ z: new ort.Tensor('float32', z, [row.batch, LATENT_DIM]) });
          return (out.image!.data as Float32Array).length;
        };
        row.imagesPerSecond[label] = row.batch / (await medianSeconds(call, warmup, runsFor(row.batch)));
      }
    } finally {
      await session.release();
    }
  }

  const modelsDir = mkdtempSync(join(tmpdir(), 'ganforge-bench-'));
  writeFileSync(join(modelsDir, 'default.onnx'), bytes);
  const server = await startServer({ modelsDir, port: 0, device: 'cpu', workers: 1, logger: silentLogger });
  const { url } = server;
  let browser: Browser | undefined;
  const firstGridMs: Record<string, number> = {};
  let chromiumVersion: string | undefined;
  try {
    browser = await chromium.launch({ executablePath, headless: true, args: ARGS });
    chromiumVersion = browser.version();
    for (const threads of [1, cores]) {
      const label = `browser wasm ${threads} thread${threads === 1 ? '' : 's'}`;
      runtimes.push(label);
      const loads: number[] = [];
      for (let i = 0; i < pageLoads; i++) {
        const context = await browser.newContext(); // a fresh context has an empty HTTP cache
        const page = await context.newPage();
        await page.goto(`${url}/?threads=${threads}&n=16&seed=1`);
        await page.waitForFunction(() => window.ganforgeDemo?.firstGridMs !== undefined && window.ganforgeDemo.generator !== undefined, undefined, { timeout: 120_000 });
        loads.push(await page.evaluate(() => window.ganforgeDemo.firstGridMs!));
        const used = await page.evaluate(() => window.ganforgeDemo.generator!.info.threads);
        if (used !== threads) throw new Error(`asked the page for ${threads} wasm threads, it runs ${used}`);
        if (i === pageLoads - 1) {
          for (const row of rows) {
            const seconds = await page.evaluate(async ([batch, warm, runs]) => {
              const generator = window.ganforgeDemo.generator!;
              for (let k = 0; k < warm!; k++) await generator.generate({ n: batch!, seed: 7 });
              const times: number[] = [];
              for (let k = 0; k < runs!; k++) {
                const start = performance.now();
                await generator.generate({ n: batch!, seed: 7 });
                times.push((performance.now() - start) / 1000);
              }
              times.sort((a, b) => a - b);
              return times[Math.floor(times.length / 2)]!;
            }, [row.batch, warmup, runsFor(row.batch)]);
            row.imagesPerSecond[label] = row.batch / seconds;
          }
        }
        await context.close();
      }
      loads.sort((a, b) => a - b);
      firstGridMs[label] = loads[Math.floor(loads.length / 2)]!;
    }
  } finally {
    await browser?.close();
    await server.close();
    rmSync(modelsDir, { recursive: true, force: true });
  }
  const environment = `${cores} cores, Node ${process.version}, onnxruntime-node ${onnxruntimeVersion} (CPU EP), headless Chromium ${chromiumVersion ?? '?'} (--disable-gpu) with onnxruntime-web 1.30.0 wasm over loopback`;
  return { rows, runtimes, firstGridMs, environment };
}

/** Markdown: an images/s table per runtime and batch, and the first-grid times. */
export function formatBrowserBench(result: BrowserBenchResult): string {
  const header = ['n', ...result.runtimes.map((r) => `${r} img/s`)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---:').join('|')}|`];
  for (const row of result.rows) {
    lines.push(`| ${[String(row.batch), ...result.runtimes.map((r) => Math.round(row.imagesPerSecond[r]!).toLocaleString('en-US'))].join(' | ')} |`);
  }
  const loads = Object.entries(result.firstGridMs).map(([label, ms]) => `${label}: ${Math.round(ms)} ms`);
  return [
    lines.join('\n'),
    '',
    `Page load to first grid (n = 16, cold cache, median): ${loads.join('; ')}.`,
    `mlp generator (z 100 → 256 → 512 → 1024 → 784); ${result.environment}; median of timed calls after warm-up.`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatBrowserBench(await benchBrowserThroughput()));
}
