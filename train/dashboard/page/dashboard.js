// The dashboard page: one card per run with its curves (Vega specs compiled by the server, rendered here by vega's
// browser build), config, latest grid, an animation of all grids and a stop-and-save button. One EventSource brings
// every change; new metric points are inserted into the live views, and a chart set is fetched again only when a run
// restarts, gains a new kind of curve, or has grown by enough points that the server should thin it again.
/* global vega, window, document, fetch, Image, EventSource, setInterval, clearInterval, setTimeout, console */

/** Points inserted into a run's views before its charts are fetched again (downsampled by the server). */
const RELOAD_AFTER_POINTS = 4000;
/** Milliseconds per frame of the grid animation. */
const FRAME_MS = 400;
/** Least milliseconds between two refreshes of the comparison while compared runs train (it is fetched whole). */
const COMPARE_REFRESH_MS = 5000;

const runsElement = document.getElementById('runs');
const cards = new Map();

/** Counters for tests and curious users (window.ganforgeDashboard in the console). */
const status = {
  connected: false,
  runEvents: 0,
  metricsEvents: 0,
  chartLoads: 0,
  compareLoads: 0,
  /** Points currently in a run's chart view (0 when there is no such chart). */
  pointCount(run, chartId) {
    const view = cards.get(run)?.views.get(chartId);
    return view ? view.data('points').length : 0;
  },
  runs() {
    return [...cards.keys()];
  },
};
window.ganforgeDashboard = status;

function element(tag, attributes = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'text') el.textContent = value;
    else if (key === 'className') el.className = value;
    else el.setAttribute(key, value);
  }
  for (const child of children) el.append(child);
  return el;
}

function runPath(name) {
  return `/api/runs/${encodeURIComponent(name)}`;
}

async function fetchJson(url, init) {
  const response = await fetch(url, init);
  const body = await response.json();
  if (!response.ok) throw new Error(body.message ?? `${response.status} ${response.statusText}`);
  return body;
}

function createCard(name) {
  const stop = element('button', { className: 'stop', type: 'button', text: 'Stop and save', disabled: '' });
  const stopResult = element('span', { className: 'stop-result' });
  const latest = element('img', { alt: `latest sample grid of ${name}`, className: 'latest-grid' });
  const latestCaption = element('figcaption');
  const animation = element('img', { alt: `sample grids of ${name} over time`, className: 'animation-grid' });
  const animationCaption = element('figcaption');
  const play = element('button', { type: 'button', text: '▶ play' });
  const select = element('input', { type: 'checkbox', className: 'compare-checkbox' });
  const slider = element('input', { type: 'range', min: '0', max: '0', value: '0' });
  const card = {
    name,
    summary: null,
    views: new Map(),
    loading: null,
    reloadAgain: false,
    sinceLoad: 0,
    /** Shown animation frame; Infinity = follow the newest grid. */
    frame: Infinity,
    timer: null,
    el: element('section', { className: 'run', 'data-run': name }),
    parts: {
      badge: element('span', { className: 'badge' }),
      step: element('span', { className: 'step' }),
      headline: element('span', { className: 'headline' }),
      stop, stopResult, latest, latestCaption, animation, animationCaption, play, slider,
      settings: element('table', { className: 'settings' }),
      charts: element('div', { className: 'charts' }),
    },
  };
  const p = card.parts;
  card.el.append(
    element('div', { className: 'run-head' }, [element('h2', { text: name }), p.badge, p.step, p.headline, element('label', { className: 'compare-select' }, [select, ' compare']), p.stopResult, p.stop]),
    element('div', { className: 'run-body' }, [
      p.charts,
      element('div', { className: 'side' }, [
        element('figure', { className: 'grid-figure' }, [latest, latestCaption]),
        element('figure', { className: 'grid-figure' }, [animation, animationCaption, element('div', { className: 'animation-controls' }, [play, slider])]),
        element('details', { className: 'config' }, [element('summary', { text: 'full config' }), p.settings]),
      ]),
    ]),
  );
  stop.addEventListener('click', () => void requestStop(card));
  play.addEventListener('click', () => toggleAnimation(card));
  select.addEventListener('change', () => {
    if (select.checked) compare.selected.add(name);
    else compare.selected.delete(name);
    void loadCompare();
  });
  slider.addEventListener('input', () => showFrame(card, Number(slider.value)));
  cards.set(name, card);
  document.getElementById('empty')?.remove();
  const after = [...cards.keys()].sort().find((other) => other > name);
  runsElement.insertBefore(card.el, after === undefined ? null : cards.get(after).el);
  void loadCharts(card);
  return card;
}

