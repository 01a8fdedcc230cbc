// Paths as they may be recorded in a run's sidecar and from there in an exported model's metadata: an artifact that
// ships must not carry the machine it was made on (absolute paths name users' home folders, mount points, hosts).
// An absolute path is recorded relative to the run folder; a relative one as the user gave it.

import { hostname, userInfo } from 'node:os';
import { isAbsolute, relative, sep } from 'node:path';

/** Names that must not appear as a path segment in a recorded path: this user's and this host's. */
function privateNames(): string[] {
  const names: string[] = [];
  try {
    names.push(userInfo().username);
  } catch {
    // no user entry (some containers): nothing to hide
  }
  names.push(hostname());
  return names.filter((n) => n !== '');
}

/**
 * `path` as recorded for `runDir` (absolute): a relative path unchanged, an absolute one relative to the run folder
 * ('.' for the run folder itself); if that relative path still climbs through the user's or the host's name, only
 * its last segment is kept (`…/train-images-idx3-ubyte`).
 */
export function portablePath(path: string, runDir: string): string {
  if (!isAbsolute(path)) return path;
  const recorded = (relative(runDir, path) || '.').split(sep).join('/');
  const segments = recorded.split('/');
  const hidden = privateNames();
  if (!segments.some((s) => hidden.includes(s))) return recorded;
  return `…/${segments[segments.length - 1]}`;
}

/** A command line (argv, program first) with every absolute path argument, also in `--flag=/path` form, made portable. */
export function portableCommand(argv: readonly string[], runDir: string): string {
  return argv
    .map((arg) => {
      const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
      if (eq > 0) return `${arg.slice(0, eq + 1)}${portablePath(arg.slice(eq + 1), runDir)}`;
      return portablePath(arg, runDir);
    })
    .join(' ');
}
