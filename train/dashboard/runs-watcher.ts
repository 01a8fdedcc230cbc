// Follows the run folders under one directory for the dashboard: which runs exist, their config (the sidecar), sample
// grids, whether a training process is active, and the metrics lines appended since the last look. fs.watch (inotify
// on Linux) says when something changed, so nothing polls; a MetricsTail reads only the new bytes of metrics.jsonl.

import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { LATEST_FILE } from '../checkpoint.ts';
import { chartPoints, chartsFor, type ChartPoint } from '../report/charts.ts';
import { METRICS_FILE, MetricsTail } from '../report/metrics-log.ts';
import { isRunFolder, listSampleGrids, readRunSidecar, runSettings, SAMPLES_DIR, type SampleGrid } from '../report/run-folder.ts';
import { ACTIVE_FILE, readActiveRun, type ActiveRun } from './active-run.ts';

/** Files whose change the dashboard reacts to (the rest of a run folder, checkpoints included, is ignored). */
export const WATCHED_FILES = [METRICS_FILE, LATEST_FILE, ACTIVE_FILE, SAMPLES_DIR] as const;

/** What the page shows about a run besides its curves. */
export interface RunSummary {
  /** URL-safe id: the folder name. */
  name: string;
  family: string | null;
  backend: string | null;
  /** The sidecar's settings (loss, learning rates, batch size, family config, …); empty before the first checkpoint. */
  settings: Record<string, string | number | boolean>;
  /** Sample grid file names, oldest first. */
  samples: { name: string; version: number }[];
  /** The training process while one is running. */
  active: ActiveRun | null;
  /** Last step logged. */
  step: number;
}

/** Points appended to a run's charts since the previous event. */
export interface MetricsUpdate {
  run: string;
  /** The log was replaced (a new run in the same folder): the page reloads the charts. */
  reset: boolean;
  /** Chart id → new points (not downsampled). */
  points: Record<string, ChartPoint[]>;
  step: number;
}

export type RunsEvent = { type: 'run'; summary: RunSummary } | { type: 'metrics'; update: MetricsUpdate };

interface WatchedRun {
  name: string;
  dir: string;
  isRun: boolean;
  tail: MetricsTail;
  summary: RunSummary;
  watchers: FSWatcher[];
  samplesWatched: boolean;
  busy: boolean;
  dirty: boolean;
  /** Whether to re-read the sidecar on the next refresh (a new checkpoint, or none read yet). */
  sidecarStale: boolean;
}

export interface RunsWatcherOptions {
  /** The folder holding run folders (itself included when it is a run). */
  runsDir: string;
  onEvent: (event: RunsEvent) => void;
  /** Run folders followed at most (sub-folders beyond are ignored, sorted by name). Default 200. */
  maxRuns?: number;
}

export class RunsWatcher {
  readonly runsDir: string;
  private readonly onEvent: (event: RunsEvent) => void;
  private readonly maxRuns: number;
  private readonly runs = new Map<string, WatchedRun>();
  private rootWatcher: FSWatcher | null = null;
  private closed = false;
  private scanning: Promise<void> | null = null;
  private rescan = false;

  constructor(options: RunsWatcherOptions) {
    this.runsDir = resolve(options.runsDir);
    this.onEvent = options.onEvent;
    this.maxRuns = options.maxRuns ?? 200;
  }

  /** Finds the runs, reads each once and starts watching. */
  async start(): Promise<void> {
    const info = await stat(this.runsDir);
    if (!info.isDirectory()) throw new RangeError(`'runsDir' must be a folder, got the file ${this.runsDir}`);
    this.rootWatcher = watch(this.runsDir, () => void this.scan());
    this.rootWatcher.on('error', () => this.rootWatcher?.close());
    await this.scan();
  }

