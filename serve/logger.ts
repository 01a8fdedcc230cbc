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

/** Writes each entry as one JSON line with a timestamp; info to stdout, warn/error to stderr. */
export function createJsonLogger(out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Logger {
  return (entry) => {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
    (entry.level === 'info' ? out : err).write(line);
  };
}

/** Drops everything (for benchmarks). */
export const silentLogger: Logger = () => {};
