// The HTTP API as an express app that does not listen (serve/server.ts opens the port), so tests can mount it anywhere.
// Routes parse and validate, queue work on the inference pool, and encode; every failure becomes a JSON error body
// through serve/http-errors.ts, and nothing a request sends can crash the process.

import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { GanforgeError, InvalidParameterError, describeValue } from '../common/errors.ts';
import { parseGenerateParams, parseOutputFormat, type GenerateLimits } from '../common/generate-params.ts';
import { randomSeed } from '../common/latents.ts';
import { generateEtag, ifNoneMatchHits } from './cache.ts';
import { encodeImages, generateImages } from './generate.ts';
import { toHttpError } from './http-errors.ts';
import type { GeneratorRunner, PoolStats } from './inference-pool.ts';
import type { Logger } from './logger.ts';
import { createServerMetrics, type ServerMetrics } from './metrics.ts';
import { buildOpenApi } from './openapi.ts';
import { DEFAULT_MAX_QUERY_BYTES, EXPOSED_HEADERS, GENERATE_PARAMETERS, ROUTES } from './routes.ts';
import type { ModelRepository, ServedModel } from './model-repository.ts';

export interface AppOptions {
  repository: ModelRepository;
  /** Runs the generators (the InferencePool; stats() feeds /healthz when present). */
  pool: GeneratorRunner & { stats?: () => PoolStats };
  /** Request limits. Default { maxImages: 64 }. */
  limits?: Partial<GenerateLimits>;
  /** One JSON line per request goes here. Default: nothing. */
  logger?: Logger;
  /** ganforge version reported by /healthz. Default '0.0.0'. */
  version?: string;
  /** Cross-origin reads: an origin ('https://app.example') or '*' gets Access-Control-Allow-Origin. Default: none, same-origin only. */
  cors?: string;
  /** Longest accepted query string, in bytes after '?'; longer fails with 400 INVALID_PARAMETER. Default 2048. */
  maxQueryBytes?: number;
  /** Series behind /metrics; pass the one whose `pool` observer the pool was started with. Default: a fresh set (no queue/batch series). */
  metrics?: ServerMetrics;
}

export const DEFAULT_MAX_IMAGES = 64;
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Per-request facts the access log line reports. */
interface RequestLog {
  id: string;
  model?: string;
  n?: number;
  seed?: number;
  format?: string;
  error?: string;
}

