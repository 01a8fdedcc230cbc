// /metrics over a real server (startServer, real pool): the exposition text parses line by line, request counters and
// histograms move with traffic, queue waits and batch sizes come from the pool, and providers are reported per model.
// The registry itself is checked for cumulative buckets and label escaping.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MetricsRegistry } from '../../serve/metrics.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { DIGIT_CLASSES, getBytes, makeModelsDir } from './serve-fixtures.ts';

let server: RunningServer;
let cleanup: () => void;

before(async () => {
  const models = makeModelsDir({ default: {}, digits: { classes: DIGIT_CLASSES, weightSeed: 2 } });
  cleanup = models.cleanup;
  server = await startServer({ modelsDir: models.dir, port: 0, device: 'cpu', workers: 1, logger: () => {}, web: false });
});

after(async () => {
  await server.close();
  cleanup();
});

/** Parses exposition text into sample name+labels → value, checking every line's syntax on the way. */
function parseExposition(text: string): Map<string, number> {
  assert.ok(text.endsWith('\n'));
  const samples = new Map<string, number>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line);
    assert.ok(match, `not a valid sample line: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3] === '+Inf' ? Infinity : match[3]));
  }
  return samples;
}

test('requests by route and status, latency histogram, images generated, queue wait and batch sizes, provider per model', async () => {
  await Promise.all([getBytes(`${server.url}/generate?seed=1&n=3`), getBytes(`${server.url}/generate?model=digits&seed=2&n=2`)]);
  assert.equal((await getBytes(`${server.url}/generate?n=0`)).status, 400);
  assert.equal((await getBytes(`${server.url}/nope/${'x'.repeat(10)}`)).status, 404);
  const response = await fetch(`${server.url}/metrics`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await response.text();
  const m = parseExposition(text);
  assert.equal(m.get('ganforge_http_requests_total{method="GET",route="/generate",status="200"}'), 2);
  assert.equal(m.get('ganforge_http_requests_total{method="GET",route="/generate",status="400"}'), 1);
  // Unmatched paths share one label, so scanning for URLs cannot blow up the series count.
  assert.equal(m.get('ganforge_http_requests_total{method="GET",route="unmatched",status="404"}'), 1);
  assert.ok(![...m.keys()].some((k) => k.includes('xxxxxxxxxx')));
  assert.equal(m.get('ganforge_http_request_duration_seconds_count{route="/generate"}'), 3);
  assert.equal(m.get('ganforge_http_request_duration_seconds_bucket{route="/generate",le="+Inf"}'), 3);
  assert.ok(m.get('ganforge_http_request_duration_seconds_sum{route="/generate"}')! > 0);
  assert.equal(m.get('ganforge_images_generated_total{model="default"}'), 3);
  assert.equal(m.get('ganforge_images_generated_total{model="digits"}'), 2);
  assert.equal(m.get('ganforge_queue_wait_seconds_count{model="default"}'), 1);
  assert.equal(m.get('ganforge_queue_wait_seconds_count{model="digits"}'), 1);
  // n=3 → one batch of 3 images: not in the ≤2 bucket, in the ≤4 bucket.
  assert.equal(m.get('ganforge_batch_images_bucket{model="default",le="2"}'), 0);
  assert.equal(m.get('ganforge_batch_images_bucket{model="default",le="4"}'), 1);
  assert.equal(m.get('ganforge_batch_images_sum{model="default"}'), 3);
  const sha = server.repository.models.get('default')!.sha256;
  assert.equal(m.get(`ganforge_model_info{model="default",provider="cpu",sha256="${sha}"}`), 1);
  assert.equal(m.get('ganforge_workers{state="ready"}'), 1);
  assert.equal(m.get('ganforge_queued_requests'), 0);
  assert.match(text, /# TYPE ganforge_batch_images histogram\n/);
  // Process memory as the soak benchmark and dashboards read it: within sane bounds of what this process reports.
  const rss = m.get('process_resident_memory_bytes')!;
  assert.ok(rss > 10e6 && rss < 64e9, `rss ${rss}`);
  assert.ok(m.get('nodejs_heap_size_used_bytes')! > 1e6);
  assert.ok(m.get('nodejs_external_memory_bytes')! >= 0);
  assert.ok(m.get('process_uptime_seconds')! > 0);
  // The scrape itself is counted by the next scrape.
  const again = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
  assert.equal(again.get('ganforge_http_requests_total{method="GET",route="/metrics",status="200"}'), 1);
});

test('registry: buckets are cumulative with +Inf = count, label values are escaped, bad definitions throw', () => {
  const registry = new MetricsRegistry();
  const h = registry.histogram('t_seconds', 'test', [0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 7]) h.observe({ path: 'a"b\\c\nd' }, v);
  const c = registry.counter('t_total', 'test');
  c.inc({}, 2);
  const text = registry.render();
  assert.match(text, /t_seconds_bucket\{path="a\\"b\\\\c\\nd",le="0.1"\} 2\n/);
  assert.match(text, /t_seconds_bucket\{path="a\\"b\\\\c\\nd",le="1"\} 3\n/);
  assert.match(text, /t_seconds_bucket\{path="a\\"b\\\\c\\nd",le="\+Inf"\} 4\n/);
  assert.match(text, /t_seconds_sum\{path="a\\"b\\\\c\\nd"\} 7.65\n/);
  assert.match(text, /^t_total 2$/m);
  assert.throws(() => c.inc({}, -1), RangeError);
  assert.throws(() => registry.counter('t_total', 'again'), /already registered/);
  assert.throws(() => registry.histogram('u', 'x', [1, 1]), /strictly increasing/);
  assert.throws(() => registry.counter('bad-name', 'x'), /metric name/);
});
