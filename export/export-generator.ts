// Turns a trained tfjs generator into a self-describing ONNX model: inputs `z` (float32 [batch, latentDim]) and, for
// conditional generators, `label` (int64 [batch]); output `image` (float32 [batch, H, W, C], NHWC like tfjs); the
// manifest JSON in metadata_props so the server and the page read latent size, classes and shapes from the file.

import type * as tf from '@tensorflow/tfjs';
import { InvalidParameterError, describeValue } from '../common/errors.ts';
import { MANIFEST_FORMAT, MANIFEST_KEY, truncationInputOf, type ModelManifest } from '../common/manifest.ts';
import { MIX_CROSSOVER_INPUT, MIX_LATENT_INPUT, TRUNCATION_INPUT } from '../train/models/family.ts';
import { mixesTruncatedStyles } from './ops/style-mixing.ts';
import { exportLayersModel, type GraphInputBinding } from './export-graph.ts';

/** The ONNX names every ganforge generator uses. */
export const GENERATOR_NAMES = Object.freeze({ latent: 'z', label: 'label', output: 'image' });

/** Which tfjs model input is the latent and which the label (null for an unconditional generator). */
export interface GeneratorInputs {
  latent: number;
  label: number | null;
}

/** Finds the latent and label inputs of a generator, checking them against the manifest. */
export function generatorInputs(model: tf.LayersModel, manifest: ModelManifest): GeneratorInputs {
  const shapes = model.inputs.map((t) => t.shape);
  const conditional = manifest.classes !== null;
  const describe = JSON.stringify(shapes);
  if (model.inputs.length !== (conditional ? 2 : 1)) {
    throw new InvalidParameterError(
      'manifest.classes',
      `a ${conditional ? 'conditional' : 'unconditional'} generator must have ${conditional ? 2 : 1} input(s) (${conditional ? 'latent and label' : 'latent'}), the model has ${describe}`,
    );
  }
  const isLatent = (s: (number | null)[]) => s.length === 2 && s[1] === manifest.latentDim;
  const isLabel = (s: (number | null)[]) => s.length === 1 || (s.length === 2 && s[1] === 1);
  if (!conditional) {
    if (!isLatent(shapes[0]!)) throw new InvalidParameterError('manifest.latentDim', `latentDim ${manifest.latentDim} does not match the model input ${describe}`);
    return { latent: 0, label: null };
  }
  // With latentDim 1 both inputs look alike; the order z-then-label decides.
  for (const [latent, label] of [[0, 1], [1, 0]] as const) {
    if (isLatent(shapes[latent]!) && isLabel(shapes[label]!)) return { latent, label };
  }
  throw new InvalidParameterError('manifest.latentDim', `expected inputs [batch, ${manifest.latentDim}] and a [batch, 1] label, the model has ${describe}`);
}

/**
 * The manifest fields a generator's own layers decide: a WSpaceTruncation layer makes it a w-space model whose graph
 * takes ψ as TRUNCATION_INPUT (and which accepts only the 'psi' mode); NoiseInjection layers are zeroed in the graph;
 * a StyleMixing layer whose second style is truncated too gives the graph its two mixing inputs.
 */
export function generatorConventions(model: tf.LayersModel): Pick<ModelManifest, 'truncation' | 'noise' | 'truncationModes' | 'styleMixing'> | Record<string, never> {
  const classes = new Set(model.layers.map((l) => l.getClassName()));
  if (!classes.has('WSpaceTruncation')) return {};
  const mixing = model.layers.find((l) => l.getClassName() === 'StyleMixing');
  const styleMixing = mixing !== undefined && mixesTruncatedStyles(mixing)
    ? { styleMixing: { latentInput: MIX_LATENT_INPUT, crossoverInput: MIX_CROSSOVER_INPUT, layers: (mixing.getConfig() as { styles: number }).styles } }
    : {};
  return { truncation: { kind: 'w-space', input: TRUNCATION_INPUT }, truncationModes: ['psi'], ...(classes.has('NoiseInjection') ? { noise: 'zeroed' as const } : {}), ...styleMixing };
}

