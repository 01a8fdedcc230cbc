// The model manifest: everything a consumer needs to know about an exported generator. The exporter writes it into the
// .onnx file's metadata_props (key MANIFEST_KEY), so the file describes itself; server and browser read it from there
// and never hard-code latent sizes, shapes or classes.

import { GanforgeError } from './errors.ts';
import { TRUNCATION_KINDS, TRUNCATION_MODES, type TruncationKind, type TruncationMode } from './truncation.ts';

export const MANIFEST_KEY = 'ganforge.manifest';
export const MANIFEST_FORMAT = 'ganforge.generator/1';

/** How the generator was trained: copied from the checkpoint sidecar. */
export interface TrainingRecord {
  dataset: string;
  steps: number;
  epochs: number;
  batchSize: number;
  seed: number;
  /** tfjs backend that ran the training ('tensorflow', 'wasm', 'cpu'). */
  backend: string;
  loss: string;
  /** The CLI command that produced the run, when known. */
  command?: string;
  durationSeconds?: number;
  /**
   * Present when the exported weights are the exponential moving average of the trained generator's weights
   * (`ganforge train --ema`), not the last iterate: the average's decay d (null if the run did not record it).
   */
  generatorEma?: number | null;
}

export interface ModelManifest {
  format: typeof MANIFEST_FORMAT;
  /** GAN family from the training registry ('mlp', 'cgan', ...). */
  family: string;
  /** Width of the latent input. */
  latentDim: number;
  /** Class names, index = label; null for an unconditional generator. */
  classes: string[] | null;
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  /** [low, high] of the generator output (tanh → [-1, 1]). */
  valueRange: [number, number];
  /** ONNX input names: the latent, and the int64 label when conditional. */
  inputs: { latent: string; label: string | null };
  /** ONNX output name; its layout is [batch, height, width, channels]. */
  output: string;
  /** Truncation modes the consumer may apply to the latent (done outside the graph). */
  truncationModes: TruncationMode[];
  /**
   * What the `truncation` number means for this model (common/truncation.ts TRUNCATION_KINDS). Absent = { kind: 'latent' }.
   * 'w-space' names the graph input that takes ψ (float32 [batch, 1]).
   */
  truncation?: { kind: TruncationKind; input?: string };
  /** Style generators: their per-pixel noise inputs are zero in the exported graph, so a seed gives one image. Absent: no noise inputs. */
  noise?: 'zeroed';
  /**
   * Style generators that mix two styles at inference: the graph inputs of the second latent (float32 [batch,
   * latentDim]) and of the crossover (float32 [batch, 1]: synthesis layers from this index on take the second style),
   * and the number of synthesis layers L (a crossover of L or more mixes nothing). Absent: no mixing inputs.
   */
  styleMixing?: StyleMixingInputs;
  training: TrainingRecord;
  ganforgeVersion: string;
}

export interface StyleMixingInputs {
  latentInput: string;
  crossoverInput: string;
  layers: number;
}

