// The dashboard over a real loopback port and in a real headless Chromium: a run trained here (MLP GAN, 20 steps) and
// a "live" run whose metrics.jsonl the test appends to. The page must show curves (SVG line marks), the latest grid
// and the grid animation; appended lines must reach the charts through server-sent events (waited for, never timed);
// the stop button must SIGINT a real child process through the active.json contract, and stale or foreign pids must
// be refused.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { appendFile, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ACTIVE_FILE, parseActiveRun, stopRun } from '../../../train/dashboard/active-run.ts';
import { startDashboard, type Dashboard } from '../../../train/dashboard/server.ts';
import { trainGan } from '../../../train/trainer.ts';
import { mnistSubset, tempDir, useBestBackend } from '../helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const skipBrowser = !haveChromium && process.env.CI !== 'true' ? `no chromium at ${CHROMIUM} (apt-get install -y chromium)` : false;

/** A process that announces itself through active.json and records the SIGINT it gets (then exits 0). */
const SIGINT_CHILD = `
const fs = require('node:fs');
const [active, marker] = process.argv.slice(1);
process.on('SIGINT', () => { fs.writeFileSync(marker, 'SIGINT'); fs.rmSync(active, { force: true }); process.exit(0); });
fs.writeFileSync(active, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
console.log('ready');
setInterval(() => {}, 1 << 30);
`;

async function spawnSigintChild(runDir: string, marker: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', SIGINT_CHILD, join(runDir, ACTIVE_FILE), marker], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [data] = await once(child.stdout, 'data') as [Buffer];
  assert.equal(data.toString().trim(), 'ready');
  return child;
}

let root: string;
let runsDir: string;
let trained: string;
let live: string;
let metricLines: string[];
let dashboard: Dashboard;
const children: ChildProcess[] = [];

async function api(path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL(path, dashboard.url), init);
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

const stopRequest = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' };

