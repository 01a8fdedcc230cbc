// Kernel fixes that make GAN training practical on tfjs's wasm backend (the fallback when tfjs-node is absent).
//  - BatchMatMul/_FusedMatMul with transposeA/transposeB run 9-35× slower than a plain product in the wasm build
//    (they skip XNNPACK), and every Dense layer's backward pass takes those paths. The wrapper runs a plain product on
//    explicitly transposed operands, or computes the transposed product and transposes the result, whichever moves
//    fewer floats (chooseMatMulPlan): for dy·Wᵀ the weight is never transposed (MLP GAN step +30%).
//  - Conv2DBackpropFilter (the filter gradient of Conv2D, and of Conv2DTranspose) is missing, so conv GANs cannot
//    train at all: built here as im2col (a JS copy loop on the wasm heap) followed by one XNNPACK product.
//  - Conv2DBackpropInput (Conv2D's input gradient and Conv2DTranspose's forward pass) is a direct loop in the wasm
//    build, ~15× slower than XNNPACK: replaced by one product and col2im. With the filter fix, a DCGAN step is 4.6× faster.
//  - Tile computes an index per element; BatchNorm's gradient tiles over the whole batch: replaced by block copies.
//  - UnsortedSegmentSum (the gradient of Gather, i.e. of an Embedding layer) is missing too, so conditional GANs
//    cannot train: built as a one-hot matrix times the values.
//  - tf.train.adam's update is ~12 elementwise kernels per variable, each a new buffer: on wasm it runs as one JS pass
//    per variable (GanforgeAdamUpdate) with the optimizer's state kept as tfjs keeps it (MLP GAN step +12%).
// Everything runs on the wasm backend's own kernels or on its heap in place, so no data leaves wasm memory.
// This module does not import the wasm package (train/backend.ts does); it works on whatever is registered as 'wasm'.

import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type KernelBackend = tf.KernelBackend;
type Attrs = tf.NamedAttrMap;
type ApplyGradientsArg = Parameters<tf.AdamOptimizer['applyGradients']>[0];
type ApplyGradients = (this: tf.AdamOptimizer, variableGradients: ApplyGradientsArg) => void;

const BACKEND = 'wasm';

/** Which fixes to install. */
export interface WasmKernelFixOptions {
  /** Replace BatchMatMul/_FusedMatMul with the transpose-first wrapper. Default true. */
  matMulTranspose?: boolean;
  /** Register Conv2DBackpropFilter when the wasm backend lacks it. Default true. */
  conv2dBackpropFilter?: boolean;
  /** Replace Conv2DBackpropInput (the input gradient of Conv2D, and Conv2DTranspose's forward pass). Default true. */
  conv2dBackpropInput?: boolean;
  /** Replace Tile (BatchNorm's gradient tiles the inverse deviation over the whole batch) with block copies. Default true. */
  tile?: boolean;
  /** Register UnsortedSegmentSum (Embedding gradient) when the wasm backend lacks it. Default true. */
  unsortedSegmentSum?: boolean;
  /** Run tf.train.adam's update on wasm as one pass per variable (GanforgeAdamUpdate) instead of ~12 kernels. Default true. */
  fusedAdam?: boolean;
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
  const { matMulTranspose = true, conv2dBackpropFilter = true, conv2dBackpropInput = true, tile = true, unsortedSegmentSum = true,
    fusedAdam = true } = options;
  if (tf.getKernel('BatchMatMul', BACKEND) === undefined) {
    throw new Error("installWasmKernelFixes: the 'wasm' backend is not registered (import it through train/backend.ts first)");
  }
  if (matMulTranspose) {
    wrapKernel('BatchMatMul', (original) => transposeFirstMatMul(original, 'a', 'b', 'transposeA', 'transposeB'));
    wrapKernel('_FusedMatMul', (original) => transposeFirstMatMul(original, 'a', 'b', 'transposeA', 'transposeB'));
  }
  if (conv2dBackpropFilter) addKernel('Conv2DBackpropFilter', conv2dBackpropFilterKernel);
  if (conv2dBackpropInput) wrapKernel('Conv2DBackpropInput', () => conv2dBackpropInputKernel);
  if (tile) wrapKernel('Tile', (original) => tileKernel(original));
  if (unsortedSegmentSum) addKernel('UnsortedSegmentSum', unsortedSegmentSumKernel);
  if (fusedAdam) {
    addKernel(ADAM_KERNEL, adamUpdateKernel);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call(optimizer) or restored
    originalApplyGradients ??= tf.AdamOptimizer.prototype.applyGradients;
    tf.AdamOptimizer.prototype.applyGradients = fusedApplyGradients;
  }
  return installedWasmKernelFixes();
}