/** Parses and checks a manifest read from a model's metadata; throws INVALID_MODEL naming the bad field. */
export function parseManifest(json: string, source: string): ModelManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new GanforgeError('INVALID_MODEL', `${source}: the '${MANIFEST_KEY}' metadata is not valid JSON`, { cause });
  }
  const fail = (field: string, expected: string): never => {
    throw new GanforgeError('INVALID_MODEL', `${source}: manifest field '${field}' must be ${expected}`);
  };
  if (typeof raw !== 'object' || raw === null) return fail('(root)', 'an object');
  const m = raw as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) fail('format', `"${MANIFEST_FORMAT}"`);
  if (typeof m.family !== 'string' || m.family === '') fail('family', 'a non-empty string');
  if (!isPositiveInteger(m.latentDim)) fail('latentDim', 'a positive integer');
  if (m.classes !== null && !(Array.isArray(m.classes) && m.classes.length > 0 && m.classes.every((c) => typeof c === 'string'))) {
    fail('classes', 'null or a non-empty array of strings');
  }
  if (!(Array.isArray(m.imageShape) && m.imageShape.length === 3 && m.imageShape.every(isPositiveInteger))) {
    fail('imageShape', 'three positive integers [height, width, channels]');
  }
  const range = m.valueRange;
  if (!(Array.isArray(range) && range.length === 2 && range.every((v) => typeof v === 'number') && (range[0] as number) < (range[1] as number))) {
    fail('valueRange', 'two numbers [low, high] with low < high');
  }
  const inputs = m.inputs as Record<string, unknown> | undefined;
  if (typeof inputs !== 'object' || inputs === null || typeof inputs.latent !== 'string') fail('inputs.latent', 'a string');
  if (inputs!.label !== null && typeof inputs!.label !== 'string') fail('inputs.label', 'null or a string');
  if ((m.classes === null) !== (inputs!.label === null)) fail('inputs.label', 'present exactly when classes are');
  if (typeof m.output !== 'string') fail('output', 'a string');
  if (!Array.isArray(m.truncationModes) || !m.truncationModes.every((t) => (TRUNCATION_MODES as readonly unknown[]).includes(t))) {
    fail('truncationModes', `a list drawn from ${TRUNCATION_MODES.join(', ')}`);
  }
  const convention = m.truncation as Record<string, unknown> | undefined;
  if (convention !== undefined && (typeof convention !== 'object' || convention === null || !(TRUNCATION_KINDS as readonly unknown[]).includes(convention.kind))) {
    fail('truncation.kind', `one of ${TRUNCATION_KINDS.join(', ')} (or no 'truncation' field)`);
  }
  if (convention?.kind === 'w-space') {
    if (typeof convention.input !== 'string' || convention.input === '' || [inputs!.latent, inputs!.label].includes(convention.input)) {
      fail('truncation.input', 'the name of the ψ input of a w-space model (a string other than the latent and label inputs)');
    }
    if (!(m.truncationModes as unknown[]).every((t) => t === 'psi')) fail('truncationModes', "['psi'] for a w-space model (ψ is applied to w, not to z)");
  }
  if (m.noise !== undefined && m.noise !== 'zeroed') fail('noise', "absent or 'zeroed'");
  const mixing = m.styleMixing as Record<string, unknown> | undefined;
  if (mixing !== undefined) {
    const taken = [inputs!.latent, inputs!.label, convention?.input];
    const freeName = (v: unknown) => typeof v === 'string' && v !== '' && !taken.includes(v);
    if (typeof mixing !== 'object' || mixing === null || !freeName(mixing.latentInput) || !freeName(mixing.crossoverInput) || mixing.latentInput === mixing.crossoverInput) {
      fail('styleMixing', 'absent, or {latentInput, crossoverInput, layers} with two distinct input names other than the latent, label and ψ inputs');
    }
    if (!isPositiveInteger(mixing.layers) || mixing.layers < 2) fail('styleMixing.layers', 'an integer ≥ 2 (the synthesis layers)');
  }
  if (typeof m.training !== 'object' || m.training === null) fail('training', 'an object');
  if (typeof m.ganforgeVersion !== 'string') fail('ganforgeVersion', 'a string');
  return m as unknown as ModelManifest;
}

/** What `truncation` means for the model: its manifest's convention, 'latent' for manifests that state none. */
export function truncationKindOf(manifest: Pick<ModelManifest, 'truncation'>): TruncationKind {
  return manifest.truncation?.kind ?? 'latent';
}

/** The graph input that takes ψ, for a w-space model; null for every other kind. */
export function truncationInputOf(manifest: Pick<ModelManifest, 'truncation'>): string | null {
  return manifest.truncation?.kind === 'w-space' ? manifest.truncation.input ?? null : null;
}

/** Every graph input the model takes: latent, label (conditional), ψ (w-space), the mixing inputs. Loaders check the graph against it. */
export function generatorInputNames(manifest: ModelManifest): string[] {
  const psi = truncationInputOf(manifest);
  const mixing = manifest.styleMixing;
  return [
    manifest.inputs.latent, ...(manifest.inputs.label === null ? [] : [manifest.inputs.label]), ...(psi === null ? [] : [psi]),
    ...(mixing === undefined ? [] : [mixing.latentInput, mixing.crossoverInput]),
  ];
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}