describe('dashboard', () => {
  before(async () => {
    await useBestBackend();
    root = await tempDir('dashboard');
    runsDir = join(root, 'runs');
    trained = join(runsDir, 'mlp-trained');
    live = join(runsDir, 'live');
    await trainGan({
      family: 'mlp', familyConfig: { generatorUnits: [32, 64], discriminatorUnits: [64, 32] }, dataset: await mnistSubset(256),
      batchSize: 32, steps: 20, sampleEvery: 5, progress: false, outDir: trained,
    });
    metricLines = (await readFile(join(trained, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    // The live run starts with the first 10 steps and one grid; the tests append the rest.
    await mkdir(join(live, 'samples'), { recursive: true });
    await writeFile(join(live, 'metrics.jsonl'), `${metricLines.slice(0, 10).join('\n')}\n`);
    await copyFile(join(trained, 'samples', 'step-000005.png'), join(live, 'samples', 'step-000005.png'));
    await mkdir(join(runsDir, 'not-a-run'));
    dashboard = await startDashboard({ runsDir, port: 0 });
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await dashboard?.close();
  });

  it('lists the run folders (not other folders) with config, backend and grids; serves charts and grids', async () => {
    const { status, body } = await api('/api/runs');
    assert.equal(status, 200);
    const runs = body.runs as { name: string; family: string | null; backend: string | null; settings: Record<string, unknown>; samples: { name: string }[]; step: number }[];
    assert.deepEqual(runs.map((r) => r.name), ['live', 'mlp-trained']);
    const run = runs[1]!;
    assert.equal(run.family, 'mlp');
    assert.ok(typeof run.backend === 'string' && run.backend.length > 0);
    assert.equal(run.settings.batchSize, 32);
    assert.equal(run.step, 20);
    assert.ok(run.samples.length >= 4, run.samples.map((s) => s.name).join(', '));
    assert.equal(runs[0]!.family, null); // no checkpoint yet: no sidecar, still listed

    const charts = await api('/api/runs/mlp-trained/charts');
    assert.equal(charts.status, 200);
    const ids = (charts.body.charts as { id: string; spec: { data: { name: string; values?: unknown[] }[] } }[]).map((c) => c.id);
    assert.ok(ids.includes('losses') && ids.includes('discriminator-outputs'), ids.join(', '));
    const losses = (charts.body.charts as { id: string; spec: { data: { name: string; values?: unknown[] }[] } }[]).find((c) => c.id === 'losses')!;
    assert.equal(losses.spec.data.find((d) => d.name === 'points')!.values!.length, 40); // 20 steps × (D loss, G loss)

    const grid = await fetch(new URL(`/api/runs/mlp-trained/samples/${run.samples[0]!.name}`, dashboard.url));
    assert.equal(grid.status, 200);
    assert.equal(grid.headers.get('content-type'), 'image/png');
    assert.deepEqual([...new Uint8Array(await grid.arrayBuffer()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  it('compares runs by name, labelled by what sets them apart', async () => {
    const { status, body } = await api('/api/compare?runs=live&runs=mlp-trained');
    assert.equal(status, 200);
    assert.deepEqual(body.runs, [{ name: 'live', label: 'live' }, { name: 'mlp-trained', label: 'mlp-trained' }]);
    assert.equal((await api('/api/compare?runs=live&runs=nope')).status, 404);
    assert.equal((await api('/api/compare')).status, 400);
  });

  it('refuses unknown runs, odd file names, foreign Host headers and stop requests that are not JSON', async () => {
    assert.equal((await api('/api/runs/not-a-run/charts')).status, 404);
    assert.equal((await api('/api/runs/..%2F..%2Fetc/charts')).status, 404);
    const odd = await api('/api/runs/mlp-trained/samples/..%2Fmetrics.jsonl');
    assert.equal(odd.status, 400);
    assert.match(String(odd.body.message), /'file' must be a sample grid's \.png name/);
    // fetch() may not set Host, so this one goes through node:http (a DNS-rebinding page's requests carry its name).
    const rebinding = await new Promise<number>((resolveStatus, reject) => {
      const url = new URL('/api/runs', dashboard.url);
      request({ host: url.hostname, port: url.port, path: url.pathname, headers: { host: 'attacker.example' } }, (res) => {
        res.resume();
        resolveStatus(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
    assert.equal(rebinding, 400);
    const form = await api('/api/runs/live/stop', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    assert.equal(form.status, 400);
    assert.match(String(form.body.message), /Content-Type application\/json/);
    const notTraining = await api('/api/runs/mlp-trained/stop', stopRequest);
    assert.equal(notTraining.status, 400);
    assert.match(String(notTraining.body.message), /is not training: it has no active\.json/);
  });

  it('refuses to signal a stale active.json: a dead pid, or a pid younger than the file (reused)', async () => {
    const dead = spawn(process.execPath, ['-e', '0']);
    await once(dead, 'exit');
    await writeFile(join(trained, ACTIVE_FILE), JSON.stringify({ pid: dead.pid, startedAt: new Date().toISOString() }));
    const stale = await api('/api/runs/mlp-trained/stop', stopRequest);
    assert.equal(stale.status, 400);
    assert.match(String(stale.body.message), new RegExp(`training process ${dead.pid} is no longer running`));

    const marker = join(root, 'reused-marker');
    const child = await spawnSigintChild(join(root), marker); // writes its own active.json elsewhere
    children.push(child);
    await writeFile(join(trained, ACTIVE_FILE), JSON.stringify({ pid: child.pid, startedAt: new Date(Date.now() - 3_600_000).toISOString() }));
    const reused = await api('/api/runs/mlp-trained/stop', stopRequest);
    assert.equal(reused.status, 400);
    assert.match(String(reused.body.message), /the pid was reused, not signalling it/);
    assert.equal(child.exitCode, null);
    assert.ok(!existsSync(marker), 'the child was signalled');
    await writeFile(join(trained, ACTIVE_FILE), '{"pid": "12"}');
    assert.match(String((await api('/api/runs/mlp-trained/stop', stopRequest)).body.message), /must be \{"pid"/);
    await rm(join(trained, ACTIVE_FILE));
    child.kill('SIGKILL');
    await once(child, 'exit');
  });

  it('calls onStop instead of signalling when the run trains in the dashboard\'s own process', async () => {
    const dir = join(root, 'in-process');
    await mkdir(dir);
    await writeFile(join(dir, ACTIVE_FILE), JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
    const stopped: string[] = [];
    assert.deepEqual(await stopRun(dir, { onStop: (d) => stopped.push(d) }), { pid: process.pid, via: 'callback' });
    assert.deepEqual(stopped, [dir]);
    assert.equal(parseActiveRun('{"pid": 1, "startedAt": "2026-01-01T00:00:00Z"}'), null);
  });

  describe('in headless Chromium', { skip: skipBrowser }, () => {
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];

    before(async () => {
      if (!haveChromium) throw new Error(`CI=true but no chromium at ${CHROMIUM}: apt-get install -y chromium`);
      browser = await chromium.launch({
        executablePath: CHROMIUM, headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      });
      page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()); });
      await page.goto(dashboard.url);
      await page.waitForFunction(() => window.ganforgeDashboard?.connected === true && window.ganforgeDashboard.chartLoads >= 2, undefined, { timeout: 60_000 });
    });

    after(async () => {
      await browser?.close();
    });

    it('shows both runs with curves, the latest grid, the grid animation and the config', async () => {
      assert.deepEqual(await page.evaluate(() => window.ganforgeDashboard.runs()), ['live', 'mlp-trained']);
      const card = page.locator('section.run[data-run="mlp-trained"]');
      const linePaths = await card.locator('[data-chart="losses"] svg .mark-line path').evaluateAll((paths) => paths.map((p) => p.getAttribute('d') ?? ''));
      assert.equal(linePaths.length, 2, 'D loss and G loss lines');
      for (const d of linePaths) assert.ok(d.split('L').length >= 20, `a line through 20 steps, got ${d.slice(0, 60)}`);
      assert.ok(await card.locator('[data-chart="discriminator-outputs"] svg .mark-line path').count() >= 2);
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('section.run[data-run="mlp-trained"] img')].every((img) => img.complete && img.naturalWidth > 0), undefined, { timeout: 30_000 });
      const latest = await card.locator('img.latest-grid').evaluate((img: HTMLImageElement) => ({ src: img.src, width: img.naturalWidth }));
      assert.match(latest.src, /\/api\/runs\/mlp-trained\/samples\/.+\.png/);
      assert.ok(latest.width >= 8 * 28, `grid ${latest.width} px wide`);
      // The animation steps through every grid in order.
      const slider = card.locator('.animation-controls input[type=range]');
      const frames = Number(await slider.getAttribute('max')) + 1;
      assert.ok(frames >= 4, `${frames} frames`);
      await slider.fill('0');
      const first = await card.locator('img.animation-grid').getAttribute('src');
      await slider.fill(String(frames - 1));
      const last = await card.locator('img.animation-grid').getAttribute('src');
      assert.notEqual(first, last);
      assert.match(await card.locator('.animation-grid + figcaption').textContent() ?? '', new RegExp(`${frames}/${frames}`));
      const settings = await card.locator('table.settings').textContent() ?? '';
      assert.ok(settings.includes('mlp') && settings.includes('batchSize'), settings);
      assert.deepEqual(pageErrors, []);
    });

    it('ticking two runs compares them on shared axes, with their grids', async () => {
      assert.equal(await page.locator('#compare').isVisible(), false);
      await page.locator('section.run[data-run="mlp-trained"] input.compare-checkbox').check();
      await page.locator('section.run[data-run="live"] input.compare-checkbox').check();
      await page.waitForFunction(() => window.ganforgeDashboard.compareLoads >= 1, undefined, { timeout: 30_000 });
      await page.locator('#compare').waitFor({ state: 'visible', timeout: 30_000 });
      const text = await page.locator('#compare-chart svg').textContent() ?? '';
      assert.ok(text.includes('live') && text.includes('mlp-trained'), 'both runs in the legend');
      // Losses and D outputs: 2 runs × 2 series each; one line per (run, series).
      assert.ok(await page.locator('#compare-chart svg .mark-line path').count() >= 8);
      assert.equal(await page.locator('#compare-grids img').count(), 2);
      await page.locator('section.run[data-run="live"] input.compare-checkbox').uncheck();
      await page.locator('#compare').waitFor({ state: 'hidden', timeout: 30_000 });
      assert.deepEqual(pageErrors, []);
    });

    it('appended metrics lines reach the curves through server-sent events; a torn line waits for its newline', async () => {
      const count = () => page.evaluate(() => window.ganforgeDashboard.pointCount('live', 'losses'));
      assert.equal(await count(), 20); // 10 steps × 2 series
      await appendFile(join(live, 'metrics.jsonl'), `${metricLines.slice(10, 13).join('\n')}\n${metricLines[13]!.slice(0, 25)}`);
      await page.waitForFunction(() => window.ganforgeDashboard.pointCount('live', 'losses') >= 26, undefined, { timeout: 30_000 });
      assert.equal(await count(), 26);
      await appendFile(join(live, 'metrics.jsonl'), `${metricLines[13]!.slice(25)}\n`);
      await page.waitForFunction(() => window.ganforgeDashboard.pointCount('live', 'losses') >= 28, undefined, { timeout: 30_000 });
      assert.equal(await count(), 28);
      assert.match(await page.locator('section.run[data-run="live"] .step').textContent() ?? '', /step 14/);
      // A metric the run did not log before brings its own chart.
      await appendFile(join(live, 'metrics.jsonl'), `${JSON.stringify({ ...JSON.parse(metricLines[14]!) as object, wassersteinEstimate: 0.3 })}\n`);
      // (one point draws no visible line yet, so wait for the mark to exist rather than to be visible)
      await page.locator('section.run[data-run="live"] [data-chart="wasserstein"] svg .mark-line path').waitFor({ state: 'attached', timeout: 30_000 });
      assert.equal(await count(), 30, 'the reload after the new chart kept every point');
      // A new grid becomes the latest one.
      await copyFile(join(trained, 'samples', 'step-000010.png'), join(live, 'samples', 'step-000010.png'));
      await page.waitForFunction(() => document.querySelector<HTMLImageElement>('section.run[data-run="live"] img.latest-grid')?.src.includes('step-000010.png') === true, undefined, { timeout: 30_000 });
      assert.deepEqual(pageErrors, []);
    });

    it('the stop button sends SIGINT to the process named in active.json', async () => {
      const marker = join(root, 'sigint-marker');
      const child = await spawnSigintChild(live, marker);
      children.push(child);
      const exited = once(child, 'exit');
      const card = page.locator('section.run[data-run="live"]');
      const button = card.locator('button.stop');
      await button.and(page.locator(':enabled')).waitFor({ timeout: 30_000 });
      assert.match(await card.locator('.badge').textContent() ?? '', new RegExp(`training \\(pid ${child.pid}\\)`));
      await button.click();
      const [code, signal] = await exited as [number | null, NodeJS.Signals | null];
      assert.equal(code, 0);
      assert.equal(signal, null);
      assert.equal(await readFile(marker, 'utf8'), 'SIGINT');
      await card.locator('.stop-result', { hasText: `sent SIGINT to pid ${child.pid}` }).waitFor({ timeout: 30_000 });
      // The child removed active.json on its way out: the run shows as stopped, the button disabled.
      await card.locator('.badge', { hasText: 'stopped' }).waitFor({ timeout: 30_000 });
      assert.equal(await button.isDisabled(), true);
      assert.deepEqual(pageErrors, []);
    });
  });
});

declare global {
  interface Window {
    ganforgeDashboard: {
      connected: boolean;
      chartLoads: number;
      compareLoads: number;
      runEvents: number;
      metricsEvents: number;
      pointCount(run: string, chartId: string): number;
      runs(): string[];
    };
  }
}
