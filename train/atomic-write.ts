// Crash-safe file and folder writes for checkpoints, pointers and exported models. A reader must only ever see the old
// content or the new content, never a half-written file: write into a temp name beside the target, fsync, rename.
// Node-only (uses fs); shared by train/ and export/.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GanforgeError } from '../common/errors.ts';

/** Temp entries start with this prefix; loaders skip any entry whose name starts with it. */
export const TEMP_PREFIX = '.tmp-';

/** True for a name written by this module as a temp entry (left behind only by a crash). */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/** errno codes by which a file system refuses a write (not a bug): reported as WRITE_FAILED naming the target. */
const WRITE_REFUSALS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file would exceed the largest size the file system or a process limit (RLIMIT_FSIZE) allows',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

/**
 * The error to report when writing `target` failed: a file system's refusal (full, read-only, no permission) becomes
 * a WRITE_FAILED that names the target and says what is left as it was; anything else is returned unchanged.
 */
export function asWriteFailure(error: unknown, target: string, kept = 'any previous version is unchanged'): unknown {
  if (error instanceof GanforgeError) return error;
  const { code, path } = (error ?? {}) as NodeJS.ErrnoException;
  const reason = code === undefined ? undefined : WRITE_REFUSALS[code];
  if (reason === undefined) return error;
  const where = path !== undefined && path !== target ? ` (${code} at ${path})` : ` (${code})`;
  return new GanforgeError('WRITE_FAILED', `cannot write ${target}: ${reason}${where}; ${kept}`, { cause: error });
}

function tempSibling(target: string): string {
  return join(dirname(target), `${TEMP_PREFIX}${basename(target)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** fsyncs a file or directory by path. Directory fsync makes a rename durable; some filesystems refuse it, harmlessly. */
export async function fsyncPath(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw error;
  } finally {
    await handle?.close();
  }
}

async function writeAndSync(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `path` atomically: a temp file in the same folder, fsync, rename over the target, fsync the folder. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = tempSibling(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeAndSync(temp, data);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw asWriteFailure(error, path);
  }
  await fsyncPath(dirname(path));
}

/**
 * Builds a folder atomically: `populate` fills a fresh temp folder beside `target`, which is then fsynced and renamed
 * into place. An existing `target` is replaced (moved aside first, then deleted), so readers see the old folder or the
 * new one. If `populate` throws, the temp folder is removed and `target` is untouched.
 */
export async function replaceDirectoryAtomic(target: string, populate: (tempDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(target);
  const temp = tempSibling(target);
  try {
    await mkdir(parent, { recursive: true });
    await mkdir(temp);
    await populate(temp);
    await fsyncPath(temp);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw asWriteFailure(error, target);
  }
  let aside: string | null = null;
  try {
    await rename(temp, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR' && code !== 'ENOTDIR') {
      await rm(temp, { recursive: true, force: true });
      throw asWriteFailure(error, target);
    }
    // rename(2) will not replace a non-empty folder: move the old one aside, then put the new one in its place.
    aside = tempSibling(target);
    try {
      await rename(target, aside);
    } catch (asideError) {
      await rm(temp, { recursive: true, force: true });
      throw asWriteFailure(asideError, target);
    }
    try {
      await rename(temp, target);
    } catch (swapError) {
      // Put the old folder back rather than leave nothing at `target`.
      await rename(aside, target).catch(() => {});
      await rm(temp, { recursive: true, force: true });
      throw asWriteFailure(swapError, target);
    }
  }
  await fsyncPath(parent);
  if (aside !== null) await rm(aside, { recursive: true, force: true });
}

/** Writes several files into a new folder atomically (see replaceDirectoryAtomic); each file is fsynced. */
export async function writeDirectoryAtomic(target: string, files: Readonly<Record<string, Uint8Array | string>>): Promise<void> {
  await replaceDirectoryAtomic(target, async (tempDir) => {
    for (const [name, data] of Object.entries(files)) {
      if (name.includes('/') || name.includes('\\') || name === '' || name === '.' || name === '..') {
        throw new RangeError(`writeDirectoryAtomic: file name must be a plain name, got ${JSON.stringify(name)}`);
      }
      await writeAndSync(join(tempDir, name), data);
    }
  });
}

/** Removes temp entries a crash left in `dir` (older than `minAgeMs`, so a concurrent writer is not disturbed). */
export async function removeStaleTemps(dir: string, minAgeMs = 60_000): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  const now = Date.now();
  for (const name of names.filter(isTempName)) {
    const full = join(dir, name);
    try {
      const info = await stat(full);
      if (now - info.mtimeMs < minAgeMs) continue;
      await rm(full, { recursive: true, force: true });
      removed.push(full);
    } catch {
      // Vanished meanwhile: nothing to clean.
    }
  }
  return removed;
}
