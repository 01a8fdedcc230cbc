// The per-epoch progress line on stderr. On a terminal it redraws one line with \r; when stderr is a file or a pipe
// (CI logs), it prints a plain line every `intervalMs` and at the end, so logs stay short and readable.

export interface ProgressOptions {
  /** Steps in this epoch. */
  total: number;
  /** Text before the bar, e.g. "epoch 2/5". */
  label: string;
  /** Where to write. Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Redraw in place (true) or print periodic lines (false). Default: stream.isTTY. */
  interactive?: boolean;
  /** Least time between two non-interactive lines, ms. Default 10000. */
  intervalMs?: number;
}

export class ProgressBar {
  private readonly total: number;
  private readonly label: string;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly interactive: boolean;
  private readonly intervalMs: number;
  private readonly started = performance.now();
  private lastDraw = 0;
  private lastLine = '';

  constructor(options: ProgressOptions) {
    this.total = Math.max(1, options.total);
    this.label = options.label;
    this.stream = options.stream ?? process.stderr;
    this.interactive = options.interactive ?? this.stream.isTTY === true;
    this.intervalMs = options.intervalMs ?? 10_000;
  }

  /** Reports `done` steps finished; `detail` is the metrics text (losses, D(x), steps/s). */
  update(done: number, detail: string): void {
    const now = performance.now();
    const due = this.interactive ? now - this.lastDraw >= 100 : now - this.lastDraw >= this.intervalMs;
    if (!due && done < this.total) return;
    this.lastDraw = now;
    this.lastLine = this.render(done, detail, now);
    if (this.interactive) this.stream.write(`\r${this.lastLine}\x1b[K`);
    else if (done < this.total) this.stream.write(`${this.lastLine}\n`);
  }

  /** Ends the epoch's line (always printed, so every epoch leaves one summary line). */
  finish(done: number, detail: string): void {
    const line = this.render(done, detail, performance.now());
    this.stream.write(this.interactive ? `\r${line}\x1b[K\n` : `${line}\n`);
  }

  private render(done: number, detail: string, now: number): string {
    const fraction = Math.min(1, done / this.total);
    const width = 24;
    const filled = Math.round(fraction * width);
    const elapsed = (now - this.started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : 0;
    return `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${formatSeconds(elapsed)}<${formatSeconds(eta)} ${detail}`;
  }
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
