// onnxruntime-web's WebGPU execution provider, driven through ganforge's own loader in a headless Chromium that is
// asked to offer WebGPU on its software adapter (SwiftShader over Vulkan; no GPU is needed). Where this Chromium still
// offers no adapter, the test records why (test-artifacts/webgpu.json) and is skipped with that reason, not failed.
// Without chromium the suite fails under CI=true and is skipped elsewhere (apt-get install -y chromium).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type * as Ganforge from '../../web/src/ganforge.ts';
import { ensureWebBuilt, startWebTestServer, type WebTestServer } from './web-server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const haveChromium = existsSync(CHROMIUM);
const skip = !haveChromium && process.env.CI !== 'true' ? `no chromium at ${CHROMIUM} (apt-get install -y chromium)` : false;

// The usual test flags, plus the ones that let Chromium expose WebGPU on Linux without a GPU: WebGPU is behind
// --enable-unsafe-webgpu there, and Dawn's SwiftShader (Vulkan) adapter is the software one.
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'];
const REQUEST = { n: 16, seed: 1, class: 7, truncation: 0.7 };

interface AdapterProbe {
  /** Null when an adapter was found, else why not. */
  reason: string | null;
  adapter: { vendor: string; architecture: string; fallback: boolean } | null;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** What a Web Worker sees (the generator runs in one): navigator.gpu and an adapter, or the reason there is none. */
function probeAdapter(page: Page): Promise<AdapterProbe> {
  return page.evaluate(async () => {
    const source = `(async () => {
      if (!('gpu' in navigator)) return { reason: 'navigator.gpu is missing in a Web Worker (WebGPU not enabled in this Chromium)', adapter: null };
      try {
        const adapter = await navigator.gpu.requestAdapter();
        if (adapter === null) return { reason: 'navigator.gpu.requestAdapter() returned null: no WebGPU adapter, not even the SwiftShader one', adapter: null };
        const info = adapter.info ?? {};
        return { reason: null, adapter: { vendor: String(info.vendor ?? ''), architecture: String(info.architecture ?? ''), fallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) } };
      } catch (error) {
        return { reason: 'requestAdapter() failed: ' + (error && error.message), adapter: null };
      }
    })().then((answer) => postMessage(answer));`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
    const answer = await new Promise<AdapterProbe>((resolve) => worker.addEventListener('message', (e) => resolve(e.data as AdapterProbe), { once: true }));
    worker.terminate();
    return answer;
  });
}

describe('WebGPU execution provider (headless Chromium, software adapter)', { skip }, () => {
  let server: WebTestServer;
  let browser: Browser;
  let page: Page;
  let probe: AdapterProbe;

  before(async () => {
    if (!haveChromium) throw new Error(`CI=true but no chromium at ${CHROMIUM}: apt-get install -y chromium`);
    ensureWebBuilt();
    server = await startWebTestServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', ...WEBGPU_FLAGS],
    });
    page = await browser.newPage();
    // tsx compiles this file with esbuild's keepNames; functions sent to page.evaluate would miss its __name helper.
    await page.addInitScript({ content: 'globalThis.__name = (fn) => fn;' });
    await page.goto(`${server.url}/web/embed.html`);
    probe = await probeAdapter(page);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'webgpu.json'), `${JSON.stringify({ chromium: browser.version(), flags: WEBGPU_FLAGS, ...probe }, null, 2)}\n`);
    console.log(`# WebGPU in a worker: ${probe.reason ?? `adapter ${JSON.stringify(probe.adapter)}`}`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs the generator on WebGPU and matches the wasm result and the server', async (t) => {
    if (probe.reason !== null) {
      t.skip(`no WebGPU adapter: ${probe.reason}`);
      return;
    }
    const run = await page.evaluate(async (request) => {
      const library = (await import(new URL('/web/ganforge.js', location.href).href)) as typeof Ganforge;
      const results: Record<string, { backend: string; thread: string; fallbackReason: string | undefined; data: number[] }> = {};
      for (const backend of ['webgpu', 'wasm'] as const) {
        const generator = await library.loadGenerator('/models/default.onnx', { backend });
        const { data } = await generator.generate(request);
        results[backend] = { backend: generator.info.backend, thread: generator.info.thread, fallbackReason: generator.info.fallbackReason, data: Array.from(data) };
        await generator.dispose();
      }
      return results;
    }, REQUEST);
    assert.equal(run.webgpu!.backend, 'webgpu');
    assert.equal(run.webgpu!.thread, 'worker');
    assert.equal(run.webgpu!.fallbackReason, undefined);
    assert.equal(run.wasm!.backend, 'wasm');
    const diff = maxAbsDiff(run.webgpu!.data, run.wasm!.data);
    console.log(`# webgpu vs wasm: max |diff| ${diff.toExponential(2)} over ${run.webgpu!.data.length} values`);
    assert.ok(diff <= 1e-4, `webgpu vs wasm max |diff| = ${diff}`);
    const server_ = (await (await fetch(`${server.url}/generate?model=default&class=7&truncation=0.7&seed=1&n=16&format=json`)).json()) as { data: number[] };
    assert.ok(maxAbsDiff(run.webgpu!.data, server_.data) <= 1e-4);
    // Different values must give a different grid, or the comparison proves nothing.
    assert.ok(maxAbsDiff(run.webgpu!.data, new Array<number>(run.webgpu!.data.length).fill(0)) > 1e-2);
  });

  it('<gan-sampler> picks WebGPU on its own and says so', async (t) => {
    if (probe.reason !== null) {
      t.skip(`no WebGPU adapter: ${probe.reason}`);
      return;
    }
    const shown = await page.evaluate(async () => {
      const element = document.querySelector('gan-sampler') as HTMLElement & { backend?: string; result?: unknown };
      const rendered = await new Promise<string>((resolve) => {
        if (element.result !== undefined) resolve('already rendered');
        element.addEventListener('render', (e) => resolve((e as CustomEvent<{ backend: string }>).detail.backend), { once: true });
      });
      const renderBackend = rendered === 'already rendered' ? await new Promise<string>((resolve) => {
        element.addEventListener('render', (e) => resolve((e as CustomEvent<{ backend: string }>).detail.backend), { once: true });
        element.setAttribute('seed', '2');
      }) : rendered;
      return { renderBackend, property: element.backend, text: element.shadowRoot!.querySelector('[part=backend]')!.textContent };
    });
    assert.deepEqual(shown, { renderBackend: 'webgpu', property: 'webgpu', text: 'webgpu · in a worker' });
  });
});