export function createApp(options: AppOptions): express.Express {
  const { repository, pool, logger = () => {}, version = '0.0.0' } = options;
  const limits: GenerateLimits = { maxImages: options.limits?.maxImages ?? DEFAULT_MAX_IMAGES };
  if (!Number.isInteger(limits.maxImages) || limits.maxImages < 1) throw new RangeError(`'limits.maxImages' must be a positive integer, got ${limits.maxImages}`);
  const maxQueryBytes = options.maxQueryBytes ?? DEFAULT_MAX_QUERY_BYTES;
  if (!Number.isInteger(maxQueryBytes) || maxQueryBytes < 64) throw new RangeError(`'maxQueryBytes' must be an integer ≥ 64, got ${maxQueryBytes}`);
  const cors = options.cors;
  if (cors !== undefined && cors !== '*' && !isOrigin(cors)) {
    throw new RangeError(`'cors' must be '*' or an origin such as 'https://app.example' (scheme://host[:port], no path), got ${describeValue(cors)}`);
  }
  const openapi = buildOpenApi({ limits, maxQueryBytes, version, cors: cors !== undefined });
  const metrics = options.metrics ?? createServerMetrics();
  metrics.attach({
    models: () => [...repository.models.values()].map((m) => ({ name: m.name, provider: m.provider, sha256: m.sha256 })),
    ...(pool.stats === undefined ? {} : { stats: () => pool.stats!() }),
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // express would tag every body, unseeded images included; routes set their own ETags
  app.set('query parser', 'simple'); // repeated keys become arrays; parse functions reject them by name

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    // A proxy's request id is kept so logs join up across hops; anything else (too long, odd characters that could
    // forge log lines or headers) is replaced by our own.
    const incoming = req.get('X-Request-Id');
    const log: RequestLog = { id: incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID() };
    res.locals.log = log;
    res.setHeader('X-Request-Id', log.id);
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      const seconds = (performance.now() - started) / 1000;
      // The matched route pattern, never the raw path: a label per distinct URL would grow without bound.
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const routeLabel = typeof route === 'string' ? route : 'unmatched';
      metrics.requests.inc({ method: req.method, route: routeLabel, status: String(res.statusCode) });
      metrics.requestDuration.observe({ route: routeLabel }, seconds);
      logger({
        level: res.statusCode >= 500 ? 'error' : 'info',
        event: 'request',
        ...log,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round(seconds * 10_000) / 10,
        aborted: !res.writableFinished,
      });
    };
    res.on('finish', done);
    res.on('close', done);
    if (cors !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', cors);
      if (cors !== '*') res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS.join(', '));
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD');
        res.setHeader('Access-Control-Allow-Headers', 'If-None-Match');
        res.setHeader('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
    }
    // Bounded before anything parses it: a huge query string costs parsing time and log space for nothing.
    const queryStart = req.originalUrl.indexOf('?');
    const queryBytes = queryStart < 0 ? 0 : Buffer.byteLength(req.originalUrl) - queryStart - 1;
    if (queryBytes > maxQueryBytes) {
      next(new InvalidParameterError('query', `the query string is ${queryBytes} bytes; at most ${maxQueryBytes} are accepted`));
      return;
    }
    next();
  });

  app.get('/generate', async (req: Request, res: Response) => {
    const log = res.locals.log as RequestLog;
    const query = req.query as Record<string, unknown>;
    const unknown = Object.keys(query).filter((k) => !(GENERATE_PARAMETERS as readonly string[]).includes(k));
    if (unknown.length > 0) {
      throw new InvalidParameterError(unknown[0]!, `unknown parameter '${unknown[0]}'; /generate takes ${GENERATE_PARAMETERS.join(', ')}`);
    }
    const model = resolveModel(repository, query.model);
    log.model = model.name;
    const format = query.format === undefined ? 'png' : parseOutputFormat(query.format);
    log.format = format;
    const params = parseGenerateParams(query, model.manifest, limits, randomSeed);
    log.n = params.n;
    log.seed = params.seed;
    res.setHeader('X-Ganforge-Model', model.name);
    res.setHeader('X-Ganforge-Seed', String(params.seed));
    if (query.seed === undefined) {
      res.setHeader('Cache-Control', 'no-store');
    } else {
      const etag = generateEtag(model.sha256, params, format);
      res.setHeader('ETag', etag);
      res.setHeader('Cache-Control', 'no-cache'); // cacheable, but revalidate: a re-export under the same name changes the tag
      if (ifNoneMatchHits(req.get('If-None-Match'), etag)) {
        res.status(304).end();
        return;
      }
    }
    // A client that hangs up while its request is queued frees the queue slot instead of wasting a worker.
    const abandoned = new AbortController();
    res.on('close', () => { if (!res.writableFinished) abandoned.abort(new GanforgeError('TIMEOUT', 'the client closed the connection')); });
    const images = await generateImages(pool, model, params, { signal: abandoned.signal });
    const { body, contentType } = encodeImages(images, format);
    metrics.imagesGenerated.inc({ model: model.name }, params.n);
    res.type(contentType).send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });

  app.get('/models', (_req: Request, res: Response) => {
    res.json({
      default: repository.defaultModel?.name ?? null,
      models: [...repository.models.values()].map((m) => ({
        name: m.name,
        family: m.manifest.family,
        classes: m.manifest.classes,
        latentDim: m.manifest.latentDim,
        imageShape: m.manifest.imageShape,
        valueRange: m.manifest.valueRange,
        truncationModes: m.manifest.truncationModes,
        provider: m.provider,
        training: m.manifest.training,
        sha256: m.sha256,
        size: m.size,
        url: `/models/${m.name}.onnx`,
      })),
    });
  });

  app.get('/models/:name.onnx', (req: Request, res: Response) => {
    // Only names of loaded models resolve: the request never reaches the file system.
    const model = repository.models.get(String(req.params.name));
    if (model === undefined) throw unknownModel(repository, String(req.params.name));
    (res.locals.log as RequestLog).model = model.name;
    res.setHeader('ETag', `"${model.sha256}"`);
    res.setHeader('Cache-Control', 'no-cache'); // revalidate: the file may be replaced by a new export
    res.type('application/octet-stream').send(Buffer.from(model.bytes.buffer, model.bytes.byteOffset, model.bytes.byteLength));
  });

  app.get('/healthz', (_req: Request, res: Response) => {
    const models = [...repository.models.values()];
    res.json({
      status: 'ok',
      version,
      models: models.map((m) => m.name),
      providers: Object.fromEntries(models.map((m) => [m.name, m.provider])),
      fallbackReasons: Object.fromEntries(models.filter((m) => m.fallbackReason !== undefined).map((m) => [m.name, m.fallbackReason])),
      refused: repository.refused.map((r) => r.file),
      ...(pool.stats === undefined ? {} : { workers: pool.stats() }),
    });
  });

  // Readiness, unlike /healthz (liveness): 200 only while requests can be answered at full speed, i.e. models are
  // loaded, the pool accepts work and at least one worker has created and warmed up its sessions.
  app.get('/readyz', (_req: Request, res: Response) => {
    const stats = pool.stats?.();
    const reasons: string[] = [];
    if (repository.models.size === 0) reasons.push('no models are loaded');
    if (stats !== undefined && !stats.accepting) reasons.push('the server is shutting down');
    if (stats !== undefined && stats.ready === 0) reasons.push(`none of the ${stats.workers} inference workers is warmed up yet`);
    res.setHeader('Cache-Control', 'no-store');
    res.status(reasons.length === 0 ? 200 : 503).json({
      status: reasons.length === 0 ? 'ready' : 'not-ready',
      reasons,
      models: [...repository.models.keys()],
      ...(stats === undefined ? {} : { workers: { total: stats.workers, ready: stats.ready } }),
    });
  });

  app.get('/metrics', (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.registry.render());
  });

  app.get('/openapi.json', (_req: Request, res: Response) => {
    res.json(openapi);
  });

  app.use((req: Request) => {
    throw new GanforgeError('NOT_FOUND', `no route ${req.method} ${describeValue(req.path)}; routes: ${ROUTES.join(', ')}`);
  });

  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    const log = res.locals.log as RequestLog | undefined;
    const { status, body, internal } = toHttpError(error);
    if (log !== undefined) log.error = body.error;
    if (internal) {
      logger({ level: 'error', event: 'internal-error', id: log?.id, path: req.path, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
    if (res.headersSent) {
      next(error); // express closes the connection
      return;
    }
    if (status === 503) res.setHeader('Retry-After', '1');
    res.status(status).json(body);
  });

  return app;
}

function resolveModel(repository: ModelRepository, value: unknown): ServedModel {
  if (value === undefined) {
    const fallback = repository.defaultModel;
    if (fallback === undefined) throw new GanforgeError('UNKNOWN_MODEL', 'no models are loaded; export one into the models folder', { parameter: 'model' });
    return fallback;
  }
  if (typeof value !== 'string') throw new InvalidParameterError('model', `'model' was given ${Array.isArray(value) ? value.length : 'several'} times; give it once`);
  const model = repository.models.get(value);
  if (model === undefined) throw unknownModel(repository, value);
  return model;
}

function unknownModel(repository: ModelRepository, name: string): GanforgeError {
  const names = [...repository.models.keys()];
  return new GanforgeError('UNKNOWN_MODEL', `unknown model ${describeValue(name)}; available: ${names.length > 0 ? names.join(', ') : '(none)'}`, { parameter: 'model' });
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
