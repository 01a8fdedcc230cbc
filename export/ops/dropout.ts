// Dropout is the identity at inference: no node, the input value passes through.

import { singleInput, type LayerExporter } from './layer-exporter.ts';

export const dropoutExporter: LayerExporter = {
  className: 'Dropout',
  convert: (ctx) => [singleInput(ctx)],
};