function sampleUrl(card, sample) {
  return `${runPath(card.name)}/samples/${encodeURIComponent(sample.name)}?v=${sample.version}`;
}

function applySummary(summary) {
  const card = cards.get(summary.name) ?? createCard(summary.name);
  card.summary = summary;
  const p = card.parts;
  p.badge.textContent = summary.active ? `training (pid ${summary.active.pid})` : 'stopped';
  p.badge.classList.toggle('training', Boolean(summary.active));
  p.step.textContent = `step ${summary.step}`;
  if (summary.active) p.stop.removeAttribute('disabled');
  else p.stop.setAttribute('disabled', '');
  p.headline.textContent = headline(summary);
  const rows = [['family', summary.family ?? '—'], ['backend', summary.backend ?? '—'], ...Object.entries(summary.settings).filter(([k]) => k !== 'family' && k !== 'backend')];
  p.settings.replaceChildren(...rows.map(([k, v]) => element('tr', {}, [element('td', { text: k }), element('td', { text: String(v) })])));
  const samples = summary.samples;
  if (samples.length > 0) {
    const last = samples[samples.length - 1];
    p.latest.src = sampleUrl(card, last);
    p.latestCaption.textContent = `latest grid: ${last.name}`;
  } else {
    p.latest.removeAttribute('src');
    p.latestCaption.textContent = 'no sample grid yet';
  }
  p.slider.max = String(Math.max(0, samples.length - 1));
  // Follow the newest grid unless the user is looking at an older one (or the animation plays).
  const following = card.timer === null && card.frame >= Number(p.slider.dataset.last ?? -1);
  p.slider.dataset.last = String(samples.length - 1);
  showFrame(card, following ? samples.length - 1 : Math.min(card.frame, samples.length - 1));
}

/** The settings a reader compares runs by, on one line: family · backend · optimizer · loss · learning rates · batch. */
function headline(summary) {
  const s = summary.settings;
  const optimizer = s['training.optimizer'] ?? s.optimizer;
  const parts = [summary.family, summary.backend, optimizer, s.loss, s['lr G'] === undefined ? undefined : `lr G ${s['lr G']} / D ${s['lr D']}`, s.batchSize === undefined ? undefined : `batch ${s.batchSize}`];
  return parts.filter((part) => part !== undefined && part !== null).join(' · ');
}

function showFrame(card, index) {
  const samples = card.summary?.samples ?? [];
  if (samples.length === 0) {
    card.parts.animationCaption.textContent = 'grids over time: none yet';
    return;
  }
  card.frame = Math.max(0, Math.min(index, samples.length - 1));
  const sample = samples[card.frame];
  card.parts.animation.src = sampleUrl(card, sample);
  card.parts.slider.value = String(card.frame);
  card.parts.animationCaption.textContent = `grids over time: ${card.frame + 1}/${samples.length} (${sample.name})`;
}

function toggleAnimation(card) {
  if (card.timer !== null) {
    clearInterval(card.timer);
    card.timer = null;
    card.parts.play.textContent = '▶ play';
    return;
  }
  const samples = card.summary?.samples ?? [];
  if (samples.length === 0) return;
  // Preload every frame so the animation does not stutter on the first pass.
  for (const sample of samples) new Image().src = sampleUrl(card, sample);
  card.parts.play.textContent = '❚❚ pause';
  if (card.frame >= samples.length - 1) showFrame(card, 0);
  card.timer = setInterval(() => {
    const count = card.summary?.samples.length ?? 0;
    showFrame(card, (card.frame + 1) % Math.max(count, 1));
  }, FRAME_MS);
}

/** Fetches and renders a run's charts; a request while one is in flight makes it run once more afterwards. */
async function loadCharts(card) {
  if (card.loading !== null) {
    card.reloadAgain = true;
    return card.loading;
  }
  card.loading = (async () => {
    do {
      card.reloadAgain = false;
      const { charts } = await fetchJson(`${runPath(card.name)}/charts`);
      const views = new Map();
      const containers = [];
      for (const chart of charts) {
        const container = element('div', { className: 'chart', 'data-chart': chart.id });
        containers.push(container);
        const view = new vega.View(vega.parse(chart.spec), { renderer: 'svg', container, hover: true });
        await view.runAsync();
        views.set(chart.id, view);
      }
      for (const view of card.views.values()) view.finalize();
      card.views = views;
      card.sinceLoad = 0;
      card.parts.charts.replaceChildren(...containers);
      status.chartLoads += 1;
    } while (card.reloadAgain);
  })().finally(() => { card.loading = null; });
  return card.loading;
}

