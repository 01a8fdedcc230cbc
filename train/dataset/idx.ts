// Parser for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):
//   bytes 0-1: 0x00 0x00 · byte 2: value type · byte 3: number of dimensions · then one big-endian uint32 per dimension
//   · then the values, big-endian, row-major. Written here so any IDX file, not only the bundled MNIST, can be trained on.

import { GanforgeError } from '../../common/errors.ts';

export const IDX_TYPES = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
} as const;

export type IdxTypeCode = keyof typeof IDX_TYPES;
export type IdxDtype = (typeof IDX_TYPES)[IdxTypeCode]['name'];
export type IdxValues = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  /** Dimensions, outermost first (for MNIST images: [count, rows, columns]). */
  shape: number[];
  /** Values in host order, row-major; length = product of shape. */
  data: IdxValues;
}

/** Parses an IDX buffer; `source` (a path or name) goes into error messages. Throws GanforgeError('INVALID_DATASET'). */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  const fail = (why: string): never => {
    throw new GanforgeError('INVALID_DATASET', `${source}: not a valid IDX file: ${why}`);
  };
  if (bytes.length < 4) fail(`${bytes.length} bytes is shorter than the 4-byte header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail(`magic must start with two zero bytes, got 0x${hex(bytes[0]!)} 0x${hex(bytes[1]!)}`);
  const code = bytes[2]!;
  const type = (IDX_TYPES as Record<number, (typeof IDX_TYPES)[IdxTypeCode] | undefined>)[code];
  if (type === undefined) fail(`value type 0x${hex(code)} is not one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E`);
  const rank = bytes[3]!;
  if (rank === 0) fail('number of dimensions is 0');
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) fail(`header needs ${headerLength} bytes for ${rank} dimensions, file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerLength + count * type!.bytes;
  if (bytes.length < expected) fail(`truncated: shape [${shape.join(', ')}] of ${type!.name} needs ${expected} bytes, file has ${bytes.length}`);
  if (bytes.length > expected) fail(`${bytes.length - expected} trailing bytes after shape [${shape.join(', ')}] of ${type!.name}`);
  return { dtype: type!.name, shape, data: readValues(view, headerLength, count, type!.name) };
}

function readValues(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxValues {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(view.buffer, view.byteOffset + offset, count).slice();
    case 'int8':
      return new Int8Array(view.buffer, view.byteOffset + offset, count).slice();
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Serialises an array as IDX (big-endian); used to write fixtures and subsets. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const entry = Object.entries(IDX_TYPES).find(([, t]) => t.name === array.dtype);
  if (entry === undefined) throw new RangeError(`encodeIdx: unknown dtype ${String(array.dtype)}`);
  const code = Number(entry[0]);
  const size = entry[1].bytes;
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== count) throw new RangeError(`encodeIdx: data has ${array.data.length} values, shape needs ${count}`);
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + count * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const v = array.data[i]!;
    const at = header + i * size;
    if (array.dtype === 'uint8') view.setUint8(at, v);
    else if (array.dtype === 'int8') view.setInt8(at, v);
    else if (array.dtype === 'int16') view.setInt16(at, v, false);
    else if (array.dtype === 'int32') view.setInt32(at, v, false);
    else if (array.dtype === 'float32') view.setFloat32(at, v, false);
    else view.setFloat64(at, v, false);
  }
  return out;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0').toUpperCase();
}
