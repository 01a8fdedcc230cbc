// End to end: a real `ganforge train` child process (the full-size MLP GAN on 512 MNIST images) watched by the
// dashboard in headless Chromium. The run folder appears after the dashboard started, its curves grow while it
// trains, and stopping it leaves a checkpoint that loads. The stop goes through the page's button when the trainer
// writes <run>/active.json; a trainer that does not write it yet is stopped with SIGINT directly, and the button part
// is reported as skipped.

import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { LATEST_FILE, loadCheckpoint } from '../../../train/checkpoint.ts';
import { ACTIVE_FILE } from '../../../train/dashboard/active-run.ts';
import { startDashboard, type Dashboard } from '../../../train/dashboard/server.ts';
import { readMetricsLog } from '../../../train/report/metrics-log.ts';
import { tempDir, useBestBackend } from '../helpers.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const skip = !haveChromium && process.env.CI !== 'true' ? `no chromium at ${CHROMIUM} (apt-get install -y chromium)` : false;

describe('dashboard with a real ganforge train process', { skip }, () => {
  let runsDir: string;
  let runDir: string;
  let dashboard: Dashboard;
  let browser: Browser;
  let page: Page;
  let child: ChildProcessByStdio<null, null, Readable>;
  let stderr = '';

  before(async () => {
    if (!haveChromium) throw new Error(`CI=true but no chromium at ${CHROMIUM}: apt-get install -y chromium`);
    runsDir = join(await tempDir('dashboard-e2e'), 'runs');
    runDir = join(runsDir, 'e2e');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(runsDir);
    dashboard = await startDashboard({ runsDir, port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(dashboard.url);
    await page.waitForFunction(() => window.ganforgeDashboard?.connected === true, undefined, { timeout: 30_000 });
    child = spawn(process.execPath, [
      '--import', 'tsx', 'cli/main.ts', 'train', '--family', 'mlp', '--dataset', 'mnist', '--limit', '512', '--steps', '100000',
      '--batch-size', '32', '--sample-every', '5', '--threads', '1', '--out', runDir,
    ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  });

  after(async () => {
    if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await browser?.close();
    await dashboard?.close();
  });

  it('shows the run as it trains, and stopping it leaves a loadable checkpoint', async (t) => {
    // The run folder did not exist when the page loaded: it must appear, with curves that keep growing.
    await page.waitForFunction(() => window.ganforgeDashboard.pointCount('e2e', 'losses') > 0, undefined, { timeout: 180_000 });
    const first = await page.evaluate(() => window.ganforgeDashboard.pointCount('e2e', 'losses'));
    await page.waitForFunction((n) => window.ganforgeDashboard.pointCount('e2e', 'losses') > n + 4, first, { timeout: 180_000 });
    await page.locator('section.run[data-run="e2e"] img.latest-grid[src*="/samples/"]').waitFor({ state: 'attached', timeout: 180_000 });
    // The first epoch's checkpoint (16 steps) brings the sidecar, which the page shows as the run's family; by then a
    // trainer that keeps active.json has long written it.
    await page.locator('section.run[data-run="e2e"] table.settings', { hasText: 'mlp' }).waitFor({ state: 'attached', timeout: 180_000 });
    assert.ok(existsSync(join(runDir, LATEST_FILE)), `the page shows a sidecar but there is no ${LATEST_FILE}`);
    const exited = once(child, 'exit');
    const viaButton = existsSync(join(runDir, ACTIVE_FILE));
    if (viaButton) {
      const button = page.locator('section.run[data-run="e2e"] button.stop');
      await button.and(page.locator(':enabled')).waitFor({ timeout: 30_000 });
      await button.click();
    } else {
      t.diagnostic(`the trainer wrote no ${ACTIVE_FILE}: stop button not exercised, SIGINT sent directly`);
      child.kill('SIGINT');
    }
    const [code] = await exited as [number | null];
    assert.equal(code, 130, `ganforge train exits 130 after a stop; it said:\n${stderr.slice(-2000)}`);
    assert.match(stderr, /interrupted: saving a checkpoint at the current step/);
    await useBestBackend();
    const loaded = await loadCheckpoint(runDir);
    const log = await readMetricsLog(runDir);
    assert.equal(loaded.sidecar.step, log.steps[log.steps.length - 1]!.step, 'the checkpoint is at the last logged step');
    assert.ok(loaded.sidecar.step >= 16, `stopped after the first epoch, at step ${loaded.sidecar.step}`);
    loaded.generator.dispose();
    loaded.discriminator.dispose();
    if (viaButton) assert.ok(!existsSync(join(runDir, ACTIVE_FILE)), `the trainer left ${ACTIVE_FILE} behind after the stop`);
  });
});