/** The comparison of the ticked runs (two or more): one Vega view with every run on shared axes, and their grids. */
const compare = { selected: new Set(), view: null, loading: null, again: false, lastLoad: 0, timer: null };

async function loadCompare() {
  if (compare.loading !== null) {
    compare.again = true;
    return compare.loading;
  }
  compare.loading = (async () => {
    do {
      compare.again = false;
      const names = [...compare.selected].sort();
      const section = document.getElementById('compare');
      if (names.length < 2) {
        section.hidden = true;
        compare.view?.finalize();
        compare.view = null;
        continue;
      }
      const body = await fetchJson(`/api/compare?${names.map((n) => `runs=${encodeURIComponent(n)}`).join('&')}`);
      const container = element('div', { className: 'chart' });
      const view = new vega.View(vega.parse(body.spec), { renderer: 'svg', container, hover: true });
      await view.runAsync();
      compare.view?.finalize();
      compare.view = view;
      document.getElementById('compare-chart').replaceChildren(container);
      document.getElementById('compare-runs').textContent = body.runs.map((r) => r.label).join(' vs ');
      document.getElementById('compare-grids').replaceChildren(...body.runs.map((r) => {
        const samples = cards.get(r.name)?.summary?.samples ?? [];
        const last = samples[samples.length - 1];
        const img = element('img', { alt: `latest sample grid of ${r.name}` });
        if (last !== undefined) img.src = sampleUrl(cards.get(r.name), last);
        return element('figure', { className: 'grid-figure' }, [img, element('figcaption', { text: last === undefined ? `${r.label}: no grid yet` : `${r.label}: ${last.name}` })]);
      }));
      section.hidden = false;
      status.compareLoads += 1;
    } while (compare.again);
  })().finally(() => {
    compare.loading = null;
    compare.lastLoad = Date.now();
  });
  return compare.loading;
}

/** A compared run logged more: refresh the comparison, at most once per COMPARE_REFRESH_MS. */
function compareMayBeStale(run) {
  if (!compare.selected.has(run) || compare.selected.size < 2 || compare.timer !== null) return;
  compare.timer = setTimeout(() => {
    compare.timer = null;
    void loadCompare();
  }, Math.max(0, COMPARE_REFRESH_MS - (Date.now() - compare.lastLoad)));
}

async function applyMetrics(update) {
  compareMayBeStale(update.run);
  const card = cards.get(update.run);
  if (card === undefined) return; // its summary (and so its card) comes first; the card loads the charts itself
  card.parts.step.textContent = `step ${update.step}`;
  const ids = Object.keys(update.points);
  if (update.reset || card.loading !== null || ids.some((id) => !card.views.has(id)) || card.sinceLoad > RELOAD_AFTER_POINTS) {
    await loadCharts(card);
    return;
  }
  await Promise.all(ids.map((id) => {
    const points = update.points[id];
    card.sinceLoad += points.length;
    return card.views.get(id).insert('points', points).runAsync();
  }));
}

async function requestStop(card) {
  card.parts.stop.setAttribute('disabled', '');
  card.parts.stopResult.textContent = 'asking the training process to save and stop…';
  try {
    const result = await fetchJson(`${runPath(card.name)}/stop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    card.parts.stopResult.textContent = `sent ${result.via} to pid ${result.pid}: it saves a checkpoint and exits`;
  } catch (error) {
    card.parts.stopResult.textContent = `not stopped: ${error.message}`;
    if (card.summary?.active) card.parts.stop.removeAttribute('disabled');
  }
}

async function loadRuns() {
  const { runsDir, runs } = await fetchJson('/api/runs');
  document.getElementById('runs-dir').textContent = runsDir;
  for (const summary of runs) applySummary(summary);
}

function connect() {
  const connection = document.getElementById('connection');
  const events = new EventSource('/api/events');
  // Events are handled one after another, so a metrics update never overtakes the summary that created its card.
  let queue = Promise.resolve();
  const handle = (fn) => (message) => {
    queue = queue.then(() => fn(JSON.parse(message.data))).catch((error) => console.error(error));
  };
  events.addEventListener('hello', handle(async () => {
    status.connected = true;
    connection.textContent = 'live';
    connection.classList.add('live');
    await loadRuns();
  }));
  events.addEventListener('run', handle((summary) => {
    status.runEvents += 1;
    applySummary(summary);
  }));
  events.addEventListener('metrics', handle(async (update) => {
    await applyMetrics(update);
    status.metricsEvents += 1;
  }));
  events.addEventListener('error', () => {
    status.connected = false;
    connection.textContent = 'reconnecting…';
    connection.classList.remove('live');
  });
}

connect();
