// Shared by the serving benchmarks (serve-throughput, conv-batching, soak): servers started as child processes (so the
// load generator never shares their event loop), a closed-loop HTTP load generator over loopback, a /healthz probe on
// its own connection, and the small pure helpers the reports need (quantiles, Prometheus text, a linear fit).

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

// ---------------------------------------------------------------- child processes

export interface NodeChild {
  /** The url from the child's JSON 'listening' line. */
  url: string;
  /** The node process itself (not a shell), so /proc/<pid> describes the server. */
  pid: number;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
// A benchmark that throws or is interrupted must not leave servers holding ports and cores.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `node <args>` and resolves once it logs a JSON line with event 'listening' and a url. stderr lines (where a
 * ganforge server writes warnings and errors) are handed to `onLine` and passed through to this process's stderr;
 * stdout lines are handed to `onLine` until 'listening', then stdout is drained without being split into lines: a
 * ganforge server logs one access line per request there, and parsing them here would charge the load generator
 * (this process) for a log consumer that in production is another process.
 */
export function startNodeChild(args: string[], onLine: (line: string, stream: 'stdout' | 'stderr') => void = () => {}): Promise<NodeChild> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: child.stderr }).on('line', (line) => {
    onLine(line, 'stderr');
    process.stderr.write(`${line}\n`);
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    running.delete(child);
    resolve();
  }));
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let listening = false;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (listening) return;
      onLine(line, 'stdout');
      if (!line.includes('"listening"')) return;
      const entry = JSON.parse(line) as { url?: string };
      if (entry.url === undefined) return;
      listening = true;
      lines.close();
      child.stdout.resume(); // flowing with no reader: drained, never stalls the child
      resolve({ url: entry.url, pid: child.pid!, child, stop });
    });
    void exited.then(() => {
      if (!listening) reject(new Error(`child 'node ${args.join(' ').slice(0, 100)}' exited (${child.exitCode ?? child.signalCode}) before listening`));
    });
  });
}

/** Runs `node <args>` to completion and returns its stdout lines; rejects when it exits with a failure. */
export function runNodeScript(args: string[]): Promise<string[]> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      if (code === 0) resolve(lines);
      else reject(new Error(`'node ${args.join(' ').slice(0, 100)}' exited with ${code ?? signal}`));
    });
  });
}

export interface GanforgeServeOptions {
  workers: number;
  /** --max-batch; undefined = the server's default. */
  maxBatch?: number;
  /** --max-images; undefined = the server's default. */
  maxImages?: number;
  /** More `ganforge serve` flags, e.g. ['--batch-delay-ms', '0'] (a benchmark's --server-flags); the options above come later and win. */
  extraFlags?: string[];
}

let built: Promise<void> | undefined;

/**
 * Compiles the server (tsc -p tsconfig.build.json → dist/), once per benchmark process: the serving benchmarks measure
 * what `npm start` runs, plain JavaScript on node, not the sources under tsx (whose keepNames wrappers cost the HTTP
 * thread ~5-10 µs a request, measured).
 */
export function buildServer(): Promise<void> {
  built ??= runNodeScript([fileURLToPath(import.meta.resolve('typescript/bin/tsc')), '-p', 'tsconfig.build.json']).then(() => undefined);
  return built;
}

/** The built `ganforge serve` (see buildServer) on a free loopback port, CPU only, API only (what every serving benchmark runs). */
export async function startGanforge(modelsDir: string, options: GanforgeServeOptions, onLine?: (line: string, stream: 'stdout' | 'stderr') => void): Promise<NodeChild> {
  await buildServer();
  const args = ['dist/cli/main.js', 'serve', '--models', modelsDir, '--port', '0', '--device', 'cpu', '--api-only', ...(options.extraFlags ?? []), '--workers', String(options.workers)];
  if (options.maxBatch !== undefined) args.push('--max-batch', String(options.maxBatch));
  if (options.maxImages !== undefined) args.push('--max-images', String(options.maxImages));
  return startNodeChild(args, onLine);
}

/** A benchmark's --concurrency list ('8,32') as client counts, each an integer in [1, 256]. */
export function parseConcurrencies(text: string): number[] {
  const concurrencies = text.split(',').map(Number);
  if (!concurrencies.every((c) => Number.isInteger(c) && c >= 1 && c <= 256)) throw new RangeError(`'--concurrency' must list integers in [1, 256], got ${text}`);
  return concurrencies;
}

/** A benchmark's --server-flags text as arguments (given as --server-flags='--batch-delay-ms 0 --preferred-batch 8': parseArgs takes a value starting with '-' only after '='). */
export function splitFlags(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((word) => word !== '');
}

/** A bare node:http server answering every request with `bodyFile`'s bytes: what HTTP alone costs on this machine. */
/**
 * A bare node:http server answering every request with the same status, headers and body: the HTTP ceiling. Given the
 * headers a real response carried, it sends the same bytes, so the client parses exactly what it parses from the server
 * under test (node:http adds Date, Connection and Keep-Alive to both).
 */
export function startFixedResponseServer(bodyFile: string, headers: readonly (readonly [string, string])[]): Promise<NodeChild> {
  const script = `
    const http = require('node:http'); const body = require('node:fs').readFileSync(${JSON.stringify(bodyFile)});
    const headers = ${JSON.stringify(headers.flat())}.concat(['content-length', String(body.length)]);
    const server = http.createServer((req, res) => { res.writeHead(200, headers); res.end(body); });
    server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ event: 'listening', url: 'http://127.0.0.1:' + server.address().port })));`;
  return startNodeChild(['-e', script]);
}

