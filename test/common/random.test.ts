import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SEED, SeededRandom, assertSeed, deterministicLog, inverseNormalCdf } from '../../common/random.ts';

describe('deterministicLog', () => {
  it('matches Math.log to within 2 ulp over many magnitudes', () => {
    const random = new SeededRandom(1);
    for (let i = 0; i < 20000; i++) {
      const x = random.nextOpenUnit() * 10 ** (Math.floor(random.nextOpenUnit() * 40) - 20);
      const expected = Math.log(x);
      assert.ok(Math.abs(deterministicLog(x) - expected) <= 4 * Number.EPSILON * Math.max(1, Math.abs(expected)), `log(${x})`);
    }
    assert.equal(deterministicLog(1), 0);
  });
  it('rejects non-positive input', () => {
    assert.throws(() => deterministicLog(0), RangeError);
    assert.throws(() => deterministicLog(-1), RangeError);
    assert.throws(() => deterministicLog(Number.NaN), RangeError);
  });
});

describe('SeededRandom', () => {
  it('is a pure function of (seed, stream)', () => {
    const a = new SeededRandom(42, 3);
    const b = new SeededRandom(42, 3);
    for (let i = 0; i < 1000; i++) assert.equal(a.nextUint32(), b.nextUint32());
  });
  it('differs across seeds and across streams', () => {
    const first = (seed: number, stream: number) => Array.from({ length: 4 }, ((r) => () => r.nextUint32())(new SeededRandom(seed, stream)));
    assert.notDeepEqual(first(1, 0), first(2, 0));
    assert.notDeepEqual(first(1, 0), first(1, 1));
    assert.notDeepEqual(first(0, 0), first(MAX_SEED, 0));
  });
  it('pins the first outputs of seed 0 so a change to the generator cannot pass unnoticed', () => {
    const r = new SeededRandom(0);
    const golden = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
    // Regenerate only on a deliberate, documented change to seeding (it changes every published sample).
    assert.deepEqual(golden, GOLDEN_SEED0);
  });
  it('gives uniforms strictly inside (0, 1) with mean ≈ 0.5', () => {
    const r = new SeededRandom(7);
    let sum = 0;
    for (let i = 0; i < 100000; i++) {
      const u = r.nextOpenUnit();
      assert.ok(u > 0 && u < 1);
      sum += u;
    }
    assert.ok(Math.abs(sum / 100000 - 0.5) < 0.005);
  });
  it('validates seeds', () => {
    assert.throws(() => assertSeed(-1), RangeError);
    assert.throws(() => assertSeed(MAX_SEED + 1), RangeError);
    assert.throws(() => assertSeed(1.5), RangeError);
    assert.throws(() => assertSeed('1'), TypeError);
    assert.doesNotThrow(() => assertSeed(MAX_SEED));
  });
});

describe('inverseNormalCdf', () => {
  it('inverts known quantiles', () => {
    assert.equal(inverseNormalCdf(0.5), 0);
    assert.ok(Math.abs(inverseNormalCdf(0.975) - 1.959963984540054) < 1e-8);
    assert.ok(Math.abs(inverseNormalCdf(0.025) + 1.959963984540054) < 1e-8);
    assert.ok(Math.abs(inverseNormalCdf(0.8413447460685429) - 1) < 1e-8);
    assert.ok(Math.abs(inverseNormalCdf(1e-10) + 6.361340902404056) < 1e-6);
  });
  it('is monotone', () => {
    let previous = -Infinity;
    for (let p = 0.0001; p < 1; p += 0.0001) {
      const z = inverseNormalCdf(p);
      assert.ok(z > previous);
      previous = z;
    }
  });
});

const GOLDEN_SEED0 = [3008590864, 1978847684, 1978741574];
