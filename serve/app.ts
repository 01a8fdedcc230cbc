// The HTTP API as a node:http request listener that does not listen (serve/server.ts opens the port), so tests can mount
// it on any server. Routes parse and validate, queue work on the inference pool, and encode; every failure becomes a
// JSON error body through serve/http-errors.ts, and nothing a request sends can crash the process.
//
// Routing is a table lookup on node:http directly rather than express: the API is eight fixed GET routes, and express's
// router and response helpers cost ~150 µs of CPU per request on the HTTP thread (measured: a fixed 600-byte response
// at 32 concurrent clients, 50 µs/request on node:http vs 210 µs through express 5), which for a small generator is
// more than inference itself. express still serves the browser client's static files (serve/web-assets.ts).

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseQueryString, type ParsedUrlQuery } from 'node:querystring';
import { GanforgeError, InvalidParameterError, describeValue } from '../common/errors.ts';
import { parseGenerateParams, parseOutputFormat, type GenerateLimits } from '../common/generate-params.ts';
import { truncationInputOf, truncationKindOf } from '../common/manifest.ts';
import { randomSeed } from '../common/latents.ts';
import { defaultMixFrom } from '../common/style-mixing.ts';
import { generateEtag, ifNoneMatchHits } from './cache.ts';
import { generateEncoded } from './generate.ts';
import { toHttpError } from './http-errors.ts';
import type { CancelSignal, GeneratorRunner } from '../runtime/generator-runner.ts';
import type { PoolStats } from './inference-pool.ts';
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
  /**
   * Answers GET / , /index.html and /web/* (the browser client, serve/web-assets.ts), inside this app's request id,
   * log line, metrics and query bound. Default: none (those paths are 404 like any unknown route).
   */
  client?: RequestListener;
  /** True once the server has begun a graceful shutdown: /readyz then answers 503 while the last requests drain. Default: never. */
  draining?: () => boolean;
}

export const DEFAULT_MAX_IMAGES = 64;
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const READ_METHODS = new Set(['GET', 'HEAD']);

/** Per-request facts the access log line reports. */
interface RequestLog {
  id: string;
  model?: string;
  n?: number;
  seed?: number;
  format?: string;
  error?: string;
}

/** What a route handler gets: the raw request and response plus the parsed URL and the log record to fill in. */
interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: ParsedUrlQuery;
  /** Path parameters (only /models/:name.onnx has one), percent-decoded. */
  params: Record<string, string>;
  log: RequestLog;
}

type RouteHandler = (context: RouteContext) => void | Promise<void>;

interface MatchedRoute {
  /** The route pattern: the metrics label, never the raw path (a label per distinct URL would grow without bound). */
  label: string;
  handler: RouteHandler;
  params: Record<string, string>;
}

const MODEL_FILE_PATH = /^\/models\/([^/]+)\.onnx$/;

