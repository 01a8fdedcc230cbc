// The demo page's behaviour: pick a model and parameters, see the grid follow the controls, compare in-browser and
// server generation, animate a latent interpolation. Every failure is shown in the page and the page keeps working.
// Query parameters preset the controls (?model=&class=&truncation=&seed=&n=&mixSeed=&mixFrom=&mode=) and the runtime (?threads=&backend=).

import {
  defaultMixFrom,
  drawToCanvas,
  loadGenerator,
  toPngBlob,
  type Backend,
  type GenerateResult,
  type Generator,
  type ImageBatch,
} from '../src/ganforge.ts';

interface ModelEntry {
  name: string;
  url: string;
  classes: string[] | null;
  family: string | null;
}

type Mode = 'browser' | 'server';

/** What the page exposes for tests and the benchmark (window.ganforgeDemo). */
export interface DemoHooks {
  /** The batch on the grid now, with the mode that produced it. */
  lastResult: (ImageBatch & { mode: Mode; seed: number }) | undefined;
  /** Milliseconds from navigation start to the first grid drawn. */
  firstGridMs: number | undefined;
  /** Grids drawn so far. */
  renders: number;
  /** The generator running in the page, once loaded. */
  generator: Generator | undefined;
  /** Time of the last render in each mode, in milliseconds. */
  timings: Partial<Record<Mode, number>>;
}

declare global {
  interface Window {
    ganforgeDemo: DemoHooks;
  }
}

const hooks: DemoHooks = { lastResult: undefined, firstGridMs: undefined, renders: 0, generator: undefined, timings: {} };
window.ganforgeDemo = hooks;

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`demo page is missing #${id}`);
  return element as T;
};
const ui = {
  status: $<HTMLParagraphElement>('status'),
  error: $<HTMLDivElement>('error'),
  model: $<HTMLSelectElement>('model'),
  modelInfo: $<HTMLParagraphElement>('model-info'),
  classSelect: $<HTMLSelectElement>('class'),
  truncation: $<HTMLInputElement>('truncation'),
  truncationValue: $<HTMLOutputElement>('truncation-value'),
  mixing: $<HTMLFieldSetElement>('mixing'),
  mixSeed: $<HTMLInputElement>('mix-seed'),
  mixFrom: $<HTMLInputElement>('mix-from'),
  mixFromValue: $<HTMLOutputElement>('mix-from-value'),
  seed: $<HTMLInputElement>('seed'),
  reseed: $<HTMLButtonElement>('reseed'),
  n: $<HTMLInputElement>('n'),
  controls: $<HTMLFormElement>('controls'),
  timeBrowser: $<HTMLElement>('time-browser'),
  timeServer: $<HTMLElement>('time-server'),
  download: $<HTMLButtonElement>('download'),
  grid: $<HTMLCanvasElement>('grid'),
  interp: $<HTMLCanvasElement>('interp'),
  interpFrom: $<HTMLInputElement>('interp-from'),
  interpTo: $<HTMLInputElement>('interp-to'),
  interpPlay: $<HTMLButtonElement>('interp-play'),
};

const query = new URLSearchParams(location.search);
const runtime = {
  numThreads: Number(query.get('threads') ?? '0') || 0,
  backend: (['webgpu', 'wasm'].includes(query.get('backend') ?? '') ? query.get('backend') : 'auto') as Backend | 'auto',
};

let models: ModelEntry[] = [];
let generator: Generator | undefined;
let loadToken = 0;

