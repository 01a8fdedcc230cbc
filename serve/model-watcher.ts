// Hot reload of the models folder (like Triton's model-control-mode=poll): a *.onnx added, replaced or removed while
// serving is picked up without a restart and without failing a request in flight.
//
// Changes are noticed by fs.watch and, because fs.watch misses events on some file systems (network shares, bind
// mounts), by a periodic poll as well. A file is acted on only once its size, mtime and inode have stayed the same
// across two checks settleMs apart, so a file being copied in is not read half-written; if it still changes while it
// is being validated, it is retried later instead of refused. A new version is validated (manifest, probe session,
// signature), then every worker creates and warms up its session, and only then do new requests use it; a version
// that fails either step is refused with a logged reason and the previous version keeps serving. One reload at a time.

import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { InferencePool } from './inference-pool.ts';
import type { Logger } from './logger.ts';
import type { Counter } from './metrics.ts';
import { loadModelFile, logModelLoaded, type LiveModelRepository } from './model-repository.ts';
import type { Device } from '../runtime/ort-node.ts';

export interface ModelWatcherOptions {
  /** The repository loadModelRepository returned; the watcher changes it in place. */
  repository: LiveModelRepository;
  /** Where sessions are staged and retired. */
  pool: Pick<InferencePool, 'stageModel' | 'removeModel'>;
  /** Execution provider choice for the probe session, as at startup. Default 'auto'. */
  device?: Device;
  /** Poll period in ms (the safety net under fs.watch). Default 1000. */
  intervalMs?: number;
  /** How long a file's size, mtime and inode must stay unchanged before it is read, in ms. Default min(500, intervalMs). */
  settleMs?: number;
  /** Also react to fs.watch events (polling alone still works). Default true. */
  fsWatch?: boolean;
  /** model-loaded / model-replaced / model-removed / model-refused go here. Default: nothing. */
  logger?: Logger;
  /** Counts reloads by model and result (loaded, refused, removed). Default: none. */
  reloads?: Counter;
}

export interface ModelWatcher {
  /** Checks the folder now (after any check in progress) and resolves when that check is done. */
  scan(): Promise<void>;
  /** Stops watching; resolves once a reload in progress has finished. */
  close(): Promise<void>;
}

/** What identifies one version of a file on disk; a copy in progress or an atomic rename changes it. */
interface FileSignature {
  size: number;
  mtimeMs: number;
  ino: number;
}

interface FileState {
  /** The signature last acted on (loaded, refused or found missing), or null when the file is known to be absent. */
  settled: FileSignature | null;
  /** The latest signature seen and when it was first seen unchanged. */
  seen: FileSignature | null;
  seenSince: number;
}

/** Never equals a real signature: a file in this state is looked at again. */
const UNKNOWN: FileSignature = { size: -1, mtimeMs: -1, ino: -1 };

const sameSignature = (a: FileSignature | null, b: FileSignature | null): boolean =>
  a === b || (a !== null && b !== null && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino);

