// `ganforge serve`: serves a folder of exported generators over HTTP until SIGINT/SIGTERM.

import { parseArgs } from 'node:util';
import { createJsonLogger } from '../serve/logger.ts';
import { startServer } from '../serve/server.ts';
import type { Device } from '../runtime/ort-node.ts';
import type { Subcommand } from './subcommand.ts';
import { GANFORGE_VERSION } from '../common/version.ts';

const DEVICES: readonly Device[] = ['auto', 'cuda', 'cpu'];

const HELP = `usage: ganforge serve [options]

Serves every <name>.onnx in the models folder: GET /generate, /models, /models/<name>.onnx, /healthz, /readyz,
/metrics (Prometheus), /openapi.json, and the browser client at / (demo page) and /web/.

options:
  --models DIR        folder of exported generators (default: models)
  --port N            TCP port, 0 = any free port (default: 8080)
  --host ADDR         interface to bind (default: 127.0.0.1; 0.0.0.0 to expose)
  --device D          auto: CUDA if its libraries are installed, else CPU, with the reason logged and in /healthz;
                      cuda: CUDA or an error saying why not; cpu (default: auto)
  --workers N         inference worker threads (default: min(2, cores))
  --intra-op-threads N  onnxruntime threads per worker, for one run() (default: cores / workers, at least 1)
  --max-images N      largest n accepted by /generate (default: 64)
  --max-batch N       largest merged batch for dynamic batching, 1 = off (default: 64)
  --batch-delay-ms N  while a worker is busy, an idle one waits up to N ms for a fuller batch; 0 = never (default: 2)
  --preferred-batch N queued images at which that wait ends early (default: 16)
  --timeout-ms N      requests not answered in time fail with 504 (default: 30000)
  --cors ORIGIN       let pages from ORIGIN (e.g. https://app.example) or '*' (any) read responses (default: same-origin only)
  --max-query N       longest accepted query string in bytes (default: 2048)
  --web-dist DIR      built browser client served at / and /web/ (default: web/dist of this package)
  --api-only          serve the HTTP API only, no browser client
  --watch-interval-ms N  how often the models folder is polled for added, replaced or removed .onnx files, on top of
                      file-system events; a changed file is loaded once it has stopped changing (default: 1000)
  --no-watch          serve the models found at startup until restart (no hot reload)
  --shutdown-timeout-ms N  on SIGTERM/SIGINT, how long accepted requests may take to finish before their connections
                      are cut and the process exits (default: 10000)
  --headers-timeout-ms N   a client that has not sent its request headers within N ms gets 408 and is
                      disconnected (idle and slowloris connections; default: 10000)
  -h, --help          show this help`;

export const serveCommand: Subcommand = {
  summary: 'serve a folder of .onnx generators over HTTP',
  async run(args: string[]): Promise<number> {
    let parsed;
    try {
      parsed = parseServeArgs(args);
    } catch (error) {
      console.error(`ganforge serve: ${(error as Error).message}; see 'ganforge serve --help'`);
      return 2;
    }
    const { values } = parsed;
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!(DEVICES as readonly string[]).includes(values.device)) {
      console.error(`ganforge serve: '--device' must be one of ${DEVICES.join(', ')}, got '${values.device}'`);
      return 2;
    }
    const integer = (flag: string, text: string | undefined, min: number, max: number): number | undefined => {
      if (text === undefined) return undefined;
      const value = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(value) || value < min || value > max) throw new RangeError(`'--${flag}' must be an integer in [${min}, ${max}], got '${text}'`);
      return value;
    };
    let server;
    try {
      server = await startServer({
        modelsDir: values.models,
        port: integer('port', values.port, 0, 65535),
        host: values.host,
        device: values.device as Device,
        workers: integer('workers', values.workers, 1, 64),
        limits: { maxImages: integer('max-images', values['max-images'], 1, 4096) },
        pool: {
          maxBatchImages: integer('max-batch', values['max-batch'], 1, 4096),
          batchDelayMs: integer('batch-delay-ms', values['batch-delay-ms'], 0, 1000),
          preferredBatchImages: integer('preferred-batch', values['preferred-batch'], 1, 4096),
          timeoutMs: integer('timeout-ms', values['timeout-ms'], 1, 3_600_000),
          intraOpNumThreads: integer('intra-op-threads', values['intra-op-threads'], 1, 256),
        },
        version: GANFORGE_VERSION,
        ...(values.cors === undefined ? {} : { cors: values.cors }),
        maxQueryBytes: integer('max-query', values['max-query'], 64, 65_536),
        web: values['api-only'] ? false : values['web-dist'],
        watch: values['no-watch'] ? false : { intervalMs: integer('watch-interval-ms', values['watch-interval-ms'], 1, 3_600_000) },
        closeTimeoutMs: integer('shutdown-timeout-ms', values['shutdown-timeout-ms'], 0, 3_600_000),
        headersTimeoutMs: integer('headers-timeout-ms', values['headers-timeout-ms'], 1, 3_600_000),
      });
    } catch (error) {
      if (error instanceof RangeError) {
        console.error(`ganforge serve: ${error.message}`);
        return 2;
      }
      throw error;
    }
    const running = server;
    const logger = createJsonLogger();
    // The first SIGTERM/SIGINT starts the graceful close (stop accepting, answer what was accepted, stop the workers).
    // Later ones are logged and ignored: with no listener left, a process manager repeating its SIGTERM or a second
    // Ctrl-C would kill the process with accepted requests unanswered. close() cuts connections after its own
    // timeout, so the wait stays bounded; SIGKILL remains the way to stop at once.
    let onSignal: (signal: NodeJS.Signals) => void = () => {};
    const closed = new Promise<void>((resolve, reject) => {
      let closing = false;
      onSignal = (signal) => {
        if (closing) {
          logger({ level: 'warn', event: 'shutdown-signal-ignored', signal, reason: 'already shutting down; SIGKILL stops at once' });
          return;
        }
        closing = true;
        logger({ level: 'info', event: 'shutdown', signal });
        running.close().then(resolve, reject);
      };
    });
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await closed;
    } catch (error) {
      logger({ level: 'error', event: 'close-failed', reason: error instanceof Error ? error.message : String(error) });
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return 0;
  },
};

function parseServeArgs(args: string[]) {
  return parseArgs({
    args,
    options: {
      models: { type: 'string', default: 'models' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      device: { type: 'string', default: 'auto' },
      workers: { type: 'string' },
      'intra-op-threads': { type: 'string' },
      'max-images': { type: 'string', default: '64' },
      'max-batch': { type: 'string' },
      'batch-delay-ms': { type: 'string' },
      'preferred-batch': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'web-dist': { type: 'string' },
      cors: { type: 'string' },
      'max-query': { type: 'string' },
      'api-only': { type: 'boolean', default: false },
      'watch-interval-ms': { type: 'string' },
      'no-watch': { type: 'boolean', default: false },
      'shutdown-timeout-ms': { type: 'string' },
      'headers-timeout-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
}
