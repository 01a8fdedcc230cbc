import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode } from 'fast-png';
import { tileImages, toByte, toRgba } from '../../common/pixels.ts';
import { encodePng } from '../../common/png.ts';

describe('pixels', () => {
  it('maps the value range onto bytes, clamping outliers', () => {
    assert.equal(toByte(-1, -1, 1), 0);
    assert.equal(toByte(1, -1, 1), 255);
    assert.equal(toByte(0, -1, 1), 128);
    assert.equal(toByte(-3, -1, 1), 0);
    assert.equal(toByte(7, -1, 1), 255);
  });
  it('returns a single image unpadded', () => {
    const data = Float32Array.from({ length: 6 }, (_, i) => i / 5);
    const image = tileImages(data, [1, 2, 3, 1], [0, 1]);
    assert.deepEqual([image.width, image.height, image.channels], [3, 2, 1]);
    assert.deepEqual([...image.data], [0, 51, 102, 153, 204, 255]);
  });
  it('tiles n images into a padded grid, image k at row k / columns', () => {
    const count = 5;
    const data = new Float32Array(count * 2 * 2).map((_, i) => Math.floor(i / 4) / 4); // image k is filled with k/4
    const image = tileImages(data, [count, 2, 2, 1], [0, 1], { columns: 3, padding: 1 });
    assert.deepEqual([image.width, image.height], [3 * 2 + 4, 2 * 2 + 3]);
    const at = (x: number, y: number) => image.data[y * image.width + x];
    assert.equal(at(0, 0), 0); // padding
    assert.equal(at(1, 1), 0); // image 0
    assert.equal(at(4, 1), 64); // image 1
    assert.equal(at(7, 1), 128); // image 2
    assert.equal(at(1, 4), 191); // image 3 (second row)
    assert.equal(at(4, 4), 255); // image 4
    assert.equal(at(7, 4), 0); // empty cell
  });
  it('rejects data of the wrong length', () => {
    assert.throws(() => tileImages(new Float32Array(5), [1, 2, 3, 1], [0, 1]), RangeError);
  });
  it('encodes PNG bytes that decode back to the same pixels, identically each time', () => {
    const raster = tileImages(Float32Array.from({ length: 4 * 28 * 28 }, (_, i) => Math.sin(i)), [4, 28, 28, 1], [-1, 1]);
    const png = encodePng(raster);
    assert.deepEqual(encodePng(raster), png);
    const decoded = decode(png);
    assert.deepEqual([decoded.width, decoded.height, decoded.channels], [raster.width, raster.height, 1]);
    assert.deepEqual(new Uint8Array(decoded.data), raster.data);
    assert.equal(toRgba(raster).length, raster.width * raster.height * 4);
  });
});
