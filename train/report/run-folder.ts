// What a plot, `ganforge compare` and the dashboard need to know about a run folder (runs/<run>/, as `ganforge train
// --out` writes it): whether it is one at all, its sample grids in the order they were written, and the sidecar's
// config (family, loss, learning rates, backend) once a checkpoint exists.

import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InvalidParameterError } from '../../common/errors.ts';
import { isTempName } from '../atomic-write.ts';
import { LATEST_FILE, readSidecar, resolveCheckpointDir } from '../checkpoint.ts';
import type { RunSidecar } from '../run-sidecar.ts';
import { METRICS_FILE } from './metrics-log.ts';

export const SAMPLES_DIR = 'samples';

export interface SampleGrid {
  /** File name inside samples/. */
  name: string;
  path: string;
  mtimeMs: number;
}

/** True when `dir` holds what a training run writes: metrics.jsonl, latest.json or a samples/ folder. */
export async function isRunFolder(dir: string): Promise<boolean> {
  for (const entry of [METRICS_FILE, LATEST_FILE, SAMPLES_DIR]) {
    try {
      await stat(join(dir, entry));
      return true;
    } catch {
      // try the next marker
    }
  }
  return false;
}

/** Throws INVALID_PARAMETER naming the folder unless it is a run folder. */
export async function assertRunFolder(dir: string, parameter = 'run'): Promise<string> {
  const abs = resolve(dir);
  let info;
  try {
    info = await stat(abs);
  } catch {
    throw new InvalidParameterError(parameter, `${dir}: no such folder; give a run folder (what 'ganforge train --out' writes)`);
  }
  if (!info.isDirectory() || !(await isRunFolder(abs))) {
    throw new InvalidParameterError(parameter,
      `${dir} is not a ganforge run folder: it has no ${METRICS_FILE}, ${LATEST_FILE} or ${SAMPLES_DIR}/ (a run folder is what 'ganforge train --out' writes)`);
  }
  return abs;
}

/** The run's sample grids (PNG) oldest first: by write time, then name (epoch-0001 < epoch-0002, step-000100 < …). */
export async function listSampleGrids(runDir: string): Promise<SampleGrid[]> {
  const dir = join(runDir, SAMPLES_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const grids: SampleGrid[] = [];
  for (const name of names) {
    if (isTempName(name) || !name.toLowerCase().endsWith('.png')) continue;
    try {
      const info = await stat(join(dir, name));
      if (info.isFile()) grids.push({ name, path: join(dir, name), mtimeMs: info.mtimeMs });
    } catch {
      // replaced or removed meanwhile
    }
  }
  return grids.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
}

/** The sidecar of the run's newest complete checkpoint, or null while there is none (a run in its first epoch). */
export async function readRunSidecar(runDir: string): Promise<RunSidecar | null> {
  try {
    return await readSidecar(await resolveCheckpointDir(runDir));
  } catch {
    return null;
  }
}

/** The sidecar's settings that describe how a run trains, flattened to label → value (family config as family.x). */
export function runSettings(sidecar: RunSidecar | null): Record<string, string | number | boolean> {
  if (sidecar === null) return {};
  const settings: Record<string, string | number | boolean> = {};
  const skip = new Set(['format', 'step', 'epoch', 'savedAt', 'durationSeconds', 'command', 'metrics', 'familyConfig', 'learningRates', 'classes', 'imageShape', 'valueRange']);
  for (const [key, value] of Object.entries(sidecar as unknown as Record<string, unknown>)) {
    if (skip.has(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') settings[key] = value;
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      // Newer sidecars may describe the optimizer or technique as an object: one level is flattened.
      for (const [inner, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') settings[`${key}.${inner}`] = v;
      }
    }
  }
  if (sidecar.learningRates !== undefined) {
    settings['lr G'] = sidecar.learningRates.generator;
    settings['lr D'] = sidecar.learningRates.discriminator;
  }
  settings.image = sidecar.imageShape.join('×');
  for (const [key, value] of Object.entries(sidecar.familyConfig ?? {})) {
    settings[`${sidecar.family}.${key}`] = typeof value === 'object' ? JSON.stringify(value) : (value as string | number | boolean);
  }
  return settings;
}

/**
 * The settings whose values differ between runs (what a comparison is about), in first-seen order. Runs without a
 * sidecar yet (empty settings) take no part: they differ in nothing known.
 */
export function distinguishingSettings(all: readonly Record<string, string | number | boolean>[]): string[] {
  const known = all.filter((s) => Object.keys(s).length > 0);
  const keys: string[] = [];
  for (const settings of known) for (const key of Object.keys(settings)) if (!keys.includes(key)) keys.push(key);
  return keys.filter((key) => new Set(known.map((s) => (key in s ? String(s[key]) : '—'))).size > 1);
}

/** A run's display name: its folder name. */
export function runName(runDir: string): string {
  return basename(resolve(runDir));
}
