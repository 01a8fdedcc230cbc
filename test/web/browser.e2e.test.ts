// The demo page and <gan-sampler> in a real headless Chromium (Debian's `chromium`, never a downloaded browser),
// served by the real server on a loopback port: the page's images must equal /generate?format=json's within 1e-4.
// Without chromium the suite fails under CI=true and is skipped elsewhere (apt-get install -y chromium).

import assert from 'node:assert/strict';
import { decode } from 'fast-png';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { exportStyleGenerator } from '../export/helpers.ts';
import { ensureWebBuilt, startWebTestServer, type WebTestServer } from './web-server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const haveChromium = existsSync(CHROMIUM);
const skip = !haveChromium && process.env.CI !== 'true' ? `no chromium at ${CHROMIUM} (apt-get install -y chromium)` : false;

interface PageBatch {
  mode: 'browser' | 'server';
  seed: number;
  shape: number[];
  labels: number[] | null;
  data: number[];
}

/** The batch on the demo's grid after its render count passes `after`. */
async function nextRender(page: Page, after: number, mode: 'browser' | 'server' = 'browser'): Promise<PageBatch> {
  await page.waitForFunction(([n, m]) => window.ganforgeDemo.renders > (n as number) && window.ganforgeDemo.lastResult?.mode === m, [after, mode], { timeout: 30_000 });
  return page.evaluate(() => {
    const r = window.ganforgeDemo.lastResult!;
    return { mode: r.mode, seed: r.seed, shape: [...r.shape], labels: (r as { labels?: number[] | null }).labels ?? null, data: Array.from(r.data) };
  });
}