/** Serializes the generator with its manifest. Pure: writes no file (export-run.ts does, after checking parity). */
export function exportGenerator(model: tf.LayersModel, manifest: ModelManifest): Uint8Array {
  const format: unknown = manifest.format; // typed as the literal, but manifests arrive from JSON
  if (format !== MANIFEST_FORMAT) throw new InvalidParameterError('manifest.format', `'manifest.format' must be "${MANIFEST_FORMAT}", got ${describeValue(format)}`);
  if (model.outputs.length !== 1) throw new InvalidParameterError('model', `a generator has one output, the model has ${model.outputs.length}`);
  const bound = generatorInputs(model, manifest);
  const wSpace = model.layers.some((l) => l.getClassName() === 'WSpaceTruncation');
  const psiInput = truncationInputOf(manifest);
  if (wSpace !== (psiInput !== null) || (psiInput !== null && psiInput !== TRUNCATION_INPUT)) {
    throw new InvalidParameterError(
      'manifest.truncation',
      wSpace
        ? `the generator truncates in w space: 'manifest.truncation' must be {kind: 'w-space', input: '${TRUNCATION_INPUT}'}, got ${describeValue(manifest.truncation)}`
        : `the generator has no w-space truncation layer, so 'manifest.truncation' cannot be w-space, got ${describeValue(manifest.truncation)}`,
    );
  }
  const mixing = generatorConventions(model).styleMixing;
  if (JSON.stringify(mixing) !== JSON.stringify(manifest.styleMixing)) {
    throw new InvalidParameterError('manifest.styleMixing', `the generator's graph ${mixing === undefined ? 'takes no mixing inputs' : `mixes with ${describeValue(mixing)}`}, but 'manifest.styleMixing' is ${describeValue(manifest.styleMixing)}`);
  }
  const inputs: GraphInputBinding[] = model.inputs.map((_t, i) =>
    i === bound.label ? { name: manifest.inputs.label!, kind: 'label' } : { name: manifest.inputs.latent, kind: 'float' },
  );
  const outputSize = model.outputs[0]!.shape.slice(1).reduce<number>((a, b) => a * (b ?? NaN), 1);
  const imageSize = manifest.imageShape.reduce((a, b) => a * b, 1);
  if (outputSize !== imageSize) {
    throw new InvalidParameterError(
      'manifest.imageShape',
      `'imageShape' [${manifest.imageShape.join(', ')}] does not match the generator output ${JSON.stringify(model.outputs[0]!.shape)}`,
    );
  }
  return exportLayersModel(model, {
    inputs,
    outputs: [{ name: manifest.output, shape: [...manifest.imageShape] }],
    graphName: `${manifest.family}_generator`,
    docString: describeGenerator(manifest),
    metadata: { [MANIFEST_KEY]: JSON.stringify(manifest) },
    producerVersion: manifest.ganforgeVersion,
  });
}

/** The model's doc_string: one readable paragraph for tools such as Netron. */
export function describeGenerator(m: ModelManifest): string {
  const [h, w, c] = m.imageShape;
  const label = m.classes === null ? '' : ` and ${m.inputs.label} (int64 [batch], class index in [0, ${m.classes.length - 1}]: ${m.classes.join(', ')})`;
  const psi = truncationInputOf(m);
  const wSpace = psi === null ? '' : ` and ${psi} (float32 [batch, 1], ψ of the w-space truncation trick: 1 = none, 0 = the mean w)`;
  const mix = m.styleMixing === undefined ? ''
    : ` and ${m.styleMixing.latentInput} (float32 [batch, ${m.latentDim}], the style-mixing latent) and ${m.styleMixing.crossoverInput} (float32 [batch, 1], the first of the ${m.styleMixing.layers} synthesis layers that takes its style; ${m.styleMixing.layers} = no mixing)`;
  return (
    `ganforge ${m.family} generator. Inputs: ${m.inputs.latent} (float32 [batch, ${m.latentDim}], standard normal)${label}${wSpace}${mix}. ` +
    `Output: ${m.output} (float32 [batch, ${h}, ${w}, ${c}], NHWC, values in [${m.valueRange[0]}, ${m.valueRange[1]}]). ` +
    `Trained on ${m.training.dataset} for ${m.training.steps} steps (${m.training.loss} loss, tfjs ${m.training.backend} backend). ` +
    `Full manifest in metadata_props['${MANIFEST_KEY}'].`
  );
}
