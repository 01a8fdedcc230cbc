// MixingLatent → nothing: at inference z₂ is z, and the branch it feeds is dropped with StyleMixing's second input
// (the builder prunes nodes no output depends on).

import { singleInput, type LayerExporter } from './layer-exporter.ts';

export const mixingLatentExporter: LayerExporter = {
  className: 'MixingLatent',
  convert(ctx) {
    return [singleInput(ctx)];
  },
};