/** Resident set size of a live process from /proc/<pid>/status (Linux), in bytes; undefined when unreadable. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- HTTP

export interface HttpResult {
  /** 0 when the connection failed before a response. */
  status: number;
  bytes: number;
}

/** One GET over `agent`; the body is read and counted, never kept. Never rejects (a failure is status 0). */
export function httpGet(agent: Agent, url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return new Promise((done) => {
    request(url, { agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => done({ status: res.statusCode ?? 0, bytes }));
      res.on('error', () => done({ status: 0, bytes }));
    }).on('error', () => done({ status: 0, bytes: 0 })).end();
  });
}

export async function fetchJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

export async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

// ---------------------------------------------------------------- closed-loop load

/** One request of a load run and the status it must get (anything else counts as unexpected). */
export interface LoadRequest {
  /** Path and query, appended to the base url. */
  path: string;
  headers?: Record<string, string>;
  expectStatus: number;
  /** Groups the latency report (e.g. 'png n=1'); default 'all'. */
  kind?: string;
}

export interface LoadOptions {
  baseUrl: string;
  concurrency: number;
  seconds: number;
  /** The `seq`-th request of the run (seq counts from 0 across all clients). */
  next: (seq: number) => LoadRequest;
  /** Requests sent before the clock starts, to open connections and warm caches. Default min(concurrency, 4). */
  warmup?: number;
  /** Called after every response, e.g. to sample memory without a timer of its own. */
  onResponse?: (result: HttpResult, request: LoadRequest, ms: number) => void;
}

export interface LoadResult {
  concurrency: number;
  seconds: number;
  /** Responses with the expected status. */
  requests: number;
  /** Responses with another status or no response at all (status 0), by status. */
  unexpected: Record<string, number>;
  unexpectedTotal: number;
  requestsPerSecond: number;
  /** Latency of the expected responses. */
  latency: LatencySummary;
  /** Latency by request kind. */
  byKind: Record<string, LatencySummary>;
}

/** `concurrency` clients, each sending its next request as soon as the previous one is answered, for `seconds`. */
export async function runClosedLoop(options: LoadOptions): Promise<LoadResult> {
  const { baseUrl, concurrency, seconds, next, onResponse } = options;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let seq = 0;
  await Promise.all(Array.from({ length: options.warmup ?? Math.min(concurrency, 4) }, () => {
    const r = next(seq++);
    return httpGet(agent, baseUrl + r.path, r.headers);
  }));
  const latencies: number[] = [];
  const byKind = new Map<string, number[]>();
  const unexpected: Record<string, number> = {};
  let unexpectedTotal = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const r = next(seq++);
      const t = performance.now();
      const result = await httpGet(agent, baseUrl + r.path, r.headers);
      const ms = performance.now() - t;
      if (result.status === r.expectStatus) {
        latencies.push(ms);
        const kind = r.kind ?? 'all';
        let list = byKind.get(kind);
        if (list === undefined) byKind.set(kind, (list = []));
        list.push(ms);
      } else {
        unexpected[String(result.status)] = (unexpected[String(result.status)] ?? 0) + 1;
        unexpectedTotal++;
      }
      onResponse?.(result, r, ms);
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    concurrency,
    seconds: elapsed,
    requests: latencies.length,
    unexpected,
    unexpectedTotal,
    requestsPerSecond: latencies.length / elapsed,
    latency: summarizeLatencies(latencies),
    byKind: Object.fromEntries([...byKind].map(([kind, list]) => [kind, summarizeLatencies(list)])),
  };
}

export interface ProbeResult extends LatencySummary {
  /** Probes that got no 200. */
  failures: number;
}

/**
 * GETs `url` every `intervalMs` on a connection of its own (one socket, kept alive), one at a time, until stop():
 * what a health checker sees while the server is busy with other clients.
 */
export function startProbe(url: string, intervalMs: number): { stop(): Promise<ProbeResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let failures = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t = performance.now();
      const { status } = await httpGet(agent, url);
      if (status === 200) latencies.push(performance.now() - t);
      else failures++;
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      agent.destroy();
      return { ...summarizeLatencies(latencies), failures };
    },
  };
}

// ---------------------------------------------------------------- pure helpers

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The nearest-rank q-quantile of an ascending list (NaN when empty): the smallest value with ≥ q of the list at or below it. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarizeLatencies(ms: readonly number[]): LatencySummary {
  const sorted = [...ms].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { count: sorted.length, meanMs: mean, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted.at(-1) ?? NaN };
}

export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a Prometheus text exposition (comments skipped; label values unescaped). */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of every sample named `name` (over all label sets); 0 when there is none. */
export function sumSamples(samples: readonly PrometheusSample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
}

/** Totals of the ganforge_batch_images histogram: batches sent to workers and images in them, over all models. */
export function batchTotals(metricsText: string): { batches: number; images: number } {
  const samples = parsePrometheusText(metricsText);
  return { batches: sumSamples(samples, 'ganforge_batch_images_count'), images: sumSamples(samples, 'ganforge_batch_images_sum') };
}

/** Mean images per batch between two batchTotals readings (NaN when no batch ran in between). */
export function meanBatchBetween(before: { batches: number; images: number }, after: { batches: number; images: number }): number {
  const batches = after.batches - before.batches;
  return batches > 0 ? (after.images - before.images) / batches : NaN;
}

/** Least-squares line through (x, y) points; slope NaN with fewer than two distinct x. */
export function linearFit(points: readonly { x: number; y: number }[]): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : NaN;
  return { slope, intercept: my - slope * mx };
}
