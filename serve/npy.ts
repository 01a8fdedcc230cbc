// NumPy .npy encoding (format v1.0) of float32 arrays, so `numpy.load` reads /generate?format=npy as-is.
// Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const HEADER_ALIGNMENT = 64; // numpy ≥ 1.16 aligns the data to 64 bytes

/** A little-endian '<f4' C-order .npy file of `data` with the given shape. */
export function encodeNpyFloat32(data: Float32Array, shape: readonly number[]): Uint8Array {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new RangeError(`encodeNpyFloat32: data has ${data.length} values, shape [${shape.join(', ')}] needs ${expected}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // magic(6) + version(2) + header length(2) + header + '\n' must be a multiple of the alignment.
  const unpadded = MAGIC.length + 4 + header.length + 1;
  header += ' '.repeat((HEADER_ALIGNMENT - (unpadded % HEADER_ALIGNMENT)) % HEADER_ALIGNMENT) + '\n';
  const headerBytes = new TextEncoder().encode(header);
  const prefix = MAGIC.length + 4 + headerBytes.length;
  const out = new Uint8Array(prefix + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  new DataView(out.buffer).setUint16(8, headerBytes.length, true);
  out.set(headerBytes, 10);
  const view = new DataView(out.buffer, prefix);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}
