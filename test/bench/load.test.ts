// bench/load.ts: the report helpers (quantiles, Prometheus parsing, mean batch, linear fit) and the closed-loop load
// generator and /healthz probe against a real server on loopback.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchTotals, linearFit, meanBatchBetween, parseConcurrencies, parsePrometheusText, quantile, runClosedLoop, startFixedResponseServer, startProbe, summarizeLatencies, sumSamples } from '../../bench/load.ts';
import { measureGemmPeak } from '../../bench/ort-ceiling.ts';
import { sampleLatents } from '../../common/latents.ts';
import { InferencePool } from '../../serve/inference-pool.ts';
import { createServerMetrics } from '../../serve/metrics.ts';
import { MODEL_SPECS, poolModel, startTestServer } from '../serve/serve-fixtures.ts';

describe('quantile / summarizeLatencies', () => {
  it('takes the nearest rank: the smallest value with at least q of the list at or below it', () => {
    const hundred = Array.from({ length: 100 }, (_v, i) => i + 1);
    assert.equal(quantile(hundred, 0.5), 50);
    assert.equal(quantile(hundred, 0.99), 99);
    assert.equal(quantile(hundred, 1), 100);
    assert.equal(quantile(hundred, 0), 1);
    assert.equal(quantile([7], 0.99), 7);
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });

  it('sorts before summarizing and reports count, mean and max', () => {
    const s = summarizeLatencies([5, 1, 4, 2, 3]);
    assert.deepEqual(s, { count: 5, meanMs: 3, p50Ms: 3, p99Ms: 5, maxMs: 5 });
    assert.equal(summarizeLatencies([]).count, 0);
  });
});

describe('parsePrometheusText', () => {
  it('reads names, labels (with escapes) and values, and skips comments', () => {
    const samples = parsePrometheusText([
      '# HELP x_total Things.',
      '# TYPE x_total counter',
      'x_total{route="/generate",note="a \\"quoted\\" \\\\ value"} 12',
      'x_total{route="/healthz"} 3',
      'y 1.5e3',
      '',
    ].join('\n'));
    assert.deepEqual(samples, [
      { name: 'x_total', labels: { route: '/generate', note: 'a "quoted" \\ value' }, value: 12 },
      { name: 'x_total', labels: { route: '/healthz' }, value: 3 },
      { name: 'y', labels: {}, value: 1500 },
    ]);
    assert.equal(sumSamples(samples, 'x_total'), 15);
    assert.equal(sumSamples(samples, 'absent'), 0);
  });

  it("batchTotals over the server's own /metrics agrees with the pool's batch counters", async () => {
    const metrics = createServerMetrics();
    // A frozen clock: no batch is ever measured as long, so the plan below does not depend on this machine's speed.
    const pool = await InferencePool.start({ models: [poolModel('slow', MODEL_SPECS.slow)], device: 'cpu', workers: 1, observer: metrics.pool, clock: () => 0 });
    try {
      const before = batchTotals(metrics.registry.render());
      const latentDim = 8;
      // 12 single-image requests queued in one turn on one worker (serve/batching-policy.ts planDispatch): the first
      // goes to the idle worker at once; the model has no measured batch time yet, so nothing more is handed to the
      // busy worker, and once it answers the other 11 leave as one batch. Decided on the HTTP thread before any answer.
      await Promise.all(Array.from({ length: 12 }, (_v, seed) => pool.run('slow', { latent: sampleLatents({ latentDim, count: 1, seed }), labels: null, count: 1 })));
      const after = batchTotals(metrics.registry.render());
      const stats = pool.stats();
      assert.equal(after.batches - before.batches, stats.batches);
      assert.equal(after.images - before.images, 12);
      assert.deepEqual({ batches: stats.batches, mergedRequests: stats.mergedRequests }, { batches: 2, mergedRequests: 10 });
      assert.equal(meanBatchBetween(before, after), 6);
      assert.ok(Number.isNaN(meanBatchBetween(after, after)));
    } finally {
      await pool.close();
    }
  });
});

describe('linearFit', () => {
  it('recovers an exact line and the least-squares slope of a noisy one', () => {
    assert.deepEqual(linearFit([0, 1, 2, 3].map((x) => ({ x, y: 2 * x + 1 }))), { slope: 2, intercept: 1 });
    const noisy = linearFit([{ x: 0, y: 0 }, { x: 1, y: 2 }, { x: 2, y: 1 }, { x: 3, y: 3 }]);
    assert.ok(Math.abs(noisy.slope - 0.8) < 1e-12);
    assert.ok(Math.abs(noisy.intercept - 0.3) < 1e-12);
    assert.ok(Number.isNaN(linearFit([{ x: 1, y: 1 }, { x: 1, y: 2 }]).slope));
  });
});

