// bench/soak.ts: the request mix gets exactly the statuses it expects from a real server (unconditional and
// conditional models), and the memory verdict judges growth after the warm-up only.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REVALIDATED_PATH, memoryVerdict, soakRequest, type MemorySample } from '../../bench/soak.ts';
import { DIGIT_CLASSES, startTestServer } from '../serve/serve-fixtures.ts';

describe('soakRequest', () => {
  for (const [label, spec] of [['unconditional', {}], ['conditional', { classes: DIGIT_CLASSES }]] as const) {
    it(`every request of three cycles of the mix gets its expected status (${label} model)`, async () => {
      const server = await startTestServer({ default: spec });
      try {
        const revalidated = await fetch(server.base + REVALIDATED_PATH);
        await revalidated.arrayBuffer();
        const model = { classes: 'classes' in spec ? [...spec.classes] : null, etag: revalidated.headers.get('etag') };
        assert.ok(model.etag !== null, 'a seeded /generate has an ETag');
        const kinds = new Map<string, number>();
        const seeds = new Set<string>();
        for (let seq = 0; seq < 60; seq++) {
          const request = soakRequest(seq, model);
          const response = await fetch(server.base + request.path, { headers: request.headers ?? {} });
          await response.arrayBuffer();
          assert.equal(response.status, request.expectStatus, `${request.path} (${request.kind ?? ''})`);
          kinds.set(request.kind!, (kinds.get(request.kind!) ?? 0) + 1);
          const seed = /[?&]seed=(\d+)/.exec(request.path)?.[1];
          if (seed !== undefined && request.expectStatus === 200) {
            assert.ok(!seeds.has(seed), `seed ${seed} repeats, so a cache could answer it`);
            seeds.add(seed);
          }
          if (model.classes !== null && request.expectStatus === 200 && request.path.includes('class=')) {
            assert.ok(/class=(\d|zero|one|two)(&|$)/.test(request.path), request.path);
          }
        }
        assert.deepEqual(Object.fromEntries(kinds), { 'png n=1': 33, 'json n=4': 18, 'npy n=2': 3, '304 revalidation': 3, '400 malformed': 3 });
      } finally {
        await server.close();
      }
    });
  }

  it('without an ETag the revalidation slot becomes another malformed request', () => {
    const request = soakRequest(18, { classes: null, etag: null });
    assert.equal(request.expectStatus, 400);
  });
});

describe('memoryVerdict', () => {
  const MB = 1024 * 1024;
  const series = (rssMb: (t: number) => number, seconds = 300, every = 5): MemorySample[] =>
    Array.from({ length: seconds / every + 1 }, (_v, i) => ({ t: i * every, rssBytes: rssMb(i * every) * MB }));

  it('passes a flat series with noise and reports start, end, max and slope', () => {
    const verdict = memoryVerdict(series((t) => 200 + (t % 10 === 0 ? 3 : -3)), 30, 0.1);
    assert.equal(verdict.pass, true);
    assert.equal(verdict.samples, 55);
    assert.equal(verdict.startBytes, 203 * MB);
    assert.equal(verdict.maxBytes, 203 * MB);
    assert.ok(Math.abs(verdict.slopeMbPerMinute) < 0.1);
  });

  it('fails a steady leak above the bound and passes one below it', () => {
    // 10 MB/min over the 270 s after warm-up = 45 MB on ~205 MB: about 22%.
    const leaking = memoryVerdict(series((t) => 200 + t / 6), 30, 0.1);
    assert.equal(leaking.pass, false);
    assert.ok(Math.abs(leaking.slopeMbPerMinute - 10) < 1e-9);
    assert.ok(Math.abs(leaking.growthFraction - 45 / 205) < 1e-9);
    assert.equal(memoryVerdict(series((t) => 200 + t / 6), 30, 0.25).pass, true);
  });

  it('ignores the warm-up, where the heap and the sessions grow to their working size', () => {
    const verdict = memoryVerdict(series((t) => (t < 30 ? 100 + 3 * t : 190)), 30, 0.1);
    assert.equal(verdict.pass, true);
    assert.equal(verdict.startBytes, 190 * MB);
    assert.equal(memoryVerdict(series((t) => (t < 30 ? 100 + 3 * t : 190)), 0, 0.1).pass, false);
  });

  it('refuses to judge fewer than three samples after the warm-up', () => {
    assert.throws(() => memoryVerdict(series(() => 100, 20, 5), 15, 0.1), RangeError);
  });
});
