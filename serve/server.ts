// Starts the whole server: loads the models folder, starts the inference workers, and is the one place that opens the
// HTTP port. close() is graceful: stop accepting, let in-flight requests finish, then stop the workers.

import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import type { GenerateLimits } from '../common/generate-params.ts';
import { createApp } from './app.ts';
import { parserRefusal, rawErrorResponse } from './http-errors.ts';
import { InferencePool, type InferencePoolOptions } from './inference-pool.ts';
import { createJsonLogger, type Logger } from './logger.ts';
import { createServerMetrics } from './metrics.ts';
import { loadModelRepository, type ModelRepository } from './model-repository.ts';
import { startModelWatcher, type ModelWatcher } from './model-watcher.ts';
import { chooseProvider, type Device } from '../runtime/ort-node.ts';
import { webClient } from './web-assets.ts';

export interface ServerOptions {
  /** Folder of .onnx generators. */
  modelsDir: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to bind. Default '127.0.0.1' (loopback only). */
  host?: string;
  /** 'auto' | 'cuda' | 'cpu'; CUDA falls back to CPU with a logged reason. Default 'auto'. */
  device?: Device;
  /** Inference worker threads. Default min(2, cores). */
  workers?: number;
  /** Request limits. Default { maxImages: 64 }. */
  limits?: Partial<GenerateLimits>;
  /** Pool tuning beyond the worker count (batching, queue size, timeout). Default: the pool's defaults. */
  pool?: Pick<InferencePoolOptions, 'maxBatchImages' | 'batchDelayMs' | 'preferredBatchImages' | 'maxQueuedImages' | 'timeoutMs' | 'intraOpNumThreads' | 'allowSpinning' | 'clock'>;
  /** Cross-origin reads: an origin or '*'. Default: none (same-origin only). */
  cors?: string;
  /** Longest accepted query string in bytes. Default 2048. */
  maxQueryBytes?: number;
  /** Default: JSON lines on stdout/stderr. */
  logger?: Logger;
  /** Reported by /healthz. Default '0.0.0'. */
  version?: string;
  /** How long close() waits for in-flight requests before cutting connections, ms. Default 10000. */
  closeTimeoutMs?: number;
  /**
   * Longest a client may take to send a request's headers, from its connection or its previous request, ms; a slower
   * one (an idle connection that never asks, a slowloris trickling header lines) gets 408 and is closed. Default 10000.
   */
  headersTimeoutMs?: number;
  /** Longest a client may take to send a whole request, ms (at least headersTimeoutMs). Default 30000. */
  requestTimeoutMs?: number;
  /**
   * The browser client (serve/web-assets.ts: demo page at /, files under /web/): false = API only, a string = its
   * built folder. Default: this package's web/dist (answers a JSON 404 naming the build command until it is built).
   */
  web?: false | string;
  /**
   * Hot reload of the models folder (serve/model-watcher.ts): true, or the poll period and settle time in ms; false
   * serves the startup set until restart. Default true (poll every 1000 ms, settle 500 ms).
   */
  watch?: boolean | { intervalMs?: number; settleMs?: number };
}