async function signatureOf(path: string): Promise<FileSignature | null> {
  try {
    const info = await stat(path);
    return { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Takes the folder as it is now as the baseline (what the repository loaded or refused), then starts watching it. */
export async function startModelWatcher(options: ModelWatcherOptions): Promise<ModelWatcher> {
  const { repository, pool, device = 'auto', intervalMs = 1000, fsWatch = true, logger = () => {}, reloads } = options;
  const settleMs = options.settleMs ?? Math.min(500, intervalMs);
  for (const [field, value] of [['intervalMs', intervalMs], ['settleMs', settleMs]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`'${field}' must be a positive integer (ms), got ${value}`);
  }
  const root = repository.root;
  const files = new Map<string, FileState>();
  const listFiles = async () => (await readdir(root)).filter((f) => f.endsWith('.onnx'));

  // Baseline: a loaded model whose file still has the size and mtime it was read with, and a refused file, count as
  // settled; anything else (added, changed or removed since the load) is looked at by the first check.
  const refusedFiles = new Set(repository.refused.map((r) => r.file));
  for (const file of await listFiles()) {
    const signature = await signatureOf(join(root, file));
    const model = repository.models.get(file.slice(0, -'.onnx'.length));
    const unchanged = signature !== null && (model === undefined
      ? refusedFiles.has(file)
      : model.size === signature.size && model.mtime.getTime() === Math.trunc(signature.mtimeMs));
    files.set(file, { settled: unchanged ? signature : UNKNOWN, seen: signature, seenSince: performance.now() });
  }
  for (const name of repository.models.keys()) {
    if (!files.has(`${name}.onnx`)) files.set(`${name}.onnx`, { settled: UNKNOWN, seen: UNKNOWN, seenSince: 0 });
  }

  let closed = false;
  let chain: Promise<void> = Promise.resolve();
  let queued: Promise<void> | null = null;
  let followUp: NodeJS.Timeout | null = null;
  let soon: NodeJS.Timeout | null = null;
  let folderUnreadable = false;

  const refuse = (file: string, state: FileState, signature: FileSignature, reason: string) => {
    const name = file.slice(0, -'.onnx'.length);
    const kept = repository.models.get(name);
    repository.refuse(file, reason);
    state.settled = signature;
    reloads?.inc({ model: name, result: 'refused' });
    logger({ level: 'warn', event: 'model-refused', file, reason, ...(kept === undefined ? {} : { keptVersion: kept.sha256 }) });
  };

  /** Acts on a file whose signature has settled on something new. Returns false when it must be looked at again. */
  const apply = async (file: string, state: FileState, signature: FileSignature | null): Promise<boolean> => {
    const name = file.slice(0, -'.onnx'.length);
    if (signature === null) {
      state.settled = null;
      repository.accept(file);
      const removed = repository.remove(name);
      if (removed !== undefined) {
        pool.removeModel(name);
        reloads?.inc({ model: name, result: 'removed' });
        logger({ level: 'info', event: 'model-removed', model: name, sha256: removed.sha256 });
      }
      return true;
    }
    let model;
    let failure: string | undefined;
    try {
      model = await loadModelFile(root, file, device);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    // Bytes that changed while being read are a copy still in progress, not a bad model: look again once it settles.
    const after = await signatureOf(join(root, file));
    if (!sameSignature(after, signature)) return false;
    if (model === undefined) {
      refuse(file, state, signature, failure!);
      return true;
    }
    const previous = repository.models.get(name);
    if (previous?.sha256 === model.sha256) {
      // Touched or copied over with the same bytes: nothing to swap.
      state.settled = signature;
      repository.accept(file);
      return true;
    }
    let staged;
    try {
      staged = await pool.stageModel(model);
    } catch (error) {
      refuse(file, state, signature, `the inference workers cannot load it (${error instanceof Error ? error.message : String(error)})`);
      return true;
    }
    if (closed) {
      staged.discard();
      return true;
    }
    // Pool and repository switch in the same turn, so a request resolves its model and queues on that same version.
    staged.activate();
    repository.put(model);
    state.settled = signature;
    reloads?.inc({ model: name, result: 'loaded' });
    if (previous === undefined) logModelLoaded(logger, model, device);
    else logger({ level: 'info', event: 'model-replaced', model: name, sha256: model.sha256, previousSha256: previous.sha256, size: model.size, provider: model.provider });
    return true;
  };

  const check = async (): Promise<void> => {
    let present: string[];
    try {
      present = await listFiles();
      folderUnreadable = false;
    } catch (error) {
      // Keep serving what is loaded: an unmounted or briefly missing folder is not a reason to drop every model.
      if (!folderUnreadable) logger({ level: 'warn', event: 'models-folder-unreadable', dir: root, reason: (error as NodeJS.ErrnoException).code ?? String(error) });
      folderUnreadable = true;
      return;
    }
    let pending = false;
    for (const file of new Set([...present, ...files.keys()])) {
      if (closed) return;
      const state = files.get(file) ?? { settled: null, seen: null, seenSince: 0 };
      files.set(file, state);
      const signature = await signatureOf(join(root, file));
      const now = performance.now();
      if (sameSignature(signature, state.settled)) {
        state.seen = signature;
        if (signature === null) files.delete(file);
        continue;
      }
      if (!sameSignature(signature, state.seen)) {
        state.seen = signature;
        state.seenSince = now;
        pending = true;
        continue;
      }
      if (now - state.seenSince < settleMs) {
        pending = true;
        continue;
      }
      if (!(await apply(file, state, signature))) {
        state.seen = UNKNOWN;
        pending = true;
      } else if (state.settled === null) {
        files.delete(file);
      }
    }
    if (pending && !closed && followUp === null) {
      followUp = setTimeout(() => {
        followUp = null;
        void scan();
      }, settleMs).unref();
    }
  };

  const scan = (): Promise<void> => {
    if (closed) return chain;
    queued ??= chain.then(() => {
      queued = null;
      return closed ? undefined : check().catch((error: unknown) => {
        logger({ level: 'error', event: 'model-watch-failed', reason: error instanceof Error ? error.message : String(error) });
      });
    });
    chain = queued;
    return queued;
  };

  const poll = setInterval(() => void scan(), intervalMs).unref();
  let watcher: FSWatcher | null = null;
  if (fsWatch) {
    try {
      watcher = watch(root, { persistent: false }, () => {
        // Events come in bursts (one per write); one check shortly after the burst is enough.
        soon ??= setTimeout(() => {
          soon = null;
          void scan();
        }, 25).unref();
      });
      watcher.on('error', (error) => {
        logger({ level: 'warn', event: 'models-watch-unavailable', dir: root, reason: error.message, pollMs: intervalMs });
        watcher?.close();
        watcher = null;
      });
    } catch (error) {
      logger({ level: 'warn', event: 'models-watch-unavailable', dir: root, reason: error instanceof Error ? error.message : String(error), pollMs: intervalMs });
    }
  }
  logger({ level: 'info', event: 'models-watching', dir: root, pollMs: intervalMs, settleMs, fsWatch: watcher !== null });

  return {
    scan,
    async close() {
      closed = true;
      clearInterval(poll);
      if (followUp !== null) clearTimeout(followUp);
      if (soon !== null) clearTimeout(soon);
      watcher?.close();
      await chain;
    },
  };
}
