// Plots and `ganforge compare` from real metrics: two short real trainings (MLP GAN on 256 MNIST images, 20 steps)
// write metrics.jsonl and sample grids; the plot data must be exactly what was logged, only logged series are drawn,
// a torn last line is ignored, a 100k-step log is thinned, and the compare picture shows each run's own grid.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { decode } from 'fast-png';
import { InvalidParameterError } from '../../../common/errors.ts';
import { chartPoints, chartsFor, compareChartsSpec } from '../../../train/report/charts.ts';
import { compareRuns } from '../../../train/report/compare.ts';
import { downsampleMinMax, MAX_POINTS_PER_SERIES } from '../../../train/report/downsample.ts';
import { MetricsTail, parseMetricsLog, readMetricsLog } from '../../../train/report/metrics-log.ts';
import { writeRunPlots } from '../../../train/report/plots.ts';
import { renderSvg } from '../../../train/report/render.ts';
import { trainGan, type StepMetrics } from '../../../train/trainer.ts';
import { mnistSubset, tempDir, useBestBackend } from '../helpers.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SMALL = { generatorUnits: [32, 64], discriminatorUnits: [64, 32] };

let root: string;
let runA: string;
let runB: string;
let loggedA: StepMetrics[];

async function shortRun(dir: string, learningRateDiscriminator: number): Promise<StepMetrics[]> {
  const logged: StepMetrics[] = [];
  await trainGan({
    family: 'mlp', familyConfig: SMALL, dataset: await mnistSubset(256), batchSize: 32, steps: 20, sampleEvery: 10,
    learningRateDiscriminator, progress: false, outDir: dir, onStep: (m) => logged.push(m),
  });
  return logged;
}

/** Mean absolute difference of two equally sized RGBA regions of one decoded PNG. */
function regionDifference(png: ReturnType<typeof decode>, a: { x: number; y: number }, b: { x: number; y: number }, w: number, h: number): number {
  const channels = png.channels;
  let sum = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        sum += Math.abs(png.data[((a.y + y) * png.width + a.x + x) * channels + c]! - png.data[((b.y + y) * png.width + b.x + x) * channels + c]!);
      }
    }
  }
  return sum / (w * h * 3);
}

