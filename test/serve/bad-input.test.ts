// The bad-input suite over real HTTP: hundreds of malformed /generate queries (wrong types, out-of-range and huge values,
// traversal and unicode in names, repeated and unknown parameters, broken escapes) must each get a 4xx JSON body that
// names a stable code, and the server must still answer correctly afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DIGIT_CLASSES, startTestServer, type ErrorBody, type TestServer } from './serve-fixtures.ts';

let base: string;
let testServer: TestServer;

before(async () => {
  testServer = await startTestServer({ default: {}, digits: { classes: DIGIT_CLASSES, weightSeed: 2 } });
  base = testServer.base;
});

after(() => testServer.close());

const BAD_VALUES = [
  '', ' ', '-1', '0', '-0.0', '1.5', '1e3', '1E3', '0x10', '0b1', '0o7', 'NaN', 'Infinity', '-Infinity', 'null', 'undefined',
  'true', '[]', '{}', '9'.repeat(40), '4294967296', '18446744073709551616', '-9007199254740993', '1,2', '1;2', '1%00', '%00',
  '١', '７', '𝟕', 'seven\u0000', '../../etc/passwd', '..%2f..%2f', '<script>alert(1)</script>', "' OR 1=1 --", '\u202e7', 'ñ',
];
/** Parameters and the values among BAD_VALUES that are, in fact, valid for them (skipped). */
const PARAMETERS: Record<string, ReadonlySet<string>> = {
  n: new Set(), seed: new Set(['0']), truncation: new Set(), truncationMode: new Set(), format: new Set(), class: new Set(['0']), model: new Set(),
};

function badQueries(): string[] {
  const queries: string[] = [];
  for (const [parameter, valid] of Object.entries(PARAMETERS)) {
    for (const value of BAD_VALUES) {
      if (valid.has(value)) continue;
      // class is only meaningful for the conditional model; model= itself is what is being broken otherwise.
      const model = parameter === 'model' ? '' : parameter === 'class' ? 'model=digits&' : 'model=default&';
      queries.push(`${model}${parameter}=${encodeURIComponent(value)}`);
    }
    queries.push(`model=${parameter === 'class' ? 'digits' : 'default'}&${parameter}=1&${parameter}=2`); // repeated
  }
  queries.push('class=1', 'model=default&class=zero', 'bogus=1', 'sede=5', 'n=1&N=2', 'model=%ZZ', 'n=%', 'seed=%E0%A4%A');
  queries.push('model=default&n=1&truncation=0.7&format=png&extra[]=1', 'format[]=json', `n=${'1'.repeat(5000)}`);
  return queries;
}

test('hundreds of malformed /generate queries each get a 4xx JSON error, and the server stays up', async () => {
  const queries = badQueries();
  assert.ok(queries.length >= 250, `only ${queries.length} queries`);
  const statuses = new Map<number, number>();
  for (const query of queries) {
    const response = await fetch(`${base}/generate?${query}`);
    const text = await response.text();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    assert.ok(response.status >= 400 && response.status < 500, `?${query} → ${response.status}: ${text.slice(0, 200)}`);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/, `?${query} is not JSON`);
    const body = JSON.parse(text) as ErrorBody;
    assert.ok(['INVALID_PARAMETER', 'UNKNOWN_MODEL'].includes(body.error), `?${query} → code ${body.error}`);
    assert.ok(body.message.length > 10 && body.message.length < 600, `?${query} → message ${body.message}`);
    assert.doesNotMatch(text, /at .*\.ts:\d+|\/tmp\/|node_modules/, `?${query} leaks a stack or path`);
  }
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  const good = await fetch(`${base}/generate?model=digits&class=two&n=2&seed=7&format=json`);
  assert.equal(good.status, 200);
  assert.deepEqual(((await good.json()) as { labels: number[] }).labels, [2, 2]);
  assert.ok((statuses.get(400) ?? 0) > 200, `statuses: ${JSON.stringify([...statuses])}`);
});
