// A small Prometheus registry for /metrics (text exposition format 0.0.4): counters, fixed-bucket histograms and
// gauges read at scrape time. Written here rather than pulled in as a dependency: the server needs a dozen series.

import type { PoolObserver, PoolStats } from './inference-pool.ts';

type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  value: number;
}

interface HistogramSeries {
  labels: Labels;
  /** Non-cumulative count per bucket, then the +Inf overflow. */
  counts: number[];
  sum: number;
  count: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra !== undefined) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

const keyOf = (labels: Labels): string => JSON.stringify(labels);

export class Counter {
  private readonly series = new Map<string, Series>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`counter '${this.name}' can only increase, got ${by}`);
    const key = keyOf(labels);
    const s = this.series.get(key);
    if (s === undefined) this.series.set(key, { labels, value: by });
    else s.value += by;
  }

  get(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) lines.push(`${this.name}${formatLabels(s.labels)} ${formatNumber(s.value)}`);
    return lines.join('\n');
  }
}

export class Histogram {
  private readonly series = new Map<string, HistogramSeries>();
  readonly buckets: readonly number[];
  constructor(readonly name: string, readonly help: string, buckets: readonly number[]) {
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new RangeError(`histogram '${name}' needs finite, strictly increasing buckets, got [${buckets.join(', ')}]`);
    }
    this.buckets = Object.freeze([...buckets]);
  }

  observe(labels: Labels, value: number): void {
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels, counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const index = this.buckets.findIndex((b) => value <= b);
    s.counts[index < 0 ? this.buckets.length : index]! += 1;
    s.sum += value;
    s.count += 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += s.counts[i]!;
        lines.push(`${this.name}_bucket${formatLabels(s.labels, ['le', formatNumber(bound)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${formatLabels(s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${formatLabels(s.labels)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${formatLabels(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** A gauge (or a counter owned by someone else, e.g. pool restarts) whose samples are read at scrape time. */
export class CollectedMetric {
  constructor(readonly name: string, readonly help: string, readonly type: 'gauge' | 'counter', private readonly collect: () => Series[]) {}

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const s of this.collect()) lines.push(`${this.name}${formatLabels(s.labels)} ${formatNumber(s.value)}`);
    return lines.join('\n');
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, { render(): string }>();

  private add<T extends { name: string; render(): string }>(metric: T): T {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric.name)) throw new RangeError(`metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*, got '${metric.name}'`);
    if (this.metrics.has(metric.name)) throw new RangeError(`metric '${metric.name}' is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  collected(name: string, help: string, type: 'gauge' | 'counter', collect: () => Series[]): CollectedMetric {
    return this.add(new CollectedMetric(name, help, type, collect));
  }

  /** The exposition text, ending in a newline as the format requires. */
  render(): string {
    return `${[...this.metrics.values()].map((m) => m.render()).join('\n')}\n`;
  }
}

/** Seconds: from a fast cached answer to a request near the default 30 s timeout. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
/** Images per merged batch: powers of two up to beyond the default maxBatchImages (64). */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;

/** The server's series. One instance is shared by the app (requests) and the pool (queue, batches). */
export interface ServerMetrics {
  registry: MetricsRegistry;
  requests: Counter;
  requestDuration: Histogram;
  queueWait: Histogram;
  batchImages: Histogram;
  imagesGenerated: Counter;
  /** Models-folder changes acted on while serving, by model and result (loaded, refused, removed); serve/model-watcher.ts counts them. */
  modelReloads: Counter;
  /** Feed this to InferencePool.start({ observer }). */
  pool: PoolObserver;
  /** Where the scrape-time gauges read from (createApp calls this). */
  attach(sources: ServerMetricsSources): void;
}

export interface ServerMetricsSources {
  /** Served models and the execution provider each runs on. */
  models: () => { name: string; provider: string; sha256: string }[];
  /** The pool's counters, when there is a pool. */
  stats?: () => PoolStats;
}

export function createServerMetrics(): ServerMetrics {
  const registry = new MetricsRegistry();
  const requests = registry.counter('ganforge_http_requests_total', 'HTTP requests answered, by method, route and status.');
  const requestDuration = registry.histogram('ganforge_http_request_duration_seconds', 'Time from request to last byte, by route.', LATENCY_BUCKETS);
  const queueWait = registry.histogram('ganforge_queue_wait_seconds', 'Time a generation request waited for an inference worker, by model.', LATENCY_BUCKETS);
  const batchImages = registry.histogram('ganforge_batch_images', 'Images per batch sent to an inference worker (dynamic batching), by model.', BATCH_BUCKETS);
  const imagesGenerated = registry.counter('ganforge_images_generated_total', 'Images generated and sent, by model.');
  const modelReloads = registry.counter('ganforge_model_reloads_total', 'Models-folder changes picked up while serving, by model and result (loaded, refused, removed).');
  let sources: ServerMetricsSources = { models: () => [] };
  registry.collected('ganforge_model_info', 'Served models: value 1, labels name the execution provider in use and the model version (sha256).', 'gauge', () =>
    sources.models().map((m) => ({ labels: { model: m.name, provider: m.provider, sha256: m.sha256 }, value: 1 })),
  );
  registry.collected('ganforge_workers', 'Inference worker threads, by state (total, ready, busy).', 'gauge', () => {
    const stats = sources.stats?.();
    return stats === undefined ? [] : (['total', 'ready', 'busy'] as const).map((state) => ({ labels: { state }, value: state === 'total' ? stats.workers : stats[state] }));
  });
  registry.collected('ganforge_queued_requests', 'Generation requests waiting for a worker.', 'gauge', () => {
    const stats = sources.stats?.();
    return stats === undefined ? [] : [{ labels: {}, value: stats.queuedRequests }];
  });
  registry.collected('ganforge_worker_restarts_total', 'Inference workers replaced after a crash.', 'counter', () => {
    const stats = sources.stats?.();
    return stats === undefined ? [] : [{ labels: {}, value: stats.restarts }];
  });
  // The standard process series (names as prom-client's defaults use them), so a soak or a dashboard sees memory and
  // uptime without a sidecar. Worker threads share the process, so this is the whole server.
  registry.collected('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', () => [{ labels: {}, value: process.memoryUsage.rss() }]);
  registry.collected('nodejs_heap_size_used_bytes', 'V8 heap in use on the HTTP thread, in bytes.', 'gauge', () => [{ labels: {}, value: process.memoryUsage().heapUsed }]);
  registry.collected('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JS objects (buffers, onnxruntime tensors), in bytes.', 'gauge', () => [{ labels: {}, value: process.memoryUsage().external }]);
  registry.collected('process_uptime_seconds', 'Seconds since the process started.', 'gauge', () => [{ labels: {}, value: Math.round(process.uptime() * 1000) / 1000 }]);
  return {
    registry,
    requests,
    requestDuration,
    queueWait,
    batchImages,
    imagesGenerated,
    modelReloads,
    pool: {
      batchDispatched: (model, images) => batchImages.observe({ model }, images),
      queueWaited: (model, seconds) => queueWait.observe({ model }, seconds),
    },
    attach(next) {
      sources = next;
    },
  };
}
