// Kernel fixes that make GAN training practical on tfjs's wasm backend (the fallback when tfjs-node is absent).
//  - BatchMatMul/_FusedMatMul with transposeA/transposeB run 9-35× slower than a plain product in the wasm build
//    ([1024,784]×[784,512]: 44 ms plain, 1560 ms transposeA, 400 ms transposeB), and every Dense layer's backward pass
//    takes those paths. The wrapper transposes explicitly with the wasm Transpose kernel, then runs the plain product.
//  - Conv2DBackpropFilter (the filter gradient of Conv2D, and of Conv2DTranspose) is missing, so conv GANs cannot
//    train at all: built here as im2col (PadV2 + StridedSlice + Concat) followed by one matrix product.
//  - UnsortedSegmentSum (the gradient of Gather, i.e. of an Embedding layer) is missing too, so conditional GANs
//    cannot train: built as a one-hot matrix times the values.
// Everything is composed from the wasm backend's own kernels on its own buffers, so no data leaves wasm memory.
// This module does not import the wasm package (train/backend.ts does); it works on whatever is registered as 'wasm'.

import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type KernelBackend = tf.KernelBackend;
type Attrs = tf.NamedAttrMap;

const BACKEND = 'wasm';

/** Which fixes to install. */
export interface WasmKernelFixOptions {
  /** Replace BatchMatMul/_FusedMatMul with the transpose-first wrapper. Default true. */
  matMulTranspose?: boolean;
  /** Register Conv2DBackpropFilter when the wasm backend lacks it. Default true. */
  conv2dBackpropFilter?: boolean;
  /** Register UnsortedSegmentSum (Embedding gradient) when the wasm backend lacks it. Default true. */
  unsortedSegmentSum?: boolean;
}

/** Kernel configs as the wasm package registered them, kept so the fixes can be removed (the benchmark's baseline). */
const originals = new Map<string, tf.KernelConfig | undefined>();

/** Names of the kernels currently replaced or added by this module. */
export function installedWasmKernelFixes(): string[] {
  return [...originals.keys()];
}

/**
 * Installs the fixes on the registered 'wasm' backend (idempotent). Call after the wasm backend package is imported;
 * works whether or not the backend was already initialised (setupFuncs are kept and re-run as tfjs requires).
 */
export function installWasmKernelFixes(options: WasmKernelFixOptions = {}): string[] {
  const { matMulTranspose = true, conv2dBackpropFilter = true, unsortedSegmentSum = true } = options;
  if (tf.getKernel('BatchMatMul', BACKEND) === undefined) {
    throw new Error("installWasmKernelFixes: the 'wasm' backend is not registered (import it through train/backend.ts first)");
  }
  if (matMulTranspose) {
    wrapKernel('BatchMatMul', (original) => transposeFirstMatMul(original, 'a', 'b', 'transposeA', 'transposeB'));
    wrapKernel('_FusedMatMul', (original) => transposeFirstMatMul(original, 'a', 'b', 'transposeA', 'transposeB'));
  }
  if (conv2dBackpropFilter) addKernel('Conv2DBackpropFilter', conv2dBackpropFilterKernel);
  if (unsortedSegmentSum) addKernel('UnsortedSegmentSum', unsortedSegmentSumKernel);
  return installedWasmKernelFixes();
}

/** Restores the wasm backend's own kernels (used by the benchmark to measure the unfixed baseline in the same run). */
export function uninstallWasmKernelFixes(): void {
  for (const [name, original] of originals) {
    tf.unregisterKernel(name, BACKEND);
    if (original !== undefined) reRegister(original);
  }
  originals.clear();
}

function wrapKernel(name: string, makeKernel: (original: tf.KernelConfig) => tf.KernelFunc): void {
  if (originals.has(name)) return;
  const original = tf.getKernel(name, BACKEND);
  if (original === undefined) return;
  originals.set(name, original);
  tf.unregisterKernel(name, BACKEND);
  reRegister({ ...original, kernelFunc: makeKernel(original) });
}

function addKernel(name: string, kernelFunc: tf.KernelFunc): void {
  if (originals.has(name) || tf.getKernel(name, BACKEND) !== undefined) return;
  originals.set(name, undefined);
  tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
}

/** registerKernel does not run setupFunc for an already-initialised backend, so run it here (it only cwraps exports). */
function reRegister(config: tf.KernelConfig): void {
  tf.registerKernel(config);
  const initialised = tf.engine().registry[BACKEND];
  if (config.setupFunc !== undefined && initialised !== undefined) config.setupFunc(initialised);
}

/** Runs another registered wasm kernel on wasm buffers; the caller disposes the result with backend.disposeData. */
function runKernel(name: string, inputs: tf.NamedTensorInfoMap | TensorInfo[], backend: KernelBackend, attrs: Attrs = {}): TensorInfo {
  const kernel = tf.getKernel(name, BACKEND);
  if (kernel === undefined) throw new Error(`wasm kernel '${name}' is not registered`);
  const out = kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend, attrs });
  return Array.isArray(out) ? out[0]! : out;
}

/** The original (unwrapped) kernel, when it has been wrapped; else whatever is registered. */
function originalKernel(name: string): tf.KernelConfig {
  const kernel = originals.get(name) ?? tf.getKernel(name, BACKEND);
  if (kernel === undefined) throw new Error(`wasm kernel '${name}' is not registered`);
  return kernel;
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return perm;
}

