// The exporter's parity cases (layer-cases.ts) in onnxruntime-web's wasm build, run in Node: what the page runs must
// match tfjs as closely as what the server runs. The wasm runtime is initialised once per process, on the first
// session (web/src/ort-web.ts), and every case then opens its own session on it.

import { defineParitySuite } from './layer-cases.ts';

defineParitySuite('onnxruntime-web');
