// Multiply → a chain of Mul (a cGAN generator's z · embed(label)); see elementwise.ts for the layout argument.

import { elementwiseExporter } from './elementwise.ts';

export const multiplyExporter = elementwiseExporter('Multiply', 'Mul');
