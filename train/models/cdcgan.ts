// Conditional DCGAN: dcgan.ts's convolutional trunks, conditioned as cgan.ts's defaults are. The generator takes
// [z, embed(y)] concatenated before its Dense, so the truncation trick (which shrinks z) leaves the class signal whole;
// the discriminator adds a projection term ⟨embed(y), φ(x)⟩ on its flattened conv features (Miyato & Koyama 2018).
// Inputs and outputs are cgan's (z, label → image), so the exporter, the server and the page treat both alike.

import * as tf from '@tensorflow/tfjs';
import { addProjection, classCount, embedLabel } from './cgan.ts';
import { dcganDefaults, dcganDiscriminatorFeatures, dcganGeneratorTrunk, dcganLogit, type DcganConfig } from './dcgan.ts';
import { LABEL_INPUT, LATENT_INPUT, SeedSequence, type BuildContext, type GanFamily } from './family.ts';

export interface CdcganConfig extends DcganConfig {
  /** Width of the label embedding concatenated to z in the generator; 0 = the number of classes. Default 50. */
  embeddingDim: number;
}

export const cdcganDefaults: Readonly<CdcganConfig> = Object.freeze({ ...dcganDefaults, embeddingDim: 50 });

export function buildCdcganGenerator(config: CdcganConfig, context: BuildContext): tf.LayersModel {
  const numClasses = classCount(context, 'cdcgan');
  if (!Number.isInteger(config.embeddingDim) || config.embeddingDim < 0) {
    throw new RangeError(`family 'cdcgan' config 'embeddingDim' must be an integer ≥ 0, got ${config.embeddingDim}`);
  }
  const seeds = new SeedSequence(context.seed);
  const z = tf.input({ shape: [context.latentDim], name: LATENT_INPUT }); // [B, latentDim]
  const label = tf.input({ shape: [1], dtype: 'int32', name: LABEL_INPUT }); // [B, 1]
  const embedded = embedLabel(label, numClasses, config.embeddingDim || numClasses, seeds, 'g'); // [B, embeddingDim]
  const h = tf.layers.concatenate({ name: 'g_concat' }).apply([z, embedded]) as tf.SymbolicTensor; // [B, latentDim + embeddingDim]
  const image = dcganGeneratorTrunk(h, config, context, seeds, 'cdcgan'); // [B, H, W, C]
  return tf.model({ inputs: [z, label], outputs: image, name: 'generator' });
}

export function buildCdcganDiscriminator(config: CdcganConfig, context: BuildContext): tf.LayersModel {
  const numClasses = classCount(context, 'cdcgan');
  const seeds = new SeedSequence(context.seed ^ 0x5bd1e995);
  const image = tf.input({ shape: context.imageShape, name: 'image' }); // [B, H, W, C]
  const label = tf.input({ shape: [1], dtype: 'int32', name: LABEL_INPUT }); // [B, 1]
  const features = dcganDiscriminatorFeatures(image, config, context, seeds, 'cdcgan'); // [B, h0·w0·c]
  const logit = addProjection(dcganLogit(features, seeds, config.spectralNorm), features, label, numClasses, seeds); // ψ(φ(x)) + ⟨embed(y), φ(x)⟩: [B, 1]
  return tf.model({ inputs: [image, label], outputs: logit, name: 'discriminator' });
}

export const cdcganFamily: GanFamily<CdcganConfig> = {
  name: 'cdcgan',
  summary: 'conditional DCGAN: label embedding concatenated to z (G), projection discriminator on the conv features (D)',
  conditional: true,
  defaults: cdcganDefaults,
  buildGenerator: buildCdcganGenerator,
  buildDiscriminator: buildCdcganDiscriminator,
};