/** Restores the wasm backend's own kernels (used by the benchmark to measure the unfixed baseline in the same run). */
export function uninstallWasmKernelFixes(): void {
  if (originalApplyGradients !== null) {
    tf.AdamOptimizer.prototype.applyGradients = originalApplyGradients;
    originalApplyGradients = null;
  }
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

/** Runs `body` with a `keep` that registers its intermediate wasm buffers; all are freed when it returns (the result is not kept). */
function withTemporaries<T>(kb: KernelBackend, body: (keep: (t: TensorInfo) => TensorInfo) => T): T {
  const temps: TensorInfo[] = [];
  try {
    return body((t) => { temps.push(t); return t; });
  } finally {
    for (const t of temps) kb.disposeData(t.dataId);
  }
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

/** How a transposed product is run on the plain (untransposed) XNNPACK path; see chooseMatMulPlan. */
export type MatMulPlan = 'transpose-inputs' | 'transpose-output';

/**
 * Picks the cheaper of two ways to compute op(A)·op(B) (A is [M, K] after op, B is [K, N] after op) with plain products
 * only, counting floats moved: 'transpose-inputs' materialises op(A) and op(B) and multiplies; 'transpose-output'
 * computes (op(B)ᵀ·op(A)ᵀ)ᵀ, where op(B)ᵀ and op(A)ᵀ are the stored tensors themselves when they were to be transposed.
 * Either way XNNPACK packs the right-hand operand ([K, N] or [K, M]) on every call, since gradients and updated weights
 * are new buffers each step. For a Dense layer's input gradient dy·Wᵀ (M = batch, K·N = the weight) this turns two
 * passes over the weight plus a transpose of it into a transpose of the small dy and of the output: [64,784]·[784,1024]ᵀ
 * 11.1 → 4 ms here.
 */
export function chooseMatMulPlan(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): MatMulPlan {
  const transposeInputs = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + k * n;
  const transposeOutput = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + k * m + m * n;
  return transposeOutput < transposeInputs ? 'transpose-output' : 'transpose-inputs';
}

function transposeFirstMatMul(original: tf.KernelConfig, aName: string, bName: string, tA: string, tB: string): tf.KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const transposeA = attrs[tA] === true;
    const transposeB = attrs[tB] === true;
    if (!transposeA && !transposeB) return original.kernelFunc({ inputs, backend, attrs });
    const kb = backend as KernelBackend;
    return withTemporaries(kb, (keep) => {
      const flip = (x: TensorInfo): TensorInfo => keep(runKernel('Transpose', { x }, kb, { perm: swapLastTwo(x.shape.length) }));
      const a = inputs[aName]!;
      const b = inputs[bName]!;
      const rank = a.shape.length;
      const batch = (x: TensorInfo) => x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
      const m = a.shape[rank - (transposeA ? 1 : 2)]!;
      const k = a.shape[rank - (transposeA ? 2 : 1)]!;
      const n = b.shape[b.shape.length - (transposeB ? 2 : 1)]!;
      // A fused kernel's bias and activation apply to the product as laid out, and batched products take the slow
      // non-XNNPACK path whatever the layout, so only an unfused single product is ever computed transposed.
      const unfused = inputs.bias === undefined && inputs.preluActivationWeights === undefined
        && (attrs.activation === undefined || attrs.activation === 'linear');
      const plan = unfused && batch(a) === 1 && batch(b) === 1 ? chooseMatMulPlan(m, k, n, transposeA, transposeB) : 'transpose-inputs';
      if (plan === 'transpose-inputs') {
        return original.kernelFunc({
          inputs: { ...inputs, [aName]: transposeA ? flip(a) : a, [bName]: transposeB ? flip(b) : b },
          backend,
          attrs: { ...attrs, [tA]: false, [tB]: false },
        });
      }
      const left = transposeB ? b : flip(b); // op(B)ᵀ [N, K]
      const right = transposeA ? a : flip(a); // op(A)ᵀ [K, M]
      const productT = keep(original.kernelFunc({
        inputs: { ...inputs, [aName]: left, [bName]: right }, backend, attrs: { ...attrs, [tA]: false, [tB]: false },
      }) as TensorInfo); // [.., N, M]
      return runKernel('Transpose', { x: productT }, kb, { perm: swapLastTwo(productT.shape.length) });
    });
  };
}

