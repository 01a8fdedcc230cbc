// The custom tfjs layers the discriminators may use (minibatch stddev, spectral normalisation). Importing this file registers each with
// tf.serialization.registerClass, which tf.loadLayersModel needs to rebuild a saved model that contains one; the
// checkpoint loader imports it, so any entry point that loads a run (trainer, exporter, tests) can read them back.

import { MinibatchStddev } from './minibatch-stddev.ts';
import { SpectralConv2D, SpectralDense } from './spectral-normalization.ts';

/** Class names of the custom layers (what a model.json's layer `class_name` says). */
export const CUSTOM_LAYERS: readonly string[] = Object.freeze([MinibatchStddev.className, SpectralDense.className, SpectralConv2D.className]);
