// The .npy encoder: header layout per the NumPy format spec, and numpy.load itself reading our bytes when available.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeNpyFloat32 } from '../../serve/npy.ts';
import { parseNpy } from './serve-fixtures.ts';

const values = Float32Array.from({ length: 2 * 3 * 2 * 1 }, (_, i) => (i - 5) / 7);

test('header: magic, v1.0, <f4, C order, shape, data aligned to 64 bytes', () => {
  const bytes = encodeNpyFloat32(values, [2, 3, 2, 1]);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const { header, shape, data } = parseNpy(bytes);
  assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3, 2, 1\), \} *\n$/);
  assert.equal((10 + header.length) % 64, 0);
  assert.deepEqual(shape, [2, 3, 2, 1]);
  assert.deepEqual([...data], [...values]);
  assert.equal(bytes.length, 10 + header.length + values.length * 4);
});

test('a one-dimensional shape is written as a 1-tuple', () => {
  assert.match(parseNpy(encodeNpyFloat32(new Float32Array(3), [3])).header, /'shape': \(3,\)/);
});

test('data length must match the shape', () => {
  assert.throws(() => encodeNpyFloat32(new Float32Array(5), [2, 3]), RangeError);
});

const python = ['/usr/bin/python3', 'python3'].find((exe) => spawnSync(exe, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0);

test('numpy.load reads it back exactly', { skip: python === undefined ? 'no python3 with numpy on this machine' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ganforge-npy-'));
  try {
    const file = join(dir, 'images.npy');
    writeFileSync(file, encodeNpyFloat32(values, [2, 3, 2, 1]));
    const script = 'import json,sys,numpy as np; a=np.load(sys.argv[1]); print(json.dumps({"dtype": str(a.dtype), "shape": list(a.shape), "data": a.ravel().tolist()}))';
    const result = spawnSync(python!, ['-c', script, file], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const loaded = JSON.parse(result.stdout) as { dtype: string; shape: number[]; data: number[] };
    assert.equal(loaded.dtype, 'float32');
    assert.deepEqual(loaded.shape, [2, 3, 2, 1]);
    assert.deepEqual(loaded.data, [...values]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
