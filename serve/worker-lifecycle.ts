// One inference worker's life as the pool sees it: the thread is created (under tsx too), becomes ready once its
// sessions are warm, loads and unloads model versions on request, and when it dies its batches are handed back to the
// pool and a replacement is started after a backoff. What goes into a batch is serve/batching-policy.ts's business,
// what happens to the requests serve/inference-pool.ts's.

import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { GanforgeError } from '../common/errors.ts';
import type { Logger } from './logger.ts';
import type { MainToWorker, SessionReport, WorkerInit, WorkerModel, WorkerToMain } from './worker-protocol.ts';

interface PendingLoad {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** One worker thread's place in the pool; it outlives the threads that fill it (a dead one is replaced in the same slot). */
export interface WorkerSlot<B> {
  index: number;
  worker: Worker | null;
  ready: boolean;
  /** Batches sent to this worker and not answered yet, oldest (running) first; at most PIPELINE_DEPTH. */
  batches: B[];
  /** Version keys this worker holds a warm session for. */
  loaded: Set<string>;
  /** Versions this worker was asked to load and has not answered for yet. */
  loading: Map<string, PendingLoad>;
  /** Consecutive failures before becoming ready; drives the restart backoff. */
  failures: number;
  /** Clock time when this worker last answered a batch (a pipelined batch starts then, not when it was sent). */
  lastAnsweredAt: number;
}

export function emptySlot<B>(index: number): WorkerSlot<B> {
  return { index, worker: null, ready: false, batches: [], loaded: new Set(), loading: new Map(), failures: 0, lastAnsweredAt: 0 };
}

/** What a worker's life needs from the pool. Called on the HTTP thread. */
export interface WorkerHost<B> {
  logger: Logger;
  /** Whether the pool is closing: a dead worker is then not replaced and loads fail. */
  closing(): boolean;
  /** The start list for a (re)started worker: the versions of now, including ones still finishing requests. */
  init(): WorkerInit;
  /** Name of a version, for logs. */
  modelName(version: string): string | undefined;
  /** Whether the pool still wants this version (one dropped while a worker loaded it is unloaded again). */
  wants(version: string): boolean;
  /** A session came up on a provider (the pool checks it against the one the repository probed). */
  sessionReported(slot: WorkerSlot<B>, version: string, report: SessionReport): void;
  /** The worker is ready (or loaded a version): queued work may go to it. */
  changed(slot: WorkerSlot<B>): void;
  /** A batch was answered. */
  answered(slot: WorkerSlot<B>, message: Extract<WorkerToMain, { type: 'result' | 'error' }>): void;
  /** The worker died: `running` was in its native run and failed, `unstarted` never started. `restartInMs` is null while closing. */
  exited(slot: WorkerSlot<B>, died: { exitCode: number; running: B | undefined; unstarted: B[]; restartInMs: number | null }): void;
}

// Workers run the same kind of file as this module: .js when built, .ts under tsx (tests, benchmarks).
const WORKER_URL = new URL(`./inference-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

function createWorker(workerData: WorkerInit): Worker {
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL, { workerData });
  // On Node 20, tsx 4 registers its loader hooks on the main thread only (it checks isMainThread), so a worker
  // inherits --import tsx but cannot load .ts; the worker registers tsx itself before importing the real file.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** Restart backoff: at once after a worker that had been ready, then 200 ms, 400 ms, … up to 5 s for one that keeps failing to start. */
export function restartDelayMs(failures: number): number {
  return failures === 0 ? 0 : Math.min(5_000, 100 * 2 ** failures);
}

/** Creates the slot's worker; resolves when it is ready, rejects if it fails before that. */
export function spawnWorker<B>(slot: WorkerSlot<B>, host: WorkerHost<B>): Promise<void> {
  const { logger } = host;
  return new Promise<void>((resolve, reject) => {
    const worker = createWorker(host.init());
    slot.worker = worker;
    slot.ready = false;
    slot.loaded = new Set();
    worker.on('message', (message: WorkerToMain) => {
      switch (message.type) {
        case 'ready':
          for (const [key, report] of Object.entries(message.providers)) host.sessionReported(slot, key, report);
          logger({
            level: 'info',
            event: 'worker-ready',
            worker: slot.index,
            warmupMs: Object.fromEntries(Object.entries(message.providers).map(([key, p]) => [host.modelName(key) ?? key, Math.round(p.warmupMs * 10) / 10])),
          });
          slot.loaded = new Set(Object.keys(message.providers));
          slot.ready = true;
          slot.failures = 0;
          resolve();
          syncSessions(slot, host);
          host.changed(slot);
          break;
        case 'loaded': {
          const pending = slot.loading.get(message.version);
          slot.loading.delete(message.version);
          if (!host.wants(message.version)) {
            // Dropped while this worker was loading it.
            worker.postMessage({ type: 'unload', version: message.version } satisfies MainToWorker);
          } else {
            slot.loaded.add(message.version);
            host.sessionReported(slot, message.version, message);
            logger({ level: 'info', event: 'worker-model-loaded', worker: slot.index, model: host.modelName(message.version), warmupMs: Math.round(message.warmupMs * 10) / 10 });
          }
          pending?.resolve();
          host.changed(slot);
          break;
        }
        case 'load-error': {
          const pending = slot.loading.get(message.version);
          slot.loading.delete(message.version);
          const name = host.modelName(message.version) ?? message.version;
          logger({ level: 'error', event: 'worker-model-load-failed', worker: slot.index, model: name, reason: message.message });
          pending?.reject(new GanforgeError('INVALID_MODEL', `inference worker ${slot.index} could not load '${name}': ${message.message}`));
          break;
        }
        case 'init-error':
          logger({ level: 'error', event: 'worker-init-failed', worker: slot.index, reason: message.message });
          reject(new GanforgeError('INTERNAL', `inference worker ${slot.index} could not create its sessions: ${message.message}`));
          void worker.terminate();
          break;
        case 'result':
        case 'error':
          host.answered(slot, message);
          break;
      }
    });
    worker.on('error', (error) => {
      logger({ level: 'error', event: 'worker-error', worker: slot.index, reason: error.message });
      reject(error);
    });
    worker.on('exit', (exitCode) => {
      if (slot.worker !== worker) return;
      const wasReady = slot.ready;
      slot.ready = false;
      reject(new GanforgeError('INTERNAL', `inference worker ${slot.index} exited with code ${exitCode} while starting`));
      // The worker runs its batches in turn: the first was running and fails; the ones still waiting in its message
      // queue never started.
      const [running, ...unstarted] = slot.batches;
      slot.batches = [];
      slot.loaded = new Set();
      // A staged version does not wait for a dead worker: its replacement loads every wanted version as it starts.
      const loading = [...slot.loading.values()];
      slot.loading.clear();
      const closing = host.closing();
      for (const pending of loading) {
        if (closing) pending.reject(new GanforgeError('OVERLOADED', 'the server is shutting down'));
        else pending.resolve();
      }
      if (closing) {
        host.exited(slot, { exitCode, running, unstarted, restartInMs: null });
        return;
      }
      slot.failures = wasReady ? 0 : slot.failures + 1;
      const delay = restartDelayMs(slot.failures);
      host.exited(slot, { exitCode, running, unstarted, restartInMs: delay });
      setTimeout(() => {
        if (!host.closing()) spawnWorker(slot, host).catch(() => {}); // a failed restart is logged and retried by its own exit
      }, delay).unref();
    });
  });
}

/** Asks the worker for a session of this version; resolves when it is warm. */
export function loadOn<B>(slot: WorkerSlot<B>, version: WorkerModel): Promise<void> {
  if (slot.loaded.has(version.version)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    slot.loading.set(version.version, { resolve, reject });
    slot.worker!.postMessage({ type: 'load', model: version } satisfies MainToWorker);
  });
}

/** Has the worker release its session of a version (one still loading is released once it completes: messages are handled in order). */
export function unloadOn<B>(slot: WorkerSlot<B>, version: string): void {
  if (slot.worker === null || !(slot.loaded.has(version) || slot.loading.has(version))) return;
  slot.loaded.delete(version);
  slot.worker.postMessage({ type: 'unload', version } satisfies MainToWorker);
}

/** After a (re)start: load versions added since the worker's start list was made, release ones dropped meanwhile. */
function syncSessions<B>(slot: WorkerSlot<B>, host: WorkerHost<B>): void {
  for (const key of slot.loaded) {
    if (host.wants(key)) continue;
    slot.loaded.delete(key);
    slot.worker!.postMessage({ type: 'unload', version: key } satisfies MainToWorker);
  }
  for (const version of host.init().models) {
    if (slot.loaded.has(version.version) || slot.loading.has(version.version)) continue;
    loadOn(slot, version).catch(() => {}); // logged as worker-model-load-failed; this worker then never runs that version
  }
}