function showError(error: unknown): void {
  ui.error.textContent = error instanceof Error ? error.message : String(error);
  ui.error.hidden = false;
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

function mode(): Mode {
  return (ui.controls.querySelector<HTMLInputElement>('input[name=mode]:checked')?.value ?? 'browser') as Mode;
}

function currentModel(): ModelEntry | undefined {
  return models.find((m) => m.url === ui.model.value);
}

/** The controls as /generate's query: strings, validated by the same parser on both sides. */
function requestQuery(): Record<string, string> {
  const raw: Record<string, string> = { n: ui.n.value.trim(), seed: ui.seed.value.trim(), truncation: ui.truncation.value };
  if (ui.classSelect.value !== '') raw.class = ui.classSelect.value;
  // Style mixing, for a model that has it (the fieldset is shown only then) and once a mix seed is given.
  if (!ui.mixing.hidden && ui.mixSeed.value.trim() !== '') {
    raw.mixSeed = ui.mixSeed.value.trim();
    raw.mixFrom = ui.mixFrom.value;
  }
  return raw;
}

async function listModels(): Promise<ModelEntry[]> {
  const wanted = query.get('model');
  try {
    const response = await fetch('/models');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = (await response.json()) as { default: string | null; models: { name: string; url: string; family: string; classes: string[] | null }[] };
    const listed: ModelEntry[] = body.models.map((m) => ({ name: m.name, url: m.url, classes: m.classes, family: m.family }));
    // The default model first, so it is what the page opens with.
    listed.sort((a, b) => Number(b.name === body.default) - Number(a.name === body.default));
    if (wanted !== null && !listed.some((m) => m.url === wanted || m.name === wanted)) listed.unshift(entryFromUrl(wanted));
    return listed;
  } catch (error) {
    // A static host has no /models; a ?model= URL still works there.
    if (wanted !== null) return [entryFromUrl(wanted)];
    throw new Error(`could not list models from /models (${(error as Error).message}); open the page with ?model=<url of an .onnx>`, { cause: error });
  }
}

function entryFromUrl(url: string): ModelEntry {
  const name = url.includes('/') || url.endsWith('.onnx') ? url.split('/').pop()!.replace(/\.onnx$/, '') : url;
  return { name, url: url.includes('/') || url.endsWith('.onnx') ? url : `/models/${url}.onnx`, classes: null, family: null };
}

function fillClasses(classes: string[] | null): void {
  const previous = ui.classSelect.value || query.get('class') || '';
  ui.classSelect.replaceChildren();
  if (classes === null) {
    ui.classSelect.append(new Option('— (unconditional model)', ''));
    ui.classSelect.disabled = true;
    return;
  }
  ui.classSelect.disabled = false;
  ui.classSelect.append(new Option('all classes in turn', ''));
  classes.forEach((name, index) => ui.classSelect.append(new Option(`${index} · ${name}`, String(index))));
  const byName = classes.findIndex((c) => c.toLowerCase() === previous.toLowerCase());
  ui.classSelect.value = byName >= 0 ? String(byName) : Number(previous) < classes.length ? previous : '';
}

async function selectModel(): Promise<void> {
  const entry = currentModel();
  if (entry === undefined) return;
  const token = ++loadToken;
  // Each generator holds a worker and its session: free the old one (its queued calls finish first).
  const previous = generator;
  generator = hooks.generator = undefined;
  void previous?.dispose().catch(() => {});
  fillClasses(entry.classes);
  ui.modelInfo.textContent = entry.family === null ? '' : `${entry.family}`;
  ui.status.textContent = `Loading ${entry.name}…`;
  requestRender(); // server mode does not need the download
  try {
    const loaded = await loadGenerator(entry.url, {
      numThreads: runtime.numThreads,
      backend: runtime.backend,
      onProgress: ({ loaded: bytes, total }) => {
        if (token === loadToken) ui.status.textContent = `Loading ${entry.name}… ${total === null ? `${(bytes / 1024).toFixed(0)} KiB` : `${Math.round((100 * bytes) / total)}%`}`;
      },
    });
    if (token !== loadToken) {
      void loaded.dispose();
      return;
    }
    generator = hooks.generator = loaded;
    const { info } = loaded;
    if (entry.classes === null && info.classes !== null) fillClasses(info.classes);
    entry.classes = info.classes;
    // Which convention the truncation slider follows for this model (common/truncation.ts TRUNCATION_KINDS).
    const kind = info.manifest.truncation?.kind ?? 'latent';
    const truncation = kind === 'w-space' ? 'truncation ψ in w space' : kind === 'temperature' ? 'truncation = temperature' : 'truncation on z';
    ui.modelInfo.textContent = `${info.family} · ${info.imageShape.join('×')} · latent ${info.latentDim} · ${truncation}`;
    // The mixing controls, sized to the model's synthesis layers (common/style-mixing.ts).
    const mixing = info.manifest.styleMixing;
    ui.mixing.hidden = mixing === undefined;
    if (mixing !== undefined) {
      ui.mixFrom.max = String(mixing.layers);
      if (query.get('mixFrom') === null || Number(ui.mixFrom.value) > mixing.layers) ui.mixFrom.value = String(defaultMixFrom(mixing.layers));
      ui.mixFromValue.textContent = ui.mixFrom.value;
    }
    ui.status.textContent = `${info.name} runs in this page on ${info.backend}${info.backend === 'wasm' ? ` (${info.threads} thread${info.threads === 1 ? '' : 's'})` : ''}` +
      (info.thread === 'worker' ? ' · in a Web Worker' : '') + (crossOriginIsolated ? '' : ' · not cross-origin isolated');
    ui.status.title = info.fallbackReason ?? '';
    requestRender();
    if (animation !== undefined) stopInterpolation();
    void toggleInterpolation();
  } catch (error) {
    if (token !== loadToken) return;
    ui.status.textContent = `${entry.name} could not be loaded in the browser`;
    showError(error);
  }
}

let rendering = false;
let pending = false;

/** Coalesces control changes: at most one render runs, and the latest settings always get drawn. */
function requestRender(): void {
  if (rendering) {
    pending = true;
    return;
  }
  rendering = true;
  void (async () => {
    document.body.classList.add('busy');
    do {
      pending = false;
      await renderOnce();
    } while (pending);
    document.body.classList.remove('busy');
    rendering = false;
  })();
}

async function renderOnce(): Promise<void> {
  const entry = currentModel();
  if (entry === undefined) return;
  const selected = mode();
  const raw = requestQuery();
  try {
    let batch: ImageBatch & { seed: number };
    const started = performance.now();
    if (selected === 'browser') {
      if (generator === undefined) return; // still loading (or failed: that error is already shown)
      batch = await generator.generateParsed(generator.parseRequest(raw));
    } else {
      batch = await generateOnServer(entry, raw);
    }
    const ms = performance.now() - started;
    hooks.timings[selected] = ms;
    (selected === 'browser' ? ui.timeBrowser : ui.timeServer).textContent = `${ms.toFixed(1)} ms for ${batch.shape[0]}`;
    drawToCanvas(ui.grid, batch);
    hooks.lastResult = { ...batch, mode: selected };
    hooks.renders += 1;
    hooks.firstGridMs ??= performance.now();
    ui.download.disabled = false;
    clearError();
    document.dispatchEvent(new CustomEvent('ganforge:render', { detail: hooks.lastResult }));
  } catch (error) {
    showError(error);
  }
}

async function generateOnServer(entry: ModelEntry, raw: Record<string, string>): Promise<GenerateResult> {
  const params = new URLSearchParams({ model: entry.name, ...raw, format: 'json' });
  const response = await fetch(`/generate?${params}`);
  const body = (await response.json()) as Partial<GenerateResult> & { message?: string; data?: number[] };
  if (!response.ok) throw new Error(`server: ${body.message ?? `HTTP ${response.status}`}`);
  return { model: body.model!, seed: body.seed!, shape: body.shape!, range: body.range!, labels: body.labels ?? null, data: Float32Array.from(body.data!) };
}

function download(): void {
  const batch = hooks.lastResult;
  if (batch === undefined) return;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(toPngBlob(batch));
  link.download = `${currentModel()?.name ?? 'ganforge'}-seed${batch.seed}.png`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

let animation: ReturnType<typeof setInterval> | undefined;
let startingAnimation = false;

function stopInterpolation(): void {
  clearInterval(animation);
  animation = undefined;
  ui.interpPlay.textContent = 'Play';
}

async function toggleInterpolation(): Promise<void> {
  if (animation !== undefined) {
    stopInterpolation();
    return;
  }
  if (generator === undefined) {
    showError('interpolation runs in the browser: the model is not loaded here yet');
    return;
  }
  if (startingAnimation) return;
  startingAnimation = true;
  try {
    const frames = await generator.interpolate({
      from: Number(ui.interpFrom.value),
      to: Number(ui.interpTo.value),
      frames: 24,
      class: ui.classSelect.value === '' ? undefined : Number(ui.classSelect.value),
      truncation: Number(ui.truncation.value),
    });
    const [count, height, width, channels] = frames.shape;
    const size = height * width * channels;
    let step = 0;
    const show = () => {
      // Ping-pong: 0 … count−1 … 1, so the loop has no jump.
      const cycle = 2 * (count - 1);
      const k = step % cycle < count ? step % cycle : cycle - (step % cycle);
      drawToCanvas(ui.interp, { shape: [1, height, width, channels], range: frames.range, data: frames.data.subarray(k * size, (k + 1) * size) });
      step += 1;
    };
    show();
    animation = setInterval(show, 90);
    ui.interpPlay.textContent = 'Stop';
  } catch (error) {
    showError(error);
  } finally {
    startingAnimation = false;
  }
}

function presetControls(): void {
  const preset = (input: HTMLInputElement, key: string) => {
    const value = query.get(key);
    if (value !== null) input.value = value;
  };
  preset(ui.seed, 'seed');
  preset(ui.n, 'n');
  preset(ui.truncation, 'truncation');
  preset(ui.mixSeed, 'mixSeed');
  preset(ui.mixFrom, 'mixFrom');
  ui.mixFromValue.textContent = ui.mixFrom.value;
  if (query.get('mode') === 'server') ui.controls.querySelector<HTMLInputElement>('input[value=server]')!.checked = true;
  ui.truncationValue.textContent = Number(ui.truncation.value).toFixed(2);
}

async function main(): Promise<void> {
  presetControls();
  ui.controls.addEventListener('submit', (event) => event.preventDefault());
  for (const input of [ui.interpFrom, ui.interpTo]) {
    input.addEventListener('change', () => {
      if (animation === undefined) return;
      stopInterpolation();
      void toggleInterpolation();
    });
  }
  ui.controls.addEventListener('input', (event) => {
    if (event.target === ui.model) return;
    ui.truncationValue.textContent = Number(ui.truncation.value).toFixed(2);
    ui.mixFromValue.textContent = ui.mixFrom.value;
    requestRender();
  });
  ui.model.addEventListener('change', () => void selectModel());
  ui.reseed.addEventListener('click', () => {
    ui.seed.value = String(Math.floor(Math.random() * 2 ** 32));
    requestRender();
  });
  ui.download.addEventListener('click', download);
  ui.interpPlay.addEventListener('click', () => void toggleInterpolation());
  try {
    models = await listModels();
  } catch (error) {
    ui.status.textContent = 'No models';
    showError(error);
    return;
  }
  if (models.length === 0) {
    ui.status.textContent = 'No models';
    showError('the server has no models: export one into its models folder (ganforge export)');
    return;
  }
  for (const m of models) ui.model.append(new Option(m.family === null ? m.name : `${m.name} (${m.family})`, m.url));
  const wanted = query.get('model');
  const initial = models.find((m) => m.url === wanted || m.name === wanted) ?? models[0]!;
  ui.model.value = initial.url;
  await selectModel();
}

void main();