const renders = (page: Page) => page.evaluate(() => window.ganforgeDemo.renders);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('demo page in headless Chromium', { skip }, () => {
  let server: WebTestServer;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  before(async () => {
    if (!haveChromium) throw new Error(`CI=true but no chromium at ${CHROMIUM}: apt-get install -y chromium`);
    ensureWebBuilt();
    server = await startWebTestServer({ extraModels: { style: await exportStyleGenerator({ imageShape: [28, 28, 1], latentDim: 16 }) } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 400) consoleErrors.push(`HTTP ${response.status()} ${new URL(response.url()).pathname}`);
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('generates class 7 at truncation 0.7, seed 1 equal to /generate?format=json', async () => {
    await page.goto(`${server.url}/?class=7&truncation=0.7&seed=1&n=16`);
    const shown = await nextRender(page, 0);
    const response = await fetch(`${server.url}/generate?model=default&class=7&truncation=0.7&seed=1&n=16&format=json`);
    const expected = (await response.json()) as { shape: number[]; data: number[] };
    assert.deepEqual(shown.shape, [16, 28, 28, 1]);
    assert.deepEqual(shown.shape, expected.shape);
    assert.deepEqual(shown.labels, new Array<number>(16).fill(7));
    const diff = maxAbsDiff(shown.data, expected.data);
    assert.ok(diff <= 1e-4, `browser vs server max |diff| = ${diff}`);
    // The page is cross-origin isolated, so onnxruntime-web may use threads, and it reports the backend that runs.
    const runtime = await page.evaluate(() => ({ isolated: crossOriginIsolated, info: window.ganforgeDemo.generator!.info }));
    assert.equal(runtime.isolated, true);
    assert.ok(['wasm', 'webgpu'].includes(runtime.info.backend));
    assert.match(await page.textContent('#status') ?? '', new RegExp(`runs in this page on ${runtime.info.backend}`));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'demo-page.png'), fullPage: true });
    assert.deepEqual(consoleErrors.filter((e) => !e.startsWith('Failed to load resource')), []);
  });

  it('shows the style-mixing controls for a style model only, and mixes in the browser and on the server as /generate does', async () => {
    const mixingShown = () => page.evaluate(() => !document.getElementById('mixing')!.hidden);
    await page.goto(`${server.url}/?model=style&class=7&truncation=0.7&seed=1&n=4&mixSeed=5&mixFrom=1`);
    // The first render counted is the browser's, after the model loaded (server mode is not selected).
    const browser = await nextRender(page, 0);
    assert.equal(await mixingShown(), true);
    assert.equal(await page.getAttribute('#mix-from', 'max'), '4', 'the slider spans the model\'s four synthesis layers');
    const expected = (await (await fetch(`${server.url}/generate?model=style&class=7&truncation=0.7&seed=1&n=4&mixSeed=5&mixFrom=1&format=json`)).json()) as { data: number[] };
    assert.ok(maxAbsDiff(browser.data, expected.data) <= 1e-4, 'browser mix = server mix');
    const unmixed = (await (await fetch(`${server.url}/generate?model=style&class=7&truncation=0.7&seed=1&n=4&format=json`)).json()) as { data: number[] };
    assert.ok(maxAbsDiff(browser.data, unmixed.data) > 1e-2, 'the mix changes the images');
    const count = await renders(page);
    await page.check('input[value=server]');
    const onServer = await nextRender(page, count, 'server');
    assert.ok(maxAbsDiff(onServer.data, expected.data) <= 1e-6, 'server mode sends the mix too');
    await page.goto(`${server.url}/?model=default&class=7&seed=1&n=4`);
    await nextRender(page, 0);
    assert.equal(await mixingShown(), false, 'hidden for a model without mixing inputs');
    // Back to the page the next tests continue from (the first test's).
    await page.goto(`${server.url}/?class=7&truncation=0.7&seed=1&n=16`);
    await nextRender(page, 0);
  });

  it('re-renders when a control moves, and shows the server’s identical grid with both timings', async () => {
    let count = await renders(page);
    await page.selectOption('#class', '3');
    const three = await nextRender(page, count);
    assert.deepEqual(three.labels, new Array<number>(16).fill(3));
    count = await renders(page);
    await page.check('input[name=mode][value=server]');
    const fromServer = await nextRender(page, count, 'server');
    assert.ok(maxAbsDiff(fromServer.data, three.data) <= 1e-4);
    assert.match(await page.textContent('#time-browser') ?? '', /ms for 16/);
    assert.match(await page.textContent('#time-server') ?? '', /ms for 16/);
    count = await renders(page);
    await page.check('input[name=mode][value=browser]');
    await nextRender(page, count);
  });

  it('shows a clear message for n too large and keeps working', async () => {
    const count = await renders(page);
    await page.fill('#n', '500');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error') ?? '', /'n' must be an integer in \[1, 64\], got "500"/);
    await page.fill('#n', '4');
    const fixed = await nextRender(page, count);
    assert.deepEqual(fixed.shape, [4, 28, 28, 1]);
    assert.equal(await page.isHidden('#error'), true);
  });

  it('downloads a PNG with exactly the pixels the server sends for the same request', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const path = await download.path();
    const { readFileSync } = await import('node:fs');
    const fromPage = readFileSync(path);
    const fromServer = Buffer.from(await (await fetch(`${server.url}/generate?model=default&class=3&truncation=0.7&seed=1&n=4&format=png`)).arrayBuffer());
    // Pixels, not bytes: the page compresses with fflate, the server with node:zlib.
    const [pagePixels, serverPixels] = [decode(fromPage), decode(fromServer)];
    assert.deepEqual([pagePixels.width, pagePixels.height, pagePixels.channels], [serverPixels.width, serverPixels.height, serverPixels.channels]);
    assert.ok(Buffer.from(pagePixels.data).equals(Buffer.from(serverPixels.data)), 'page PNG pixels differ from /generate?format=png');
    assert.match(download.suggestedFilename(), /^default-seed1\.png$/);
  });

  it('animates an interpolation between two seeds, and stops on request', async () => {
    await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('#interp')!.width === 28);
    const frame = () => page.evaluate(() => document.querySelector<HTMLCanvasElement>('#interp')!.toDataURL());
    const first = await frame();
    await page.waitForFunction((f) => document.querySelector<HTMLCanvasElement>('#interp')!.toDataURL() !== f, first, { timeout: 5000 });
    assert.equal(await page.textContent('#interp-play'), 'Stop');
    await page.click('#interp-play');
    assert.equal(await page.textContent('#interp-play'), 'Play');
    const stopped = await frame();
    await page.waitForTimeout(300);
    assert.equal(await frame(), stopped);
  });

  it('reports a model that fails to load and still works with another', async () => {
    await page.goto(`${server.url}/?model=/models/missing.onnx`);
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error') ?? '', /missing\.onnx.*HTTP 404.*unknown model/);
    await page.selectOption('#model', '/models/default.onnx');
    await nextRender(page, 0);
  });
});