describe('runClosedLoop / startProbe against a real server', () => {
  it('counts expected and unexpected statuses separately, with latencies by kind', async () => {
    const server = await startTestServer({ default: {} });
    try {
      const result = await runClosedLoop({
        baseUrl: server.base,
        concurrency: 4,
        seconds: 0.5,
        // Every third request expects 200 from a malformed query: those must all land in `unexpected` as 400s.
        next: (seq) =>
          seq % 3 === 2
            ? { path: '/generate?n=0', expectStatus: 200, kind: 'wrong expectation' }
            : seq % 3 === 1
              ? { path: '/generate?format=gif', expectStatus: 400, kind: 'bad' }
              : { path: `/generate?seed=${seq}`, expectStatus: 200, kind: 'good' },
      });
      assert.ok(result.requests > 0);
      assert.deepEqual(Object.keys(result.unexpected), ['400']);
      assert.equal(result.unexpectedTotal, result.unexpected['400']);
      assert.equal(result.byKind['wrong expectation'], undefined);
      assert.equal(result.byKind.good!.count + result.byKind.bad!.count, result.requests);
      // Every sequence number after the warm-up is sent and answered before the run ends, so the kinds differ by ≤ 1.
      assert.ok(Math.abs(result.byKind.good!.count - result.unexpectedTotal) <= 1);
      assert.equal(result.requestsPerSecond, result.requests / result.seconds);
    } finally {
      await server.close();
    }
  });

  it('the probe sees /healthz answer 200 on its own connection until stopped', async () => {
    // Stopped once the server has answered a given number of probes (its access log), not after a sleep: how many
    // probes fit in a time span depends on how busy the machine is.
    const answered = new Map<string, number>();
    const server = await startTestServer({ default: {} }, { logger: (e) => { if (e.event === 'request') answered.set(String(e.path), (answered.get(String(e.path)) ?? 0) + 1); } });
    const served = async (path: string, count: number) => {
      const deadline = performance.now() + 30_000; // a safety net only
      while ((answered.get(path) ?? 0) < count) {
        if (performance.now() > deadline) throw new Error(`the server answered only ${answered.get(path) ?? 0} probes of ${path}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    try {
      const probe = startProbe(`${server.base}/healthz`, 10);
      await served('/healthz', 3);
      const result = await probe.stop();
      assert.equal(result.failures, 0);
      assert.ok(result.count >= 3, `only ${result.count} probes counted of the ${answered.get('/healthz')} answered`);
      assert.ok(result.p50Ms <= result.p99Ms && result.p99Ms <= result.maxMs);
      const missing = startProbe(`${server.base}/no-such-route`, 10);
      await served('/no-such-route', 1);
      const failed = await missing.stop();
      assert.ok(failed.failures >= 1);
      assert.equal(failed.count, 0);
    } finally {
      await server.close();
    }
  });
});

describe('parseConcurrencies', () => {
  it('reads a comma-separated list of client counts and refuses anything outside [1, 256]', () => {
    assert.deepEqual(parseConcurrencies('8,32'), [8, 32]);
    assert.deepEqual(parseConcurrencies('1'), [1]);
    for (const bad of ['0', '257', '8,x', '2.5', '', '8,,32']) {
      assert.throws(() => parseConcurrencies(bad), /'--concurrency' must list integers in \[1, 256\]/, bad);
    }
  });
});

describe('the ceilings', () => {
  it('the bare server replays the given headers and body on every request, with node:http adding only its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ganforge-fixed-'));
    const bodyFile = join(dir, 'body.png');
    writeFileSync(bodyFile, Uint8Array.from({ length: 300 }, (_v, i) => i % 251));
    const server = await startFixedResponseServer(bodyFile, [['content-type', 'image/png'], ['etag', '"g2-abc"'], ['x-ganforge-seed', '7']]);
    try {
      for (const path of ['/generate?seed=1', '/anything']) {
        const response = await fetch(server.url + path);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('etag'), '"g2-abc"');
        assert.equal(response.headers.get('x-ganforge-seed'), '7');
        assert.equal(response.headers.get('content-type'), 'image/png');
        assert.equal(response.headers.get('content-length'), '300');
        const body = new Uint8Array(await response.arrayBuffer());
        assert.deepEqual([...body.subarray(0, 3)], [0, 1, 2]);
        assert.equal(body.length, 300);
      }
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('measures a GEMM rate in onnxruntime-node: positive, from completed runs of a 512³ MatMul', async () => {
    const peak = await measureGemmPeak({ threads: 1, seconds: 0.3 });
    assert.deepEqual(peak.shape, [512, 512, 512]);
    assert.equal(peak.threads, 1);
    assert.ok(peak.runs >= 1, `no run finished: ${JSON.stringify(peak)}`);
    // Any machine that runs ORT does well over 1 GFLOP/s on one core; 10 TFLOP/s on one CPU thread would be a timing bug.
    assert.ok(peak.gflops > 1 && peak.gflops < 10_000, `implausible ${peak.gflops} GFLOP/s`);
  });
});
