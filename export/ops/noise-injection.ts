// NoiseInjection → nothing: the served generator zeroes its noise inputs (deterministic per seed; the manifest says
// noise 'zeroed'), and x + strength · 0 is x. The layer's strength weights are not needed in the graph.

import { singleInput, type LayerExporter } from './layer-exporter.ts';

export const noiseInjectionExporter: LayerExporter = {
  className: 'NoiseInjection',
  convert(ctx) {
    return [singleInput(ctx)];
  },
};