describe('<gan-sampler> in headless Chromium', { skip }, () => {
  let server: WebTestServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    if (!haveChromium) throw new Error(`CI=true but no chromium at ${CHROMIUM}: apt-get install -y chromium`);
    ensureWebBuilt();
    server = await startWebTestServer({ extraModels: { style: await exportStyleGenerator({ imageShape: [28, 28, 1], latentDim: 16 }) } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Resolves with the next 'render' (values) or 'error' (message) event of #sampler. */
  const nextEvent = (attribute: string, value: string) =>
    page.evaluate(async ([name, newValue]) => {
      const element = document.querySelector('gan-sampler')!;
      const event = new Promise<{ type: string; data?: number[]; message?: string }>((resolve) => {
        element.addEventListener('render', (e) => resolve({ type: 'render', data: Array.from((e as CustomEvent<{ result: { data: Float32Array } }>).detail.result.data) }), { once: true });
        element.addEventListener('error', () => resolve({ type: 'error', message: element.shadowRoot!.querySelector('[part=message]')!.textContent ?? '' }), { once: true });
      });
      element.setAttribute(name!, newValue!);
      return event;
    }, [attribute, value]);

  it('renders from one script tag, equal to the server, and re-renders on attribute changes', async () => {
    await page.goto(`${server.url}/web/embed.html`);
    await page.waitForFunction(() => (document.querySelector('gan-sampler') as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 30_000 });
    const first = await page.evaluate(() => Array.from((document.querySelector('gan-sampler') as unknown as { result: { data: Float32Array } }).result.data));
    const expected = (await (await fetch(`${server.url}/generate?model=default&class=7&truncation=0.7&seed=1&n=16&format=json`)).json()) as { data: number[] };
    assert.ok(maxAbsDiff(first, expected.data) <= 1e-4);
    const width = await page.evaluate(() => document.querySelector('gan-sampler')!.shadowRoot!.querySelector('canvas')!.width);
    assert.equal(width, 4 * 28 + 5 * 2);

    const reseeded = await nextEvent('seed', '2');
    assert.equal(reseeded.type, 'render');
    const seed2 = (await (await fetch(`${server.url}/generate?model=default&class=7&truncation=0.7&seed=2&n=16&format=json`)).json()) as { data: number[] };
    assert.ok(maxAbsDiff(reseeded.data!, seed2.data) <= 1e-4);

    const bad = await nextEvent('class', '12');
    assert.equal(bad.type, 'error');
    assert.match(bad.message!, /'class' must be an integer in \[0, 9\]/);
    const recovered = await nextEvent('class', 'seven');
    assert.equal(recovered.type, 'render');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'gan-sampler.png') });
  });

  it('mixes styles from mix-seed and mix-from on a style model, equal to the server, and names a bad crossover', async () => {
    await page.goto(`${server.url}/web/embed.html`);
    await page.waitForFunction(() => (document.querySelector('gan-sampler') as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 30_000 });
    const serverJson = async (query: string) => ((await (await fetch(`${server.url}/generate?model=style&class=7&truncation=0.7&seed=1&n=16&format=json${query}`)).json()) as { data: number[] }).data;
    const unmixed = await nextEvent('model', '/models/style.onnx');
    assert.equal(unmixed.type, 'render', unmixed.message);
    assert.ok(maxAbsDiff(unmixed.data!, await serverJson('')) <= 1e-4);
    const mixed = await nextEvent('mix-seed', '5');
    assert.equal(mixed.type, 'render', mixed.message);
    assert.ok(maxAbsDiff(mixed.data!, await serverJson('&mixSeed=5')) <= 1e-4, 'page mix = server mix');
    assert.ok(maxAbsDiff(mixed.data!, unmixed.data!) > 1e-2, 'the mix changes the images');
    const fine = await nextEvent('mix-from', '3');
    assert.equal(fine.type, 'render', fine.message);
    assert.ok(maxAbsDiff(fine.data!, await serverJson('&mixSeed=5&mixFrom=3')) <= 1e-4);
    const bad = await nextEvent('mix-from', '9');
    assert.equal(bad.type, 'error');
    assert.match(bad.message!, /'mixFrom' must be an integer in \[0, 4\]/);
  });
});