/** The wasm backend's methods for allocating a tensor and viewing its bytes in the wasm heap (public, untyped in tfjs). */
interface WasmHeapBackend extends KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** op(a)·op(b) for 2-D a, b on the unwrapped XNNPACK product, laid out by chooseMatMulPlan. Caller disposes. */
function planMatMul(kb: KernelBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const a3 = runKernel('Reshape', { x: a }, kb, { shape: [1, ...a.shape] });
  const b3 = runKernel('Reshape', { x: b }, kb, { shape: [1, ...b.shape] });
  try {
    const product = transposeFirstMatMul(originalKernel('BatchMatMul'), 'a', 'b', 'transposeA', 'transposeB')({
      inputs: { a: a3, b: b3 }, backend: kb, attrs: { transposeA, transposeB },
    }) as TensorInfo;
    const out = runKernel('Reshape', { x: product }, kb, { shape: product.shape.slice(1) });
    kb.disposeData(product.dataId);
    return out;
  } finally {
    kb.disposeData(a3.dataId);
    kb.disposeData(b3.dataId);
  }
}

/** The geometry both conv gradients share; `x` is the conv's input shape. */
function convGeometry(xShape: number[], filterShape: [number, number, number, number], attrs: Attrs, kernel: string) {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== 'NHWC') throw new Error(`${kernel} (ganforge wasm kernel) supports dataFormat NHWC only, got ${dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return {
    batch: info.batchSize, h: info.inHeight, w: info.inWidth, c: info.inChannels, o: info.outChannels,
    kh: info.filterHeight, kw: info.filterWidth, sh: info.strideHeight, sw: info.strideWidth,
    oh: info.outHeight, ow: info.outWidth, top: info.padInfo.top, left: info.padInfo.left,
  };
}
type ConvGeometry = ReturnType<typeof convGeometry>;

/**
 * im2col: cols[(b, y, x), (i, j, c)] = x[b, y·sh + i − top, x·sw + j − left, c], 0 outside the image. The (i, j, c)
 * order is the HWIO filter's, so products with cols reshape straight to and from the filter. Written in JS on the
 * wasm heap: runs of C channels are contiguous on both sides, one copyWithin each (a plain loop when C is small).
 */
function im2col(kb: WasmHeapBackend, x: TensorInfo, g: ConvGeometry): TensorInfo {
  const { batch, h, w, c, kh, kw, sh, sw, oh, ow, top, left } = g;
  const cols = kb.makeOutput([batch * oh * ow, kh * kw * c], 'float32');
  const heap = kb.typedArrayFromHeap(cols) as Float32Array;
  const all = new Float32Array(heap.buffer);
  const src = (kb.typedArrayFromHeap(x) as Float32Array).byteOffset >> 2;
  const dst = heap.byteOffset >> 2;
  let d = dst;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        for (let i = 0; i < kh; i++) {
          const iy = y * sh + i - top;
          if (iy < 0 || iy >= h) { all.fill(0, d, d + kw * c); d += kw * c; continue; }
          for (let j = 0; j < kw; j++) {
            const ix = xo * sw + j - left;
            if (ix < 0 || ix >= w) { all.fill(0, d, d + c); d += c; continue; }
            const s = src + ((b * h + iy) * w + ix) * c;
            if (c < 16) for (let k = 0; k < c; k++) all[d + k] = all[s + k]!;
            else all.copyWithin(d, s, s + c);
            d += c;
          }
        }
      }
    }
  }
  return cols;
}

/** col2im, the adjoint of im2col: dx[b, y·sh + i − top, x·sw + j − left, c] += cols[(b, y, x), (i, j, c)]. */
function col2im(kb: WasmHeapBackend, cols: TensorInfo, g: ConvGeometry): TensorInfo {
  const { batch, h, w, c, kh, kw, sh, sw, oh, ow, top, left } = g;
  const dx = kb.makeOutput([batch, h, w, c], 'float32');
  const out = kb.typedArrayFromHeap(dx) as Float32Array;
  const all = new Float32Array(out.buffer);
  out.fill(0);
  const o0 = out.byteOffset >> 2;
  let s = (kb.typedArrayFromHeap(cols) as Float32Array).byteOffset >> 2;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        for (let i = 0; i < kh; i++) {
          const iy = y * sh + i - top;
          if (iy < 0 || iy >= h) { s += kw * c; continue; }
          for (let j = 0; j < kw; j++) {
            const ix = xo * sw + j - left;
            if (ix >= 0 && ix < w) {
              const d = o0 + ((b * h + iy) * w + ix) * c;
              for (let k = 0; k < c; k++) all[d + k]! += all[s + k]!;
            }
            s += c;
          }
        }
      }
    }
  }
  return dx;
}

/**
 * dW[i, j, c, o] = Σ_{b, y, x} xPadded[b, y·s + i, x·s + j, c] · dy[b, y, x, o] = colsᵀ · dy, reshaped to HWIO.
 * The product's layout is chosen by chooseMatMulPlan (for the DCGAN's 64→128 conv it multiplies dyᵀ · cols and
 * transposes the small [128, 1024] result, instead of transposing the [3136, 1024] cols).
 */
const conv2dBackpropFilterKernel: tf.KernelFunc = ({ inputs, backend, attrs = {} }) => {
  const kb = backend as WasmHeapBackend;
  const x = inputs.x!;
  const dy = inputs.dy!;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('Conv2DBackpropFilter (ganforge wasm kernel) supports float32 only');
  const { filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const g = convGeometry(x.shape, filterShape, attrs, 'Conv2DBackpropFilter');
  return withTemporaries(kb, (keep) => {
    const cols = keep(im2col(kb, x, g)); // [B·OH·OW, KH·KW·C]
    const dy2d = keep(runKernel('Reshape', { x: dy }, kb, { shape: [g.batch * g.oh * g.ow, g.o] }));
    const product = keep(planMatMul(kb, cols, dy2d, true, false)); // [KH·KW·C, O]
    return runKernel('Reshape', { x: product }, kb, { shape: [g.kh, g.kw, g.c, g.o] });
  });
};

/**
 * dx = col2im(dy · Wᵀ) with W reshaped to [KH·KW·C, O]: one XNNPACK product and a scatter-add in JS. The wasm build's
 * own kernel is a direct loop: 460 ms for the DCGAN's [64,7,7,128] → [64,14,14,64] (k4 s2) against ~30 ms here.
 */
const conv2dBackpropInputKernel: tf.KernelFunc = ({ inputs, backend, attrs = {} }) => {
  const kb = backend as WasmHeapBackend;
  const dy = inputs.dy!;
  const filter = inputs.filter!;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') throw new Error('Conv2DBackpropInput (ganforge wasm kernel) supports float32 only');
  const { inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const g = convGeometry(inputShape, filter.shape as [number, number, number, number], attrs, 'Conv2DBackpropInput');
  return withTemporaries(kb, (keep) => {
    const dy2d = keep(runKernel('Reshape', { x: dy }, kb, { shape: [g.batch * g.oh * g.ow, g.o] }));
    const w2d = keep(runKernel('Reshape', { x: filter }, kb, { shape: [g.kh * g.kw * g.c, g.o] }));
    const cols = keep(planMatMul(kb, dy2d, w2d, false, true)); // [B·OH·OW, KH·KW·C]
    return col2im(kb, cols, g);
  });
};

/**
 * Tile as block copies on the wasm heap: each output row (last axis) is the matching input row repeated, copied with
 * copyWithin. The wasm build's kernel computes an index per element: 84 ms to tile BatchNorm's [1,1,1,64] over
 * [64,14,14,1] in the DCGAN generator's gradient. Non-float32 dtypes keep the original kernel.
 */
function tileKernel(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x!;
    const { reps } = args.attrs as unknown as tf.TileAttrs;
    if (x.dtype !== 'float32' || x.shape.length === 0) return original.kernelFunc(args);
    const kb = args.backend as WasmHeapBackend;
    const rank = x.shape.length;
    const outShape = x.shape.map((d, i) => d * reps[i]!);
    const out = kb.makeOutput(outShape, 'float32');
    const outView = kb.typedArrayFromHeap(out) as Float32Array;
    if (outView.length === 0) return out;
    const all = new Float32Array(outView.buffer);
    const src = (kb.typedArrayFromHeap(x) as Float32Array).byteOffset >> 2;
    const rowIn = x.shape[rank - 1]!;
    const rowOut = outShape[rank - 1]!;
    const rows = outView.length / rowOut;
    const index = new Array<number>(rank - 1).fill(0); // the output row's index over the leading axes
    let d = outView.byteOffset >> 2;
    for (let r = 0; r < rows; r++) {
      let inRow = 0;
      for (let a = 0; a < rank - 1; a++) inRow = inRow * x.shape[a]! + index[a]! % x.shape[a]!;
      const s = src + inRow * rowIn;
      for (let t = 0; t < rowOut; t += rowIn) {
        if (rowIn < 16) for (let k = 0; k < rowIn; k++) all[d + t + k] = all[s + k]!;
        else all.copyWithin(d + t, s, s + rowIn);
      }
      d += rowOut;
      for (let a = rank - 2; a >= 0; a--) {
        if (++index[a]! < outShape[a]!) break;
        index[a] = 0;
      }
    }
    return out;
  };
}

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
  return withTemporaries(kb, (keep) => {
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
  });
};

/** The fused Adam kernel's name (ours; tfjs has no such kernel). */
export const ADAM_KERNEL = 'GanforgeAdamUpdate';

/** AdamOptimizer.prototype.applyGradients as tfjs shipped it, while ours is installed. */
let originalApplyGradients: ApplyGradients | null = null;

/** The fields of tfjs's AdamOptimizer that its update reads and writes (private in its typings). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  incrementIterations(): void;
}

/**
 * tfjs's AdamOptimizer.applyGradients with the same state (moments as `${name}/m` and `/v` variables, accBeta1/2, the
 * iteration count), so getWeights/setWeights and checkpoints are unchanged, but each variable's update is one
 * GanforgeAdamUpdate instead of ~12 elementwise kernels with a buffer each (MLP GAN, 2.0 M parameters: 33 → 11 ms a
 * step). Other backends, and gradients that are not float32, take tfjs's own path.
 */
function fusedApplyGradients(this: tf.AdamOptimizer, variableGradients: ApplyGradientsArg): void {
  const original = originalApplyGradients!;
  const grads: { name: string; tensor: tf.Tensor }[] = Array.isArray(variableGradients)
    ? variableGradients.map((g) => ({ name: g.name, tensor: g.tensor }))
    : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
  if (tf.getBackend() !== BACKEND || grads.some((g) => g.tensor.dtype !== 'float32')) {
    original.call(this, variableGradients);
    return;
  }
  const self = this as unknown as AdamState;
  const accBeta1 = self.accBeta1.dataSync()[0]!;
  const accBeta2 = self.accBeta2.dataSync()[0]!;
  tf.tidy(() => {
    grads.forEach(({ name, tensor: gradient }, i) => {
      const value: tf.Variable = tf.engine().registeredVariables[name]!;
      self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      const m = self.accumulatedFirstMoment[i].variable;
      const v = self.accumulatedSecondMoment[i].variable;
      const attrs: Attrs = { learningRate: self.learningRate, beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon, accBeta1, accBeta2 };
      const [x2, m2, v2] = tf.engine().runKernel<tf.Tensor[]>(ADAM_KERNEL, { x: value, m, v, g: gradient }, attrs);
      m.assign(m2!);
      v.assign(v2!);
      value.assign(x2!);
    });
    self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
    self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
  });
  self.incrementIterations();
}

/**
 * m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², x' = x − lr·(m'/(1−β1ᵗ)) / (√(v'/(1−β2ᵗ)) + ε): tfjs's formula, in one
 * JS pass over the wasm heap (in double precision, rounded once to float32), into three new buffers.
 */
const adamUpdateKernel: tf.KernelFunc = ({ inputs, backend, attrs = {} }) => {
  const kb = backend as WasmHeapBackend;
  const { x, m, v, g } = inputs as { x: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo };
  const { learningRate, beta1, beta2, epsilon, accBeta1, accBeta2 } = attrs as Record<string, number>;
  const outs = [x, m, v].map((t) => kb.makeOutput([...t.shape], 'float32'));
  const view = (t: TensorInfo) => (kb.typedArrayFromHeap(t) as Float32Array).byteOffset >> 2;
  const all = new Float32Array((kb.typedArrayFromHeap(outs[0]!) as Float32Array).buffer);
  const [x0, m0, v0, g0, xo, mo, vo] = [x, m, v, g, ...outs].map(view) as [number, number, number, number, number, number, number];
  const n = tf.util.sizeFromShape(x.shape);
  const b1 = beta1!, b2 = beta2!, c1 = 1 - b1, c2 = 1 - b2;
  const step = learningRate! / (1 - accBeta1!);
  const vScale = 1 / (1 - accBeta2!);
  const eps = epsilon!;
  for (let i = 0; i < n; i++) {
    const gi = all[g0 + i]!;
    const mi = b1 * all[m0 + i]! + c1 * gi;
    const vi = b2 * all[v0 + i]! + c2 * gi * gi;
    all[mo + i] = mi;
    all[vo + i] = vi;
    all[xo + i] = all[x0 + i]! - (step * mi) / (Math.sqrt(vi * vScale) + eps);
  }
  return outs;
};
