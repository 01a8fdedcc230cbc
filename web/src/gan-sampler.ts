// <gan-sampler>: a generator grid embeddable with one script tag. Attributes mirror /generate's query
// (model, class, truncation, truncation-mode, seed, n, and mix-seed / mix-from for a style-mixing model); changing any of them re-renders, and a bad value shows its
// message in place of the grid instead of breaking the page. Inference runs in a Web Worker (see generator.ts), and
// the element says which execution provider runs it: the `backend` property, the text under the grid, and a `backend`
// field in its 'sampling' and 'render' events.

import { GanforgeError } from '../../common/errors.ts';
import { drawToCanvas } from './draw.ts';
import { loadGenerator, type GenerateResult, type Generator, type LoadGeneratorOptions } from './generator.ts';
import type { Backend } from './ort-web.ts';
import type { InferenceThread } from './runner.ts';

export const GAN_SAMPLER_ATTRIBUTES = ['model', 'class', 'truncation', 'truncation-mode', 'seed', 'n', 'mix-seed', 'mix-from', 'scale'] as const;

/** Detail of the 'sampling' event, sent when a grid's inference is requested (after the model is loaded). */
export interface GanSamplerSamplingDetail {
  /** Images requested. */
  n: number;
  /** The execution provider that runs the model. */
  backend: Backend;
  /** Where inference runs: 'worker' unless the page cannot start one. */
  thread: InferenceThread;
}

/** Detail of the 'render' event. */
export interface GanSamplerRenderDetail {
  result: GenerateResult;
  /** Milliseconds spent in generate() (sampling + inference). */
  ms: number;
  generator: Generator;
  /** The execution provider that ran the model. */
  backend: Backend;
  thread: InferenceThread;
}

// Elements showing the same model share one download and one session.
const generators = new Map<string, Promise<Generator>>();

/** Loads (once per URL) the generator that <gan-sampler> elements use; exposed so a page can warm it up. */
export function sharedGenerator(url: string, options: LoadGeneratorOptions = {}): Promise<Generator> {
  let pending = generators.get(url);
  if (pending === undefined) {
    pending = loadGenerator(url, options);
    generators.set(url, pending);
    // A failed load is not cached: the next attribute change retries.
    pending.catch(() => generators.delete(url));
  }
  return pending;
}

/** Registers the element under `tag` (once); a no-op outside a browser. */
export function defineGanSampler(tag = 'gan-sampler'): void {
  if (typeof customElements === 'undefined' || customElements.get(tag) !== undefined) return;

  class GanSampler extends HTMLElement {
    static get observedAttributes(): readonly string[] {
      return GAN_SAMPLER_ATTRIBUTES;
    }

    private readonly canvas: HTMLCanvasElement;
    private readonly message: HTMLElement;
    private renderId = 0;
    private scheduled = false;

    constructor() {
      super();
      const root = this.attachShadow({ mode: 'open' });
      root.innerHTML = `<style>
        :host { display: inline-block; }
        canvas { display: block; image-rendering: pixelated; }
        [part=message] { font: 13px/1.4 system-ui, sans-serif; color: #b3261e; max-width: 36em; }
        [part=message]:empty { display: none; }
        [part=backend] { font: 11px/1.4 system-ui, sans-serif; color: #5f6368; }
        [part=backend]:empty { display: none; }
      </style><canvas part="grid"></canvas><div part="backend"></div><div part="message" role="alert"></div>`;
      this.canvas = root.querySelector('canvas')!;
      this.backendLabel = root.querySelector('[part=backend]')!;
      this.message = root.querySelector('[part=message]')!;
    }

    private readonly backendLabel: HTMLElement;

    /** The execution provider of the loaded model ('webgpu' or 'wasm'), undefined until one has loaded. */
    get backend(): Backend | undefined {
      return this.generator?.info.backend;
    }

    private generator: Generator | undefined;

    connectedCallback(): void {
      this.scheduleRender();
    }

    attributeChangedCallback(): void {
      if (this.isConnected) this.scheduleRender();
    }

    /** The last drawn result, for scripts that want the values. */
    result: GenerateResult | undefined;

    /** Coalesces attribute changes made in one task (setting four attributes renders once). */
    private scheduleRender(): void {
      if (this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        void this.render();
      });
    }

    private async render(): Promise<void> {
      const id = ++this.renderId;
      const model = this.getAttribute('model');
      if (model === null || model === '') {
        this.showError(new GanforgeError('INVALID_PARAMETER', "<gan-sampler> needs a 'model' attribute, e.g. model=\"/models/default.onnx\"", { parameter: 'model' }));
        return;
      }
      try {
        const generator = await sharedGenerator(model);
        this.showBackend(generator);
        const attr = (name: string) => this.getAttribute(name) ?? undefined;
        // Attribute values are strings, exactly like a query string: the shared parser validates them.
        const raw = { n: attr('n'), seed: attr('seed') ?? '0', class: attr('class'), truncation: attr('truncation'), truncationMode: attr('truncation-mode'), mixSeed: attr('mix-seed'), mixFrom: attr('mix-from') };
        const params = generator.parseRequest(raw);
        const { backend, thread } = generator.info;
        this.dispatchEvent(new CustomEvent<GanSamplerSamplingDetail>('sampling', { detail: { n: params.n, backend, thread } }));
        const started = performance.now();
        const result = await generator.generateParsed(params);
        const ms = performance.now() - started;
        if (id !== this.renderId) return; // a newer render superseded this one
        drawToCanvas(this.canvas, result);
        const scale = Number(this.getAttribute('scale') ?? '3');
        this.canvas.style.width = `${this.canvas.width * (Number.isFinite(scale) && scale > 0 ? scale : 3)}px`;
        this.message.textContent = '';
        this.result = result;
        this.dispatchEvent(new CustomEvent<GanSamplerRenderDetail>('render', { detail: { result, ms, generator, backend, thread } }));
      } catch (error) {
        if (id === this.renderId) this.showError(error);
      }
    }

    private showBackend(generator: Generator): void {
      if (this.generator === generator) return;
      this.generator = generator;
      const { backend, threads, thread, fallbackReason } = generator.info;
      this.backendLabel.textContent = `${backend}${backend === 'wasm' ? ` · ${threads} thread${threads === 1 ? '' : 's'}` : ''}${thread === 'worker' ? ' · in a worker' : ''}`;
      this.backendLabel.title = fallbackReason ?? '';
    }

    private showError(error: unknown): void {
      this.message.textContent = error instanceof Error ? error.message : String(error);
      this.dispatchEvent(new CustomEvent('error', { detail: error }));
    }
  }

  customElements.define(tag, GanSampler);
}
