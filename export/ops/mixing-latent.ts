// MixingLatent → the graph input `mix_z` [batch, latentDim]: the second latent of a served style mix. A generator
// whose StyleMixing reads its second style (export/ops/style-mixing.ts) consumes it; in one that does not (a
// checkpoint from before mixing was exported), nothing reads the input and the builder leaves it out of the model.

import { MIX_LATENT_INPUT } from '../../train/models/family.ts';
import { singleInput, type LayerExporter } from './layer-exporter.ts';

export const mixingLatentExporter: LayerExporter = {
  className: 'MixingLatent',
  convert(ctx) {
    const z = singleInput(ctx);
    const width = z.shape[1];
    if (z.shape.length !== 2 || typeof width !== 'number') return [z];
    const name = ctx.graph.addInput(MIX_LATENT_INPUT, 'float32', ['batch', width], { dropWhenUnused: true });
    return [{ name, shape: z.shape, dtype: 'float32' }];
  },
};
