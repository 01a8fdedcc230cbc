// Structured logging for the server: one JSON object per line, so request logs can be grepped and parsed. Injected
// everywhere (tests pass a collecting logger) instead of calling console directly.

export type LogLevel = 'info' | 'warn' | 'error';

export interface LogEntry {
  level: LogLevel;
  /** What happened: 'request', 'model-loaded', 'model-refused', 'worker-restarted', ... */
  event: string;
  [field: string]: unknown;
}

export type Logger = (entry: LogEntry) => void;

let isoMs = -1;
let isoText = '';

/** The current time as an ISO string, formatted once per millisecond (many request lines share one). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Loggers with lines not yet written; flushed at exit so a log is never cut short by a normal shutdown. */
const unflushed = new Set<() => void>();
let exitHookInstalled = false;

/**
 * Writes each entry as one JSON line with a timestamp; info to stdout, warn/error to stderr. Info lines (one per
 * request) are gathered and written once per event-loop turn: on a pipe or file each write() is a system call, and
 * a call per request is measurable at thousands of requests per second. Warnings and errors are written at once,
 * after any info lines before them.
 */
export function createJsonLogger(out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Logger {
  let pending = '';
  const flush = () => {
    unflushed.delete(flush);
    if (pending === '') return;
    const text = pending;
    pending = '';
    out.write(text);
  };
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => { for (const pendingFlush of [...unflushed]) pendingFlush(); });
  }
  return (entry) => {
    const line = `{"time":"${isoNow()}",${JSON.stringify(entry).slice(1)}\n`;
    if (entry.level !== 'info') {
      flush();
      err.write(line);
      return;
    }
    if (pending === '') {
      unflushed.add(flush);
      setImmediate(flush);
    }
    pending += line;
  };
}

/** Drops everything (for benchmarks). */
export const silentLogger: Logger = () => {};
