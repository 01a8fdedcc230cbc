// Add → a chain of Add: residual connections in conv generators and critics, and a projection discriminator's
// logit + class term; see elementwise.ts for the layout argument.

import { elementwiseExporter } from './elementwise.ts';

export const addExporter = elementwiseExporter('Add', 'Add');