function transposeFirstMatMul(original: tf.KernelConfig, aName: string, bName: string, tA: string, tB: string): tf.KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const transposeA = attrs[tA] === true;
    const transposeB = attrs[tB] === true;
    if (!transposeA && !transposeB) return original.kernelFunc({ inputs, backend, attrs });
    const kb = backend as KernelBackend;
    const temps: TensorInfo[] = [];
    const flip = (x: TensorInfo): TensorInfo => {
      const t = runKernel('Transpose', { x }, kb, { perm: swapLastTwo(x.shape.length) });
      temps.push(t);
      return t;
    };
    const a = inputs[aName]!;
    const b = inputs[bName]!;
    try {
      return original.kernelFunc({
        inputs: { ...inputs, [aName]: transposeA ? flip(a) : a, [bName]: transposeB ? flip(b) : b },
        backend,
        attrs: { ...attrs, [tA]: false, [tB]: false },
      });
    } finally {
      for (const t of temps) kb.disposeData(t.dataId);
    }
  };
}

/**
 * dW[i, j, c, o] = Σ_{b, y, x} xPadded[b, y·s + i, x·s + j, c] · dy[b, y, x, o], as patches(x)ᵀ · dy where patches
 * is [B·OH·OW, KH·KW·C] with the (i, j, c) order of the filter layout, so the product reshapes straight to HWIO.
 */
const conv2dBackpropFilterKernel: tf.KernelFunc = ({ inputs, backend, attrs = {} }) => {
  const kb = backend as KernelBackend;
  const x = inputs.x!;
  const dy = inputs.dy!;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter (ganforge wasm kernel) supports dataFormat NHWC only, got ${dataFormat}`);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('Conv2DBackpropFilter (ganforge wasm kernel) supports float32 only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { batchSize, inChannels, outChannels, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const { top, bottom, left, right } = info.padInfo;
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo): TensorInfo => { temps.push(t); return t; };
  try {
    // The slices below never read past the padded edge: the last window ends at (O−1)·s + K = size + pads.
    const padded = top || bottom || left || right
      ? keep(runKernel('PadV2', { x }, kb, { paddings: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]], constantValue: 0 }))
      : x;
    const patches: TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        // [B, H+pads, W+pads, C] → [B, OH, OW, C]: the input pixels that filter tap (i, j) meets.
        patches.push(keep(runKernel('StridedSlice', { x: padded }, kb, {
          begin: [0, i, j, 0], end: [batchSize, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, inChannels], strides: [1, sh, sw, 1],
          beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
        })));
      }
    }
    const stacked = patches.length === 1 ? patches[0]! : keep(runKernel('Concat', patches, kb, { axis: 3 })); // [B, OH, OW, KH·KW·C]
    const columns = keep(runKernel('Reshape', { x: stacked }, kb, { shape: [batchSize * oh * ow, kh * kw * inChannels] }));
    const columnsT = keep(runKernel('Transpose', { x: columns }, kb, { perm: [1, 0] })); // [KH·KW·C, N]
    const dy2d = keep(runKernel('Reshape', { x: dy }, kb, { shape: [batchSize * oh * ow, outChannels] }));
    const product = keep(originalKernel('BatchMatMul').kernelFunc({
      inputs: { a: columnsT, b: dy2d }, backend, attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo); // [1, KH·KW·C, O]
    return runKernel('Reshape', { x: product }, kb, { shape: [kh, kw, inChannels, outChannels] });
  } finally {
    for (const t of temps) kb.disposeData(t.dataId);
  }
};

/** out[s, ...] = Σ_{n: ids[n] = s} data[n, ...] = onehot(ids)ᵀ · data; ids outside [0, S) contribute nothing, as in TF. */
const unsortedSegmentSumKernel: tf.KernelFunc = ({ inputs, backend, attrs = {} }) => {
  const kb = backend as KernelBackend;
  const x = inputs.x!;
  const segmentIds = inputs.segmentIds!;
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32') throw new Error(`UnsortedSegmentSum (ganforge wasm kernel) supports float32 data only, got ${x.dtype}`);
  const n = segmentIds.shape.reduce((p, d) => p * d, 1);
  const rest = x.shape.slice(segmentIds.shape.length);
  const width = rest.reduce((p, d) => p * d, 1);
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo): TensorInfo => { temps.push(t); return t; };
  try {
    const ids = keep(runKernel('Reshape', { x: segmentIds }, kb, { shape: [n, 1] }));
    const ids32 = segmentIds.dtype === 'int32' ? ids : keep(runKernel('Cast', { x: ids }, kb, { dtype: 'int32' }));
    const range = keep(runKernel('Range', {}, kb, { start: 0, stop: numSegments, step: 1, dtype: 'int32' }));
    const range2d = keep(runKernel('Reshape', { x: range }, kb, { shape: [1, numSegments] }));
    const hit = keep(runKernel('Equal', { a: ids32, b: range2d }, kb)); // [N, S] bool
    const oneHot = keep(runKernel('Cast', { x: hit }, kb, { dtype: 'float32' }));
    const oneHotT = keep(runKernel('Transpose', { x: oneHot }, kb, { perm: [1, 0] })); // [S, N]
    const data = keep(runKernel('Reshape', { x }, kb, { shape: [n, width] }));
    const product = keep(originalKernel('BatchMatMul').kernelFunc({
      inputs: { a: oneHotT, b: data }, backend, attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo);
    return runKernel('Reshape', { x: product }, kb, { shape: [numSegments, ...rest] });
  } finally {
    for (const t of temps) kb.disposeData(t.dataId);
  }
};
