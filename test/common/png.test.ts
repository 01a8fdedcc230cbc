import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { decode } from 'fast-png';
import { adler32, crc32, encodePng, storeWithoutCompression } from '../../common/png.ts';
import type { RasterImage } from '../../common/pixels.ts';

const nodeZlib = (data: Uint8Array) => deflateSync(data);

function raster(width: number, height: number, channels: number): RasterImage {
  return { width, height, channels, data: Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37 + (i >> 5)) & 0xff) };
}

describe('encodePng', () => {
  it('computes the CRC-32 PNG uses (check value of "123456789" is 0xCBF43926)', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });

  it('stores without compression as a valid zlib stream (Adler-32 of "Wikipedia" is 0x11E60398)', () => {
    assert.equal(adler32(new TextEncoder().encode('Wikipedia')), 0x11e60398);
    for (const length of [0, 1, 812, 6000, 65535]) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 131 + 7) & 0xff);
      const stored = storeWithoutCompression(data);
      assert.equal(stored.length, data.length + 11, `${length}`);
      assert.deepEqual(new Uint8Array(inflateSync(stored)), data, `${length}`); // zlib checks the header and Adler-32
    }
    assert.throws(() => storeWithoutCompression(new Uint8Array(65536)), /at most 65535 bytes/);
  });

  for (const channels of [1, 3, 4]) {
    it(`writes ${channels}-channel images that an independent decoder reads back exactly, with either compressor`, () => {
      const image = raster(29, 7, channels);
      for (const png of [encodePng(image), encodePng(image, nodeZlib), encodePng(image, storeWithoutCompression)]) {
        const decoded = decode(png); // fast-png checks every chunk's CRC and the zlib stream
        assert.deepEqual([decoded.width, decoded.height, decoded.channels, decoded.depth], [29, 7, channels, 8]);
        assert.deepEqual(new Uint8Array(decoded.data), image.data);
      }
    });
  }

  it('is deterministic for one compressor', () => {
    const image = raster(28, 28, 1);
    assert.deepEqual(encodePng(image, nodeZlib), encodePng(image, nodeZlib));
    assert.deepEqual(encodePng(image), encodePng(image));
  });

  it('lays out signature, IHDR first, IEND last, with CRCs and an IDAT python\'s zlib inflates to the filtered rows', () => {
    const png = encodePng(raster(3, 2, 1));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(new TextDecoder().decode(png.subarray(12, 16)), 'IHDR');
    assert.equal(new TextDecoder().decode(png.subarray(png.length - 8, png.length - 4)), 'IEND');
    // zlib itself can inflate the IDAT payload back to filter-byte-prefixed rows
    const dir = mkdtempSync(join(tmpdir(), 'ganforge-png-'));
    try {
      const file = join(dir, 'x.png');
      writeFileSync(file, png);
      const script = 'import sys,zlib,struct\nb=open(sys.argv[1],"rb").read()\ni=8\nout=b""\nwhile i<len(b):\n n=struct.unpack(">I",b[i:i+4])[0];t=b[i+4:i+8];d=b[i+8:i+8+n]\n assert zlib.crc32(t+d)==struct.unpack(">I",b[i+8+n:i+12+n])[0]\n if t==b"IDAT": out+=d\n i+=12+n\nprint(zlib.decompress(out).hex())';
      const hex = execFileSync('python3', ['-c', script, file], { encoding: 'utf8' }).trim();
      assert.equal(hex, Buffer.from([0, ...raster(3, 2, 1).data.subarray(0, 3), 0, ...raster(3, 2, 1).data.subarray(3)]).toString('hex'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses shapes it cannot write, naming what is allowed', () => {
    assert.throws(() => encodePng({ width: 2, height: 2, channels: 2, data: new Uint8Array(8) }), /channels must be 1, 3 or 4, got 2/);
    assert.throws(() => encodePng({ width: 2, height: 2, channels: 1, data: new Uint8Array(3) }), /needs 4 bytes, got 3/);
    assert.throws(() => encodePng({ width: 0, height: 2, channels: 1, data: new Uint8Array(0) }), /positive integers/);
  });
});