  /** Runs that look like run folders, by name. */
  list(): RunSummary[] {
    return [...this.runs.values()].filter((r) => r.isRun).map((r) => r.summary).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The folder of a listed run, or null: only these folders are ever read or signalled. */
  runDir(name: string): string | null {
    const run = this.runs.get(name);
    return run !== undefined && run.isRun ? run.dir : null;
  }

  /** Re-reads one run now (after a stop request, say). */
  refresh(name: string): Promise<void> {
    const run = this.runs.get(name);
    return run === undefined ? Promise.resolve() : this.schedule(run);
  }

  close(): void {
    this.closed = true;
    this.rootWatcher?.close();
    for (const run of this.runs.values()) for (const w of run.watchers) w.close();
    this.runs.clear();
  }

  private scan(): Promise<void> {
    if (this.scanning !== null) {
      this.rescan = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescan = false;
        await this.scanOnce();
      } while (this.rescan && !this.closed);
    })().finally(() => { this.scanning = null; });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    // A run folder given directly is the one run (its checkpoints/ and samples/ are not runs); otherwise its sub-folders.
    const candidates: { name: string; dir: string }[] = [];
    if (await isRunFolder(this.runsDir)) {
      candidates.push({ name: basename(this.runsDir), dir: this.runsDir });
    } else {
      let entries: string[] = [];
      try {
        entries = (await readdir(this.runsDir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
      } catch {
        // the folder went away: nothing new to watch
      }
      for (const name of entries.slice(0, this.maxRuns)) candidates.push({ name, dir: join(this.runsDir, name) });
    }
    for (const { name, dir } of candidates) {
      if (this.closed || this.runs.has(name)) continue;
      const run: WatchedRun = {
        name, dir, isRun: false, tail: new MetricsTail(join(dir, METRICS_FILE)), watchers: [], samplesWatched: false, busy: false, dirty: false, sidecarStale: true,
        summary: { name, family: null, backend: null, settings: {}, samples: [], active: null, step: 0 },
      };
      this.runs.set(name, run);
      this.watchFolder(run, dir, (file) => {
        // Only the files the page shows; checkpoint temp folders and the like come and go unseen.
        if (file !== null && !(WATCHED_FILES as readonly string[]).includes(file)) return;
        if (file === LATEST_FILE) run.sidecarStale = true;
        if (file === SAMPLES_DIR && !run.samplesWatched) this.watchSamples(run);
        void this.schedule(run);
      });
      this.watchSamples(run);
      await this.schedule(run);
    }
    // Folders that disappeared stop being listed.
    for (const [name, run] of this.runs) {
      if (run.dir === this.runsDir) continue;
      try {
        await stat(run.dir);
      } catch {
        for (const w of run.watchers) w.close();
        this.runs.delete(name);
      }
    }
  }

  private watchSamples(run: WatchedRun): void {
    run.samplesWatched = this.watchFolder(run, join(run.dir, SAMPLES_DIR), () => void this.schedule(run));
  }

  private watchFolder(run: WatchedRun, dir: string, onChange: (file: string | null) => void): boolean {
    try {
      const watcher = watch(dir, (_event, file) => onChange(file === null ? null : String(file)));
      watcher.on('error', () => watcher.close());
      run.watchers.push(watcher);
      return true;
    } catch {
      return false; // not there yet (samples/ before the first grid)
    }
  }

  /** Refreshes a run; a change arriving meanwhile triggers one more pass, never a pile of parallel reads. */
  private async schedule(run: WatchedRun): Promise<void> {
    if (run.busy) {
      run.dirty = true;
      return;
    }
    run.busy = true;
    try {
      do {
        run.dirty = false;
        if (this.closed) return;
        await this.refreshOnce(run);
      } while (run.dirty);
    } finally {
      run.busy = false;
    }
  }

  private async refreshOnce(run: WatchedRun): Promise<void> {
    const wasRun = run.isRun;
    run.isRun = await isRunFolder(run.dir);
    if (!run.isRun) return;
    const before = JSON.stringify({ ...run.summary, step: 0 });
    const chunk = await run.tail.read();
    const lastStep = chunk.log.steps[chunk.log.steps.length - 1]?.step ?? chunk.log.evals[chunk.log.evals.length - 1]?.step;
    if (lastStep !== undefined) run.summary.step = lastStep;
    else if (chunk.reset) run.summary.step = 0;
    if (run.sidecarStale) {
      const sidecar = await readRunSidecar(run.dir);
      if (sidecar !== null) {
        run.sidecarStale = false;
        run.summary.family = sidecar.family;
        run.summary.backend = sidecar.backend;
        run.summary.settings = runSettings(sidecar);
      }
    }
    run.summary.samples = (await listSampleGrids(run.dir)).map((g: SampleGrid) => ({ name: g.name, version: Math.round(g.mtimeMs) }));
    run.summary.active = await readActiveRun(run.dir);
    if (this.closed) return;
    // The step alone changing is news for the metrics event, not a new summary.
    if (!wasRun || JSON.stringify({ ...run.summary, step: 0 }) !== before) this.onEvent({ type: 'run', summary: structuredClone(run.summary) });
    if (chunk.reset || chunk.log.steps.length + chunk.log.evals.length > 0) {
      const points: Record<string, ChartPoint[]> = {};
      for (const chart of chartsFor(chunk.log)) points[chart.id] = chartPoints(chart, chunk.log, Infinity);
      this.onEvent({ type: 'metrics', update: { run: run.name, reset: chunk.reset, points, step: run.summary.step } });
    }
  }
}