export function createApp(options: AppOptions): RequestListener {
  const { repository, pool, logger = () => {}, version = '0.0.0' } = options;
  const limits: GenerateLimits = { maxImages: options.limits?.maxImages ?? DEFAULT_MAX_IMAGES };
  if (!Number.isInteger(limits.maxImages) || limits.maxImages < 1) throw new RangeError(`'limits.maxImages' must be a positive integer, got ${limits.maxImages}`);
  const maxQueryBytes = options.maxQueryBytes ?? DEFAULT_MAX_QUERY_BYTES;
  if (!Number.isInteger(maxQueryBytes) || maxQueryBytes < 64) throw new RangeError(`'maxQueryBytes' must be an integer ≥ 64, got ${maxQueryBytes}`);
  const cors = options.cors;
  if (cors !== undefined && cors !== '*' && !isOrigin(cors)) {
    throw new RangeError(`'cors' must be '*' or an origin such as 'https://app.example' (scheme://host[:port], no path), got ${describeValue(cors)}`);
  }
  const client = options.client;
  const openapi = JSON.stringify(buildOpenApi({ limits, maxQueryBytes, version, cors: cors !== undefined }));
  const metrics = options.metrics ?? createServerMetrics();
  metrics.attach({
    models: () => [...repository.models.values()].map((m) => ({ name: m.name, provider: m.provider, sha256: m.sha256 })),
    ...(pool.stats === undefined ? {} : { stats: () => pool.stats!() }),
  });

  const generate: RouteHandler = async ({ req, res, query, log }) => {
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
      if (ifNoneMatchHits(req.headers['if-none-match'], etag)) {
        res.statusCode = 304;
        res.end();
        return;
      }
    }
    // A client that hangs up while its request is queued frees the queue slot instead of wasting a worker.
    const abandoned = new ClientGone();
    res.once('close', () => { if (!res.writableFinished) abandoned.abort(new GanforgeError('TIMEOUT', 'the client closed the connection')); });
    const { body, contentType } = await generateEncoded(pool, model, params, format, { signal: abandoned });
    metrics.imagesGenerated.inc({ model: model.name }, params.n);
    sendBody(res, 200, contentType, body);
  };

  const listModels: RouteHandler = ({ res }) => {
    sendJson(res, 200, {
      default: repository.defaultModel?.name ?? null,
      models: [...repository.models.values()].map((m) => ({
        name: m.name,
        family: m.manifest.family,
        classes: m.manifest.classes,
        latentDim: m.manifest.latentDim,
        imageShape: m.manifest.imageShape,
        valueRange: m.manifest.valueRange,
        truncationModes: m.manifest.truncationModes,
        // A w-space model also names its ψ input and says its noise inputs are zeroed.
        truncation: { kind: truncationKindOf(m.manifest), ...(truncationInputOf(m.manifest) === null ? {} : { input: truncationInputOf(m.manifest) }) },
        ...(m.manifest.noise === undefined ? {} : { noise: m.manifest.noise }),
        // A style-mixing model: mixSeed/mixFrom apply; mixFrom is in [0, layers], defaultMixFrom when absent.
        ...(m.manifest.styleMixing === undefined ? {} : { styleMixing: { layers: m.manifest.styleMixing.layers, defaultMixFrom: defaultMixFrom(m.manifest.styleMixing.layers) } }),
        provider: m.provider,
        training: m.manifest.training,
        sha256: m.sha256,
        size: m.size,
        url: `/models/${m.name}.onnx`,
      })),
    });
  };

  const modelFile: RouteHandler = ({ req, res, params, log }) => {
    // Only names of loaded models resolve: the request never reaches the file system.
    const model = repository.models.get(params.name!);
    if (model === undefined) throw unknownModel(repository, params.name!);
    log.model = model.name;
    const etag = `"${model.sha256}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'no-cache'); // revalidate: the file may be replaced by a new export
    if (ifNoneMatchHits(req.headers['if-none-match'], etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    sendBody(res, 200, 'application/octet-stream', model.bytes);
  };

  const healthz: RouteHandler = ({ res }) => {
    const models = [...repository.models.values()];
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, {
      status: 'ok',
      version,
      models: models.map((m) => m.name),
      providers: Object.fromEntries(models.map((m) => [m.name, m.provider])),
      fallbackReasons: Object.fromEntries(models.filter((m) => m.fallbackReason !== undefined).map((m) => [m.name, m.fallbackReason])),
      refused: repository.refused.map((r) => r.file),
      refusedReasons: Object.fromEntries(repository.refused.map((r) => [r.file, r.reason])),
      ...(pool.stats === undefined ? {} : { workers: pool.stats() }),
    });
  };

  // Readiness, unlike /healthz (liveness): 200 only while requests can be answered at full speed, i.e. models are
  // loaded, the pool accepts work and at least one worker has created and warmed up its sessions.
  const readyz: RouteHandler = ({ res }) => {
    const stats = pool.stats?.();
    const reasons: string[] = [];
    if (repository.models.size === 0) reasons.push('no models are loaded');
    if (options.draining?.() === true || (stats !== undefined && !stats.accepting)) reasons.push('the server is shutting down');
    if (stats !== undefined && stats.ready === 0) reasons.push(`none of the ${stats.workers} inference workers is warmed up yet`);
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, reasons.length === 0 ? 200 : 503, {
      status: reasons.length === 0 ? 'ready' : 'not-ready',
      reasons,
      models: [...repository.models.keys()],
      ...(stats === undefined ? {} : { workers: { total: stats.workers, ready: stats.ready } }),
    });
  };

  const metricsRoute: RouteHandler = ({ res }) => {
    res.setHeader('Cache-Control', 'no-store');
    sendBody(res, 200, 'text/plain; version=0.0.4; charset=utf-8', metrics.registry.render());
  };

  const openapiRoute: RouteHandler = ({ res }) => sendBody(res, 200, 'application/json; charset=utf-8', openapi);

  const clientRoute: RouteHandler | undefined = client === undefined ? undefined : ({ req, res }) => client(req, res);

  const exactRoutes = new Map<string, RouteHandler>([
    ['/generate', generate],
    ['/models', listModels],
    ['/healthz', healthz],
    ['/readyz', readyz],
    ['/metrics', metricsRoute],
    ['/openapi.json', openapiRoute],
  ]);

  const match = (path: string): MatchedRoute | undefined => {
    // Like express's default, one trailing slash is ignored: /healthz/ is /healthz.
    const key = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const exact = exactRoutes.get(key);
    if (exact !== undefined) return { label: key, handler: exact, params: {} };
    const file = MODEL_FILE_PATH.exec(key);
    if (file !== null) {
      let name: string;
      try {
        name = decodeURIComponent(file[1]!);
      } catch {
        throw new InvalidParameterError('name', `malformed %-escape in the model name ${describeValue(file[1])}`);
      }
      return { label: '/models/:name.onnx', handler: modelFile, params: { name } };
    }
    if (clientRoute !== undefined) {
      if (path === '/' || path === '/index.html') return { label: '/', handler: clientRoute, params: {} };
      if (path.startsWith('/web/')) return { label: '/web/*', handler: clientRoute, params: {} };
    }
    return undefined;
  };

  return (req, res) => {
    const started = performance.now();
    // A proxy's request id is kept so logs join up across hops; anything else (too long, odd characters that could
    // forge log lines or headers) is replaced by our own.
    const incoming = req.headers['x-request-id'];
    const log: RequestLog = { id: typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID() };
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    const path = queryStart < 0 ? url : url.slice(0, queryStart);
    let routeLabel = 'unmatched';
    let logged = false;
    const done = (aborted = !res.writableFinished) => {
      if (logged) return;
      logged = true;
      const seconds = (performance.now() - started) / 1000;
      metrics.requests.inc({ method: req.method ?? '', route: routeLabel, status: String(res.statusCode) });
      metrics.requestDuration.observe({ route: routeLabel }, seconds);
      logger({
        level: res.statusCode >= 500 ? 'error' : 'info',
        event: 'request',
        ...log,
        method: req.method,
        path,
        status: res.statusCode,
        ms: Math.round(seconds * 10_000) / 10,
        aborted,
      });
    };
    // 'finish' means the last byte was handed to the socket, not sent: a large body (a model download) may still sit
    // in the socket's buffer for a slow reader. Such a response is logged once that buffer drains, or as aborted if
    // the connection is cut first (a shutdown deadline, a client gone). The socket is taken from the request: the
    // response lets go of it on 'finish'.
    const socket = req.socket;
    res.once('finish', () => {
      // Node also emits 'finish' when the connection is destroyed under a write still in progress.
      if (socket.destroyed) {
        done(true);
        return;
      }
      if (!socket.writableNeedDrain) {
        done(false);
        return;
      }
      const drained = () => {
        socket.off('close', cut);
        done(false);
      };
      const cut = () => {
        socket.off('drain', drained);
        done(true);
      };
      socket.once('drain', drained);
      socket.once('close', cut);
    });
    res.once('close', () => {
      if (!res.writableFinished) done();
    });
    res.setHeader('X-Request-Id', log.id);

    const fail = (error: unknown) => {
      const { status, body, internal } = toHttpError(error);
      log.error = body.error;
      if (internal) {
        logger({ level: 'error', event: 'internal-error', id: log.id, path, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
      if (res.headersSent) {
        res.destroy(); // the status is already on the wire; a cut connection is the only honest signal left
        return;
      }
      if (status === 503) res.setHeader('Retry-After', '1');
      if (status === 405) res.setHeader('Allow', cors === undefined ? 'GET, HEAD' : 'GET, HEAD, OPTIONS');
      // The body of a refused request is never read; closing the connection keeps it from being parsed as a request.
      if (status === 413) res.setHeader('Connection', 'close');
      // Caches and CDNs must not keep an error for a URL that may work a moment later.
      res.setHeader('Cache-Control', 'no-store');
      res.removeHeader('ETag');
      sendJson(res, status, body);
    };

    try {
      if (cors !== undefined) {
        res.setHeader('Access-Control-Allow-Origin', cors);
        if (cors !== '*') res.setHeader('Vary', 'Origin');
        res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS.join(', '));
        if (req.method === 'OPTIONS') {
          res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD');
          res.setHeader('Access-Control-Allow-Headers', 'If-None-Match');
          res.setHeader('Access-Control-Max-Age', '600');
          res.statusCode = 204;
          res.end();
          return;
        }
      }
      // Bounded before anything parses it: a huge query string costs parsing time and log space for nothing.
      const queryBytes = queryStart < 0 ? 0 : Buffer.byteLength(url) - queryStart - 1;
      if (queryBytes > maxQueryBytes) {
        throw new InvalidParameterError('query', `the query string is ${queryBytes} bytes; at most ${maxQueryBytes} are accepted`);
      }
      const route = match(path);
      if (route === undefined) throw new GanforgeError('NOT_FOUND', `no route ${req.method} ${describeValue(path)}; routes: ${ROUTES.join(', ')}`);
      routeLabel = route.label;
      if (!READ_METHODS.has(req.method ?? '')) {
        throw new GanforgeError('METHOD_NOT_ALLOWED', `${route.label} answers GET and HEAD, not ${describeValue(req.method)}`);
      }
      // Every route reads only the URL; a body would be read by nobody, so it is refused rather than left unbounded.
      if (hasBody(req)) {
        throw new GanforgeError('PAYLOAD_TOO_LARGE', `${req.method} ${route.label} takes no request body; send parameters in the query string`);
      }
      const query = queryStart < 0 ? {} : parseQueryString(url.slice(queryStart + 1));
      const result = route.handler({ req, res, query, params: route.params, log });
      if (result !== undefined) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}

/**
 * Cancels a queued request when its client hangs up. An AbortController does the same but costs ~6 µs per request on
 * the HTTP thread (Node 20's EventTarget, measured in a CPU profile under load); the pool listens with one listener.
 */
class ClientGone implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] = [];

  addEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    for (const listener of this.listeners.splice(0)) listener();
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendBody(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function sendBody(res: ServerResponse, status: number, contentType: string, body: Uint8Array | string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  res.end(body); // node:http drops the body itself for HEAD, keeping Content-Length
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
