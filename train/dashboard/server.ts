// `ganforge dashboard`'s server: one page that lists the runs in a folder with their curves (the same Vega specs the
// plot files use, rendered in the browser), config and backend, latest grid, an animation of the grids, and a
// stop-and-save button. Live updates go out as server-sent events when fs.watch reports a change; the page never
// polls. Independent of serve/ (the model server): this reads run folders, nothing else.

import type { Server } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { GanforgeError, InvalidParameterError } from '../../common/errors.ts';
import { isTempName } from '../atomic-write.ts';
import { chartPoints, chartsFor, compareChartsSpec, runChartSpec } from '../report/charts.ts';
import { compareLabels } from '../report/compare.ts';
import { readMetricsLog } from '../report/metrics-log.ts';
import { compileChart } from '../report/render.ts';
import { readRunSidecar, runSettings, SAMPLES_DIR } from '../report/run-folder.ts';
import { stopRun } from './active-run.ts';
import { RunsWatcher, type RunsEvent } from './runs-watcher.ts';

export interface DashboardOptions {
  /** Folder of run folders (or one run folder). */
  runsDir: string;
  /** Port; 0 picks a free one. Default 8090. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (the stop button signals processes: keep it off the network). */
  host?: string;
  /** Called instead of SIGINT for a run that trains in this process (`ganforge train --dashboard`). */
  onStop?: (runDir: string) => void;
  /** Seconds between SSE keep-alive comments (proxies drop idle streams). Default 20. */
  keepAliveSeconds?: number;
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

/** Chart size in the page (CSS pixels of the plot area). */
const PAGE_CHART = { width: 420, height: 150 };

/** Starts the dashboard; resolves once it listens. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8090;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`'port' must be an integer in [0, 65535], got ${port}`);
  const clients = new Set<Response>();
  const broadcast = (event: RunsEvent) => {
    const payload = event.type === 'run' ? event.summary : event.update;
    const message = `event: ${event.type}\ndata: ${JSON.stringify(payload)}\n\n`;
    for (const res of clients) res.write(message);
  };
  const watcher = new RunsWatcher({ runsDir: options.runsDir, onEvent: broadcast });
  await watcher.start();
  const app = createDashboardApp({ watcher, clients, host, ...(options.onStop === undefined ? {} : { onStop: options.onStop }) });
  const server = await new Promise<Server>((resolveListen, reject) => {
    const s = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolveListen(s)));
  });
  const keepAlive = setInterval(() => { for (const res of clients) res.write(': keep-alive\n\n'); }, (options.keepAliveSeconds ?? 20) * 1000);
  keepAlive.unref();
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${actualPort}/`,
    close: async () => {
      clearInterval(keepAlive);
      watcher.close();
      for (const res of clients) res.end();
      clients.clear();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}

interface AppOptions {
  watcher: RunsWatcher;
  clients: Set<Response>;
  host: string;
  onStop?: (runDir: string) => void;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function createDashboardApp({ watcher, clients, host, onStop }: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const pageDir = findPageDir();
  const vegaDir = dirname(fileURLToPath(import.meta.resolve('vega')));

  // Bound to loopback, answer only requests addressed to loopback: a DNS-rebinding page cannot read runs or press stop.
  app.use((req, _res, next) => {
    const hostname = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (LOOPBACK_NAMES.has(host) && !LOOPBACK_NAMES.has(hostname)) {
      next(new InvalidParameterError('host', `the dashboard listens on ${host} and answers only requests for localhost, got Host ${JSON.stringify(req.headers.host ?? '')}`));
      return;
    }
    next();
  });

  app.get('/', (_req, res) => res.sendFile(join(pageDir, 'index.html')));
  app.get('/dashboard.js', (_req, res) => res.type('text/javascript').sendFile(join(pageDir, 'dashboard.js')));
  app.get('/dashboard.css', (_req, res) => res.sendFile(join(pageDir, 'dashboard.css')));
  // vega's own browser build, from node_modules: no CDN, no bundling step.
  app.get('/vendor/vega.min.js', (_req, res) => res.type('text/javascript').sendFile(join(vegaDir, 'vega.min.js')));

  app.get('/api/runs', (_req, res) => res.json({ runsDir: watcher.runsDir, runs: watcher.list() }));

  app.get('/api/runs/:name/charts', async (req, res) => {
    const dir = knownRun(watcher, req.params.name);
    const log = await readMetricsLog(dir);
    const charts = chartsFor(log).map((chart) => ({
      id: chart.id, title: chart.title,
      spec: compileChart(runChartSpec(chart, chartPoints(chart, log), PAGE_CHART)),
    }));
    res.json({ run: req.params.name, steps: log.steps.length, charts });
  });

  // Several runs on shared axes (the same spec as `ganforge compare`): ?runs=a&runs=b
  app.get('/api/compare', async (req, res) => {
    const raw: unknown = req.query.runs;
    const names = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((n): n is string => typeof n === 'string' && n !== '');
    if (names.length < 1 || names.length > 12) throw new InvalidParameterError('runs', `give 1 to 12 runs as ?runs=a&runs=b, got ${names.length}`);
    const runs = await Promise.all(names.map(async (name) => {
      const dir = knownRun(watcher, name);
      return { name, log: await readMetricsLog(dir), settings: runSettings(await readRunSidecar(dir)) };
    }));
    const labels = compareLabels(runs);
    const spec = compileChart(compareChartsSpec(runs.map((r, i) => ({ label: labels[i]!, log: r.log })), PAGE_CHART));
    res.json({ runs: runs.map((r, i) => ({ name: r.name, label: labels[i] })), spec });
  });

  app.get('/api/runs/:name/samples/:file', (req, res) => {
    const dir = knownRun(watcher, req.params.name);
    const file = req.params.file;
    if (!/^[\w.-]+\.png$/i.test(file) || isTempName(file)) throw new InvalidParameterError('file', `'file' must be a sample grid's .png name, got ${JSON.stringify(file)}`);
    const path = join(dir, SAMPLES_DIR, file);
    if (!existsSync(path)) throw new GanforgeError('NOT_FOUND', `run '${req.params.name}' has no sample grid ${file}`);
    res.sendFile(path, { headers: { 'cache-control': 'no-cache' } });
  });

  app.post('/api/runs/:name/stop', async (req, res) => {
    // A cross-site form cannot send JSON without a CORS preflight, which this server never grants.
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new InvalidParameterError('content-type', `POST /api/runs/:name/stop needs Content-Type application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      throw new InvalidParameterError('origin', `stop requests must come from the dashboard page itself, got Origin ${JSON.stringify(origin)}`);
    }
    const dir = knownRun(watcher, req.params.name);
    const result = await stopRun(dir, onStop === undefined ? {} : { onStop });
    await watcher.refresh(req.params.name);
    res.json({ run: req.params.name, ...result });
  });

  app.get('/api/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // hello: the page (re)loads the run list, so a reconnect misses nothing.
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ runs: watcher.list().length })}\n\n`);
    clients.add(res);
    req.on('close', () => clients.delete(res));
  });

  app.use((req, _res, next) => next(new GanforgeError('NOT_FOUND', `no route ${req.method} ${req.path}`)));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = error instanceof GanforgeError ? STATUS[error.code] ?? 500 : 500;
    const body = error instanceof GanforgeError && status !== 500 ? error.toJSON() : { error: 'INTERNAL', message: 'internal error; the dashboard log has the details' };
    if (status === 500) console.error(error);
    res.status(status).json(body);
  });
  return app;
}

/** The dashboard's few statuses (it answers with codes serve/ maps the same way; serve/ itself is not imported). */
const STATUS: Partial<Record<string, number>> = { INVALID_PARAMETER: 400, NOT_FOUND: 404 };

function knownRun(watcher: RunsWatcher, name: string): string {
  const dir = watcher.runDir(name);
  if (dir === null) throw new GanforgeError('NOT_FOUND', `no run '${name}' in ${watcher.runsDir}; runs: ${watcher.list().map((r) => r.name).join(', ') || 'none'}`);
  return dir;
}

/** The page's folder, from the source tree (train/dashboard/) or the compiled one (dist/train/dashboard/). */
function findPageDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'page'), resolve(here, '..', '..', '..', 'train', 'dashboard', 'page')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}
