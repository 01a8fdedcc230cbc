// The one code → HTTP status mapping, and that unexpected errors never leak their text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GanforgeError, InvalidParameterError } from '../../common/errors.ts';
import { INTERNAL_MESSAGE, toHttpError } from '../../serve/http-errors.ts';

test('each client-facing code has its status and keeps message and parameter', () => {
  const cases: [GanforgeError, number][] = [
    [new InvalidParameterError('n', "'n' must be an integer in [1, 64], got 0"), 400],
    [new GanforgeError('UNKNOWN_MODEL', 'unknown model', { parameter: 'model' }), 404],
    [new GanforgeError('NOT_FOUND', 'no route'), 404],
    [new GanforgeError('OVERLOADED', 'queue full'), 503],
    [new GanforgeError('TIMEOUT', 'too slow'), 504],
  ];
  for (const [error, status] of cases) {
    const mapped = toHttpError(error);
    assert.equal(mapped.status, status, error.code);
    assert.deepEqual(mapped.body, error.toJSON());
    assert.equal(mapped.internal, false);
  }
  assert.equal(toHttpError(cases[0]![0]).body.parameter, 'n');
});

test('INTERNAL, codes without a status, and plain errors become a generic 500', () => {
  for (const error of [
    new GanforgeError('INTERNAL', 'worker 0 crashed at /home/me/secret/path'),
    new GanforgeError('PARITY_FAILED', 'diff 0.3'),
    new Error('ENOENT: /etc/shadow'),
    'a thrown string',
    null,
  ]) {
    const mapped = toHttpError(error);
    assert.equal(mapped.status, 500);
    assert.deepEqual(mapped.body, { error: 'INTERNAL', message: INTERNAL_MESSAGE });
    assert.equal(mapped.internal, true);
  }
});

test("express's own 4xx errors (malformed %-escapes) become 400 INVALID_PARAMETER", () => {
  const uri = toHttpError(Object.assign(new URIError("Failed to decode param '%E0%A4%A'"), { status: 400 }));
  assert.equal(uri.status, 400);
  assert.equal(uri.body.error, 'INVALID_PARAMETER');
  assert.match(uri.body.message, /Failed to decode/);
  assert.equal(toHttpError(Object.assign(new Error('shown'), { status: 413, expose: true })).body.message, 'malformed request: shown');
  // Without expose the text is not echoed.
  assert.equal(toHttpError(Object.assign(new Error('/internal/path'), { status: 400 })).body.message, 'malformed request');
  assert.equal(toHttpError(Object.assign(new Error('x'), { status: 502 })).status, 500);
});