describe('training plots', () => {
  before(async () => {
    await useBestBackend();
    root = await tempDir('report');
    runA = join(root, 'lr-d-2e-4');
    runB = join(root, 'lr-d-1e-3');
    loggedA = await shortRun(runA, 2e-4);
    await shortRun(runB, 1e-3);
  });

  it('reads back exactly the metrics the trainer reported, step by step', async () => {
    const log = await readMetricsLog(runA);
    assert.equal(log.steps.length, 20);
    assert.equal(log.skipped, 0);
    log.steps.forEach((row, i) => {
      const m = loggedA[i]!;
      assert.equal(row.step, m.step);
      for (const key of ['dLoss', 'gLoss', 'dReal', 'dFake'] as const) assert.equal(row.values[key], m[key], `${key} at step ${m.step}`);
    });
    const losses = chartsFor(log).find((c) => c.id === 'losses')!;
    const points = chartPoints(losses, log);
    assert.deepEqual(points.filter((p) => p.series === 'D loss').map((p) => p.value), loggedA.map((m) => m.dLoss));
    assert.deepEqual(points.filter((p) => p.series === 'G loss').map((p) => p.value), loggedA.map((m) => m.gLoss));
  });

  it('draws only the series the run logged: no Wasserstein or class charts for an MLP GAN, until they appear', async () => {
    const log = await readMetricsLog(runA);
    const ids = chartsFor(log).map((c) => c.id);
    assert.ok(ids.includes('losses') && ids.includes('discriminator-outputs'), ids.join(', '));
    for (const absent of ['wasserstein', 'gradient-penalty', 'class-losses', 'class-accuracy']) assert.ok(!ids.includes(absent), `${absent} in ${ids.join(', ')}`);
    assert.deepEqual(chartsFor(log).find((c) => c.id === 'discriminator-outputs')!.series.map((s) => s.label), ['D(x)', 'D(G(z))']);

    const text = await readFile(join(runA, 'metrics.jsonl'), 'utf8');
    const extended = parseMetricsLog(`${text}{"step":21,"epoch":3,"dLoss":0.5,"gLoss":1,"dReal":0.6,"dFake":0.4,"wassersteinEstimate":0.25,"gradNormD":2,"time":9}\n` +
      '{"step":21,"eval":{"frechetDistance":150.5,"classCoverage":0.9}}\n');
    const charts = chartsFor(extended);
    const wasserstein = charts.find((c) => c.id === 'wasserstein');
    assert.ok(wasserstein, charts.map((c) => c.id).join(', '));
    assert.deepEqual(chartPoints(wasserstein, extended), [{ step: 21, series: 'Wasserstein estimate', value: 0.25 }]);
    const fid = charts.find((c) => c.id === 'eval-eval_frechetDistance');
    assert.ok(fid, charts.map((c) => c.id).join(', '));
    assert.deepEqual(chartPoints(fid, extended), [{ step: 21, series: 'frechetDistance', value: 150.5 }]);
    assert.equal(extended.evals.length, 1);
  });

  it('ignores a half-written last line and reports complete lines that are not metrics', async () => {
    const text = await readFile(join(runA, 'metrics.jsonl'), 'utf8');
    const torn = parseMetricsLog(`${text}{"step":21,"epoch":3,"dLo`);
    assert.equal(torn.steps.length, 20);
    assert.equal(torn.skipped, 0);
    const garbled = parseMetricsLog(`${text}not json\n[1,2]\n{"epoch":1}\n`);
    assert.equal(garbled.steps.length, 20);
    assert.equal(garbled.skipped, 3);
  });

  it('tails a growing log: each read brings only new complete lines, a torn line waits for its newline, a new file resets', async () => {
    const dir = join(root, 'tail');
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'metrics.jsonl');
    const tail = new MetricsTail(path);
    assert.deepEqual(await tail.read(), { reset: false, log: { steps: [], evals: [], skipped: 0 } });
    const lines = (await readFile(join(runA, 'metrics.jsonl'), 'utf8')).split('\n');
    await writeFile(path, `${lines[0]}\n${lines[1]!.slice(0, 30)}`);
    let chunk = await tail.read();
    assert.deepEqual(chunk.log.steps.map((r) => r.step), [1]);
    await appendFile(path, `${lines[1]!.slice(30)}\n${lines[2]}\n`);
    chunk = await tail.read();
    assert.deepEqual(chunk.log.steps.map((r) => r.step), [2, 3]);
    assert.equal(chunk.reset, false);
    assert.deepEqual((await tail.read()).log.steps, []);
    await writeFile(path, `${lines[0]}\n`);
    chunk = await tail.read();
    assert.equal(chunk.reset, true);
    assert.deepEqual(chunk.log.steps.map((r) => r.step), [1]);
  });

  it('thins a 100k-step log to the point budget and keeps its extremes and end points', async () => {
    const steps = 100_000;
    const lines: string[] = [];
    for (let s = 1; s <= steps; s++) {
      const spike = s === 54_321 ? 40 : s === 77_777 ? -3 : 0;
      lines.push(JSON.stringify({ step: s, epoch: 1, dLoss: 0.6 + 0.05 * Math.sin(s / 500) + spike, gLoss: 1 + 0.1 * Math.cos(s / 300), dReal: 0.6, dFake: 0.4, stepsPerSecond: 10, time: s / 10 }));
    }
    const log = parseMetricsLog(`${lines.join('\n')}\n`);
    assert.equal(log.steps.length, steps);
    const losses = chartsFor(log).find((c) => c.id === 'losses')!;
    const dLoss = chartPoints(losses, log).filter((p) => p.series === 'D loss');
    assert.ok(dLoss.length <= MAX_POINTS_PER_SERIES && dLoss.length > MAX_POINTS_PER_SERIES / 2, `${dLoss.length} points`);
    assert.deepEqual(dLoss[0], { step: 1, series: 'D loss', value: log.steps[0]!.values.dLoss });
    assert.equal(dLoss[dLoss.length - 1]!.step, steps);
    assert.ok(dLoss.some((p) => p.step === 54_321 && p.value > 40), 'the spike survived');
    assert.ok(dLoss.some((p) => p.step === 77_777 && p.value < -2), 'the dip survived');
    for (let i = 1; i < dLoss.length; i++) assert.ok(dLoss[i]!.step > dLoss[i - 1]!.step, 'points stay in step order');
    // The thinned chart renders: one SVG line path per series, with at most the budget's vertices.
    const svg = await renderSvg(compareChartsSpec([{ label: 'long', log }]));
    const paths = [...svg.matchAll(/<path[^>]*\bd="(M[^"]+)"/g)].map((m) => m[1]!).filter((d) => d.split('L').length > 100);
    assert.ok(paths.length >= 2, `${paths.length} long paths`);
    for (const d of paths) assert.ok(d.split('L').length <= MAX_POINTS_PER_SERIES, `${d.split('L').length} vertices`);
    assert.deepEqual(downsampleMinMax([{ step: 1, value: 1 }], 10), [{ step: 1, value: 1 }]);
    assert.throws(() => downsampleMinMax([], 3), RangeError);
  });

  it('writeRunPlots writes an SVG and a PNG per chart and a combined one into <run>/plots, atomically', async () => {
    const written = await writeRunPlots(runA);
    const names = (await readdir(join(runA, 'plots'))).sort();
    assert.ok(names.every((n) => !n.startsWith('.tmp-')), names.join(', '));
    for (const chart of ['losses', 'discriminator-outputs', 'curves']) {
      assert.ok(names.includes(`${chart}.svg`) && names.includes(`${chart}.png`), `${chart} in ${names.join(', ')}`);
    }
    assert.equal(written.length, names.length);
    const svg = await readFile(join(runA, 'plots', 'losses.svg'), 'utf8');
    assert.match(svg, /^<svg[^>]*width="\d+"/);
    assert.match(svg, /class="mark-line role-mark/);
    assert.ok(svg.includes('D loss') && svg.includes('G loss'));
    const png = decode(await readFile(join(runA, 'plots', 'losses.png')));
    const declared = Number(/width="(\d+)"/.exec(svg)![1]);
    assert.equal(png.width, 2 * declared);
    // A drawn chart is not one flat colour.
    const grey = new Set<number>();
    for (let i = 0; i < png.data.length; i += png.channels * 97) grey.add(png.data[i]!);
    assert.ok(grey.size > 5, `${grey.size} distinct values`);
    assert.deepEqual(await writeRunPlots(join(root, 'tail-empty')), []);
  });

  it('compare: one PNG + SVG, runs labelled by what differs, each run with its own last grid', async () => {
    const out = join(root, 'compare.png');
    const result = await compareRuns({ runDirs: [runA, runB], out });
    assert.equal(result.png, out);
    assert.equal(result.svg, join(root, 'compare.svg'));
    assert.deepEqual(result.labels, ['lr-d-2e-4 (lr D 2e-4)', 'lr-d-1e-3 (lr D 1e-3)']);
    const svg = await readFile(result.svg, 'utf8');
    for (const label of result.labels) assert.ok(svg.includes(label), label);
    assert.equal((svg.match(/<image /g) ?? []).length, 2);
    const png = decode(await readFile(out));
    assert.equal(png.width, 2 * result.width);
    assert.equal(png.height, 2 * result.height);
    assert.equal(result.grids.length, 2);
    const [a, b] = result.grids.map((g) => ({ x: 2 * g.x, y: 2 * g.y, w: 2 * g.width, h: 2 * g.height }));
    assert.equal(a!.w, b!.w);
    // The two runs trained differently, so their grids (and so those regions of the picture) differ.
    assert.ok(regionDifference(png, a!, b!, a!.w, a!.h) > 1, 'the two grid cells are the same picture');
    // Same run twice: identical cells (the comparison is of runs, not noise of the drawing).
    const twice = await compareRuns({ runDirs: [runA, runA], out: join(root, 'twice.png') });
    assert.deepEqual(twice.labels, ['lr-d-2e-4', 'lr-d-2e-4 #2']);
    const twicePng = decode(await readFile(twice.png));
    const [c, d] = twice.grids.map((g) => ({ x: 2 * g.x, y: 2 * g.y, w: 2 * g.width, h: 2 * g.height }));
    assert.equal(regionDifference(twicePng, c!, d!, c!.w, c!.h), 0);
  });

  it('compare refuses a folder that is not a run, naming it', async () => {
    const empty = join(root, 'not-a-run');
    await mkdir(empty, { recursive: true });
    await assert.rejects(compareRuns({ runDirs: [runA, empty], out: join(root, 'x.png') }),
      (e: unknown) => e instanceof InvalidParameterError && e.message.includes(`${empty} is not a ganforge run folder`));
    await assert.rejects(compareRuns({ runDirs: [join(root, 'missing')], out: join(root, 'x.png') }),
      (e: unknown) => e instanceof InvalidParameterError && /missing: no such folder/.test(e.message));
  });

  it('ganforge compare prints the PNG path, and exits 1 with the reason for a non-run', () => {
    const out = join(root, 'cli.png');
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'compare', runA, runB, '--out', out], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), out);
    assert.match(ok.stderr, /compared 2 runs/);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'compare', join(root, 'not-a-run')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /INVALID_PARAMETER: .*not-a-run is not a ganforge run folder/);
  });
});
