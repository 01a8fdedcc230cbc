// Errors cross the page/worker boundary as plain data and come back as the same classes, codes and parameters, so a
// page handles a failure in the worker exactly as one on its own thread (structured clone alone would drop them).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GanforgeError, InvalidParameterError } from '../../common/errors.ts';
import { deserializeError, serializeError } from '../../web/src/worker-protocol.ts';

/** serialize → structured clone (what postMessage does) → deserialize. */
const roundTrip = (error: unknown) => deserializeError(structuredClone(serializeError(error)));

test('GanforgeError keeps its code and parameter across the worker boundary', () => {
  const back = roundTrip(new GanforgeError('NOT_FOUND', "model '/m.onnx' could not be loaded: HTTP 404", { parameter: 'model' }));
  assert.ok(back instanceof GanforgeError);
  assert.equal(back.code, 'NOT_FOUND');
  assert.equal(back.parameter, 'model');
  assert.equal(back.message, "model '/m.onnx' could not be loaded: HTTP 404");
});

test('InvalidParameterError, RangeError and TypeError come back as themselves', () => {
  const invalid = roundTrip(new InvalidParameterError('class', "'class' must be an integer in [0, 9], got 12"));
  assert.ok(invalid instanceof InvalidParameterError);
  assert.equal(invalid.parameter, 'class');
  assert.equal(invalid.code, 'INVALID_PARAMETER');
  assert.ok(roundTrip(new RangeError('r')) instanceof RangeError);
  assert.ok(roundTrip(new TypeError('t')) instanceof TypeError);
  const other = roundTrip(Object.assign(new Error('boom'), { name: 'AbortError' }));
  assert.equal(other.name, 'AbortError');
  assert.equal(other.message, 'boom');
  assert.equal(roundTrip('a string').message, 'a string');
});
