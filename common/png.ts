// PNG encoding for server and browser alike: 8-bit grey, RGB or RGBA, every row with filter 0, one IDAT chunk. The
// chunk assembly is ours (a few dozen lines) so the compressor can be chosen by the caller: fflate (pure JS) by default,
// which runs anywhere, and node:zlib on the server, which is ~3x faster on /generate's small images (measured: 28×28
// grey, fast-png 100 µs vs node:zlib 38 µs per image). Identical rasters and compressor give identical bytes.
import { zlibSync } from 'fflate';
import type { RasterImage } from './pixels.ts';

/** Compresses bytes into the zlib format (RFC 1950: header, deflate stream, Adler-32), which IDAT holds. */
export type ZlibCompress = (data: Uint8Array) => Uint8Array;

/** fflate at zlib's default level 6: works in every JS runtime. */
export const compressWithFflate: ZlibCompress = (data) => zlibSync(data, { level: 6 });

/**
 * The zlib format with the data in one stored (uncompressed) deflate block, for images too small for compression to
 * pay: no zlib state to set up, just a copy and an Adler-32. Up to 65,535 bytes (one stored block's limit).
 */
export const storeWithoutCompression: ZlibCompress = (data) => {
  if (data.length > 0xffff) throw new RangeError(`storeWithoutCompression: at most 65535 bytes fit one stored block, got ${data.length}`);
  const out = new Uint8Array(2 + 5 + data.length + 4);
  out[0] = 0x78; // CMF: deflate, 32 KiB window
  out[1] = 0x01; // FLG: no dictionary, fastest; (0x78 << 8 | 0x01) % 31 === 0 as RFC 1950 requires
  out[2] = 0x01; // BFINAL = 1, BTYPE = 00 (stored)
  out[3] = data.length & 0xff;
  out[4] = data.length >>> 8;
  out[5] = ~data.length & 0xff;
  out[6] = (~data.length >>> 8) & 0xff;
  out.set(data, 7);
  new DataView(out.buffer).setUint32(7 + data.length, adler32(data));
  return out;
};

/** Adler-32 (RFC 1950), the checksum that ends a zlib stream. */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is the largest run for which b cannot overflow 2^32 before the modulo (zlib's NMAX).
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(bytes.length, start + 5552);
    for (let i = start; i < end; i++) {
      a += bytes[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const COLOR_TYPE_BY_CHANNELS: Readonly<Record<number, number>> = { 1: 0, 3: 2, 4: 6 };

export function encodePng(image: RasterImage, compress: ZlibCompress = compressWithFflate): Uint8Array {
  const { width, height, channels, data } = image;
  const colorType = COLOR_TYPE_BY_CHANNELS[channels];
  if (colorType === undefined) throw new RangeError(`encodePng: channels must be 1, 3 or 4, got ${channels}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng: width and height must be positive integers, got ${width}×${height}`);
  }
  const stride = width * channels;
  if (data.length !== stride * height) throw new RangeError(`encodePng: ${width}×${height}×${channels} needs ${stride * height} bytes, got ${data.length}`);

  // Each scanline is prefixed by its filter type; 0 (None) keeps encoding a straight copy.
  // A byte loop rather than a set() per row: rows of small images are short, and a subarray per row costs more than the copy.
  const scanlines = new Uint8Array((stride + 1) * height);
  for (let y = 0, src = 0, dst = 1; y < height; y++, dst++) {
    for (let end = src + stride; src < end; src++, dst++) scanlines[dst] = data[src]!;
  }
  const idat = compress(scanlines);

  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = colorType;
  // bytes 10-12: deflate compression, adaptive filtering, no interlace — all 0

  const out = new Uint8Array(SIGNATURE.length + 12 * 3 + header.length + idat.length);
  out.set(SIGNATURE, 0);
  let offset = SIGNATURE.length;
  offset = writeChunk(out, offset, 'IHDR', header);
  offset = writeChunk(out, offset, 'IDAT', idat);
  writeChunk(out, offset, 'IEND', new Uint8Array(0));
  return out;
}

/** Writes length, type, data and CRC-32 (over type + data) at `offset`; returns the offset after the chunk. */
function writeChunk(out: Uint8Array, offset: number, type: string, data: Uint8Array): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(offset, data.length);
  for (let i = 0; i < 4; i++) out[offset + 4 + i] = type.charCodeAt(i);
  out.set(data, offset + 8);
  view.setUint32(offset + 8 + data.length, crc32(out.subarray(offset + 4, offset + 8 + data.length)));
  return offset + 12 + data.length;
}

let crcTables: Uint32Array[] | undefined;

/** The slicing-by-8 tables: tables[0] is the classic byte table, tables[k] advances a byte through k more zero bytes. */
function crcSlicingTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const base = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    base[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) tables[k]![n] = (base[tables[k - 1]![n]! & 0xff]! ^ (tables[k - 1]![n]! >>> 8)) >>> 0;
  }
  return tables;
}

/**
 * CRC-32 as PNG defines it (ISO 3309 polynomial, reflected), eight bytes per step (slicing-by-8): the same value as
 * the byte-at-a-time loop, in about two thirds of its time on a served digit's IDAT (measured: 812 bytes, 1.8 → 1.3 µs).
 */
export function crc32(bytes: Uint8Array): number {
  const tables = (crcTables ??= crcSlicingTables());
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let crc = 0xffffffff;
  let i = 0;
  for (const end8 = bytes.length - 7; i < end8; i += 8) {
    const low = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      t7[low & 0xff]! ^ t6[(low >>> 8) & 0xff]! ^ t5[(low >>> 16) & 0xff]! ^ t4[low >>> 24]! ^
      t3[bytes[i + 4]!]! ^ t2[bytes[i + 5]!]! ^ t1[bytes[i + 6]!]! ^ t0[bytes[i + 7]!]!;
  }
  for (; i < bytes.length; i++) crc = t0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