export interface RunningServer {
  /** 'http://host:port' actually bound. */
  url: string;
  repository: ModelRepository;
  pool: InferencePool;
  /** The models-folder watcher; null when watch is false. */
  watcher: ModelWatcher | null;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { modelsDir, port = 8080, host = '127.0.0.1', device = 'auto', logger = createJsonLogger(), closeTimeoutMs = 10_000 } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`'port' must be an integer in [0, 65535], got ${port}`);
  const { headersTimeoutMs = 10_000, requestTimeoutMs = Math.max(30_000, headersTimeoutMs) } = options;
  if (!Number.isInteger(headersTimeoutMs) || headersTimeoutMs < 1) throw new RangeError(`'headersTimeoutMs' must be a positive integer (ms), got ${headersTimeoutMs}`);
  if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs < headersTimeoutMs) {
    throw new RangeError(`'requestTimeoutMs' must be an integer ≥ headersTimeoutMs (${headersTimeoutMs}), got ${requestTimeoutMs}`);
  }
  // One line on the provider and why, before any session exists: '--device cuda' where CUDA cannot run stops here
  // with the reason (INVALID_PARAMETER), and 'auto' on a machine without it never asks onnxruntime for CUDA.
  const choice = chooseProvider(device);
  logger({ level: 'info', event: 'execution-provider', device, provider: choice.provider, reason: choice.reason });
  const repository = await loadModelRepository({ dir: modelsDir, device, logger });
  if (repository.models.size === 0) logger({ level: 'warn', event: 'no-models', modelsDir, refused: repository.refused.length });
  const metrics = createServerMetrics();
  const pool = await InferencePool.start({ ...options.pool, models: [...repository.models.values()], device, workers: options.workers, logger, observer: metrics.pool });
  /** Set by close(); /readyz answers 503 from then on, while the last requests drain. */
  let closing: Promise<void> | null = null;
  let app: RequestListener;
  try {
    // Only the page and its files go to the client handler: it marks every response cross-origin isolated
    // (COOP/COEP/CORP same-origin), which must not stop other sites embedding /generate images or fetching models.
    const client = options.web === false ? undefined : webClient(options.web === undefined ? {} : { distDir: options.web });
    app = createApp({ repository, pool, limits: options.limits, logger, version: options.version, metrics, cors: options.cors, maxQueryBytes: options.maxQueryBytes, client, draining: () => closing !== null });
  } catch (error) {
    await pool.close(); // a bad option must not leave worker threads holding the process open
    throw error;
  }
  // Node's defaults (60 s for the headers, 300 s for a request, checked every 30 s) let a few thousand slow or idle
  // connections hold sockets and parser state for minutes. The check interval follows the timeouts so that they are
  // enforced at about the time they say.
  const server: Server = createServer({ headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))) }, app);
  // Per connection: responses not yet completely written, and since when it has had none; close() uses this to close
  // quiet connections at once instead of waiting out their keep-alive timeout.
  const connections = new Map<Socket, { unfinished: number; quietSince: number }>();
  // Node answers what its parser refuses with a bare status line; these get the API's JSON body instead. As in Node's
  // own handler, nothing is written once a response has begun on the socket (a timeout mid-response), and the
  // connection is always closed: the parser's state is unusable after an error.
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    const refusal = parserRefusal(error);
    if (refusal !== null && socket.writable && socket.bytesWritten === 0) socket.end(rawErrorResponse(refusal));
    else socket.destroy();
  });
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { unfinished: 0, quietSince: performance.now() });
    socket.once('close', () => connections.delete(socket));
  });
  server.prependListener('request', (request, response) => {
    const connection = connections.get(request.socket);
    if (connection === undefined) return;
    connection.unfinished += 1;
    // 'close' once the whole response has been handed to the kernel, or the connection is gone.
    response.once('close', () => {
      connection.unfinished -= 1;
      connection.quietSince = performance.now();
    });
  });
  try {
    server.listen(port, host);
    await once(server, 'listening');
  } catch (error) {
    await pool.close();
    throw error;
  }
  let watcher: ModelWatcher | null = null;
  if (options.watch !== false) {
    try {
      const timing = typeof options.watch === 'object' ? options.watch : {};
      watcher = await startModelWatcher({ repository, pool, device, logger, reloads: metrics.modelReloads, ...timing });
    } catch (error) {
      server.close();
      await pool.close();
      throw error;
    }
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger({
    level: 'info',
    event: 'listening',
    url,
    models: [...repository.models.values()].map((m) => ({ name: m.name, provider: m.provider, ...(m.fallbackReason === undefined ? {} : { fallbackReason: m.fallbackReason }) })),
    workers: pool.stats().workers,
  });

  const close = () => {
    closing ??= (async () => {
      // Requests that still arrive on kept-alive connections are answered, with Connection: close, so the client opens
      // a new connection for its next request (refused: safe to retry on another instance) instead of reusing one the
      // server is about to close. Prepended: a route may answer synchronously.
      server.prependListener('request', (_request, response) => response.setHeader('Connection', 'close'));
      await watcher?.close();
      // Stop accepting through net.Server's close, not http.Server's: since Node 19 that one also runs
      // closeIdleConnections(), which counts a connection as idle once its response's end() was called, even with most
      // of the body still buffered for a slow reader, and destroys it (Node 20: a 17 MB model download cut at ~4 MB;
      // test/serve/shutdown.test.ts). A connection whose response finishes from now on gets a shortened keep-alive
      // timeout for its client's next request (answered, with Connection: close).
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      const keepAliveWhileClosingMs = 1000;
      server.keepAliveTimeout = Math.min(server.keepAliveTimeout || keepAliveWhileClosingMs, keepAliveWhileClosingMs);
      // Connections with nothing left to write that have been quiet that long are closed now: a client that reuses
      // its connection right after an answer has done so by then.
      const closeQuiet = () => {
        const now = performance.now();
        for (const [socket, { unfinished, quietSince }] of connections) if (unfinished === 0 && now - quietSince >= keepAliveWhileClosingMs) socket.destroy();
      };
      closeQuiet();
      const sweep = setInterval(closeQuiet, 100);
      const force = setTimeout(() => server.closeAllConnections(), closeTimeoutMs).unref();
      await closed;
      clearInterval(sweep);
      clearTimeout(force);
      await pool.close();
      logger({ level: 'info', event: 'closed', url });
    })();
    return closing;
  };
  return { url, repository, pool, watcher, close };
}
