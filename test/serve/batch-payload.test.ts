import assert from 'node:assert/strict';
import { test } from 'node:test';
import { packPayloads, viewPart } from '../../serve/batch-payload.ts';

test('packPayloads: raw values and bodies round-trip through one buffer, each float32 share 4-byte aligned', () => {
  const values = Float32Array.of(0.5, -1, 3.25);
  const oddBody = Uint8Array.of(1, 2, 3, 4, 5); // 5 bytes: the next share must still start aligned
  const moreValues = Float32Array.of(7, 8);
  const { payload, parts } = packPayloads(
    [oddBody, new Uint8Array(values.buffer), new Uint8Array(moreValues.buffer)],
    ['image/png', undefined, undefined],
  );
  assert.equal(parts.length, 3);
  for (const part of parts) assert.equal(part.offset % 4, 0);
  const body = viewPart(payload, parts[0]!);
  assert.ok('body' in body);
  assert.deepEqual([...body.body], [1, 2, 3, 4, 5]);
  assert.equal(body.contentType, 'image/png');
  const raw = viewPart(payload, parts[1]!);
  assert.ok('data' in raw);
  assert.deepEqual([...raw.data], [0.5, -1, 3.25]);
  assert.equal(raw.data.buffer, payload, 'a view, not a copy');
  const more = viewPart(payload, parts[2]!);
  assert.ok('data' in more);
  assert.deepEqual([...more.data], [7, 8]);
});

test('packPayloads: a share taken from the middle of a larger buffer copies only its own bytes', () => {
  const backing = Uint8Array.from({ length: 32 }, (_, i) => i);
  const { payload, parts } = packPayloads([backing.subarray(10, 13)], ['application/json']);
  const part = viewPart(payload, parts[0]!);
  assert.ok('body' in part);
  assert.deepEqual([...part.body], [10, 11, 12]);
});

test('viewPart refuses a part outside the payload or a misaligned float32 share', () => {
  const { payload } = packPayloads([new Uint8Array(8)], [undefined]);
  assert.throws(() => viewPart(payload, { offset: 4, length: 8 }), /outside a 8-byte payload/);
  assert.throws(() => viewPart(payload, { offset: 2, length: 4 }), /not 4-byte aligned/);
  assert.throws(() => packPayloads([new Uint8Array(1)], []), /1 shares but 0 content types/);
});
