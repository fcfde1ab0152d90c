import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { io, utils } from '@dl/vision';
import type { Image } from '@dl/vision';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTmp, tmpDir } from './helpers.js';

afterAll(cleanupTmp);

/** N images [C, H, W] where image k holds 10 * (k + 1) + c everywhere in channel c. */
function constantBatch(n: number, c: number, h: number, w: number): Tensor {
  const data = new Float32Array(n * c * h * w);
  for (let k = 0; k < n; k++) for (let ch = 0; ch < c; ch++) data.fill(10 * (k + 1) + ch, (k * c + ch) * h * w, (k * c + ch + 1) * h * w);
  return tensor(data, { shape: [n, c, h, w] });
}

describe('makeGrid', () => {
  it('places image k at row floor(k / nrow), column k % nrow, with padding between and around', () => {
    // 5 images 3x2, nrow 3, padding 1: 2 rows of cells 4x3 -> grid [3, 2*4+1, 3*3+1] = [3, 9, 10].
    const grid = utils.makeGrid(constantBatch(5, 3, 3, 2), { nrow: 3, padding: 1, padValue: -1 });
    expect(grid.shape).toEqual([3, 9, 10]);
    const g = grid.toArray() as number[][][];
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 9; y++) {
        for (let x = 0; x < 10; x++) {
          const row = Math.floor((y - 1) / 4);
          const col = Math.floor((x - 1) / 3);
          const inImage = y >= 1 && (y - 1) % 4 < 3 && x >= 1 && (x - 1) % 3 < 2;
          const k = row * 3 + col;
          const want = inImage && k < 5 ? 10 * (k + 1) + c : -1;
          expect(g[c][y][x], `c=${c} y=${y} x=${x}`).toBe(want);
        }
      }
    }
  });

  it('torchvision defaults: nrow 8, padding 2, pad value 0; gray becomes 3 channels; one image comes back unpadded', () => {
    const grid = utils.makeGrid(constantBatch(10, 1, 4, 4));
    expect(grid.shape).toEqual([3, 2 * 6 + 2, 8 * 6 + 2]);
    const g = grid.toArray() as number[][][];
    expect(g[0][0][0]).toBe(0);
    expect(g[2][2][2]).toBe(10); // image 0's channel copied to all three
    expect(g[1][8][2]).toBe(90); // image 8 starts row 1
    expect(utils.makeGrid(constantBatch(1, 3, 2, 2)).shape).toEqual([3, 2, 2]);
    expect(utils.makeGrid([tensor([[[1]]]), tensor([[[2]]])], { padding: 0 }).toArray()).toEqual([[[1, 2]], [[1, 2]], [[1, 2]]]);
  });

  it('normalize scales to [0, 1] by the batch range, each image, or valueRange', () => {
    const x = tensor([[[[0, 2]]], [[[4, 8]]]]);
    expect(utils.makeGrid(x, { normalize: true, padding: 0 }).toArray()).toEqual([[[0, 0.25, 0.5, 1]], [[0, 0.25, 0.5, 1]], [[0, 0.25, 0.5, 1]]]);
    expect((utils.makeGrid(x, { normalize: true, scaleEach: true, padding: 0 }).toArray() as number[][][])[0]).toEqual([[0, 1, 0, 1]]);
    expect((utils.makeGrid(x, { normalize: true, valueRange: [2, 6], padding: 0 }).toArray() as number[][][])[0]).toEqual([[0, 0, 0.5, 1]]);
  });
});

describe('saveImage and PNG I/O', () => {
  it('writes a tensor as PNG; decoding it with pngjs gives round(v * 255)', () => {
    const dir = tmpDir();
    const h = 5;
    const w = 7;
    const data = new Float32Array(3 * h * w);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 37) % 101) / 100;
    const x = tensor(data, { shape: [3, h, w] });
    const path = join(dir, 'one.png');
    utils.saveImage(x, path);
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([w, h]);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        for (let c = 0; c < 3; c++) {
          const v = data[(c * h + y) * w + xx];
          expect(png.data[(y * w + xx) * 4 + c]).toBe(Math.min(255, Math.floor(v * 255 + 0.5)));
        }
        expect(png.data[(y * w + xx) * 4 + 3]).toBe(255);
      }
    }
    expect(readdirSync(dir)).toEqual(['one.png']); // no temp file left
  });

  it('a uint8 batch goes through makeGrid with identical pixels', () => {
    const dir = tmpDir();
    const bytes = Uint8Array.from({ length: 4 * 3 * 6 * 6 }, (_, i) => (i * 13) & 255);
    const batch = tensor(bytes, { shape: [4, 3, 6, 6], dtype: 'uint8' });
    utils.saveImage(batch, join(dir, 'grid.png'), { nrow: 2 });
    const grid = utils.makeGrid(batch, { nrow: 2 });
    const [c, gh, gw] = grid.shape;
    const g = grid.dataSync();
    const png = PNG.sync.read(readFileSync(join(dir, 'grid.png')));
    expect([png.height, png.width]).toEqual([gh, gw]);
    for (let p = 0; p < gh * gw; p++) for (let k = 0; k < c; k++) if (png.data[p * 4 + k] !== g[k * gh * gw + p]) throw new Error(`pixel ${p} channel ${k}`);
  });

  it('io round trips gray, RGB and RGBA images through PNG exactly', () => {
    for (const channels of [1, 2, 3, 4]) {
      const img: Image = { data: Uint8Array.from({ length: 3 * 4 * channels }, (_, i) => (i * 29 + 7) & 255), height: 3, width: 4, channels };
      const back = io.decodeImage(io.encodePng(img), { mode: 'unchanged' });
      expect(back).toEqual({ ...img, data: back.data });
      expect(Array.from(back.data)).toEqual(Array.from(img.data));
    }
    const rgb = io.decodeImage(io.encodePng({ data: new Uint8Array([10, 200]), height: 1, width: 2, channels: 1 }));
    expect(Array.from(rgb.data)).toEqual([10, 10, 10, 200, 200, 200]);
  });

  it('image sizes are read from the headers, and images over maxPixels are refused before decoding', () => {
    const png = io.encodePng({ data: new Uint8Array(23 * 37 * 3), height: 23, width: 37, channels: 3 });
    const jpg = jpeg.encode({ data: new Uint8Array(23 * 37 * 4), width: 37, height: 23 }, 90).data;
    expect(io.imageSize(png, 'png')).toEqual({ width: 37, height: 23 });
    expect(io.imageSize(jpg, 'jpeg')).toEqual({ width: 37, height: 23 });
    expect(io.decodeImage(jpg, { maxPixels: 23 * 37 }).width).toBe(37);
    expect(() => io.decodeImage(jpg, { maxPixels: 23 * 37 - 1, name: 'a.jpg' })).toThrow('cannot decode a.jpg: it is 37x23 = 851 pixels, over the limit of 850');
    // A PNG whose header claims 100000 x 100000 pixels (40 GB as RGBA): refused from the header
    // under the default limit, before pngjs allocates anything.
    const bomb = Uint8Array.from(png);
    new DataView(bomb.buffer).setUint32(16, 100_000);
    new DataView(bomb.buffer).setUint32(20, 100_000);
    expect(() => io.decodeImage(bomb)).toThrow(`it is 100000x100000 = 10000000000 pixels, over the limit of ${io.DEFAULT_MAX_PIXELS}`);
    expect(io.imageSize(jpg.subarray(0, 20), 'jpeg')).toBe(null);
  });

  it('errors name the file and the reason', () => {
    const dir = tmpDir();
    const broken = join(dir, 'broken.png');
    writeFileSync(broken, io.encodePng({ data: new Uint8Array(300), height: 10, width: 10, channels: 3 }).subarray(0, 40));
    expect(() => io.readImage(broken)).toThrow(new RegExp(`cannot decode ${broken} as PNG: `));
    const text = join(dir, 'notes.jpg');
    writeFileSync(text, 'hello');
    expect(() => io.readImage(text)).toThrow(`cannot decode ${text}: not a JPEG or PNG file (it starts with bytes 68 65 6c 6c 6f)`);
    expect(() => io.readImage(join(dir, 'missing.png'))).toThrow(/cannot read .*missing\.png: ENOENT/);
    expect(() => utils.saveImage(tensor([[[0.5]]]), join(dir, 'x.jpg'))).toThrow(/only PNG files can be written/);
    expect(() => utils.saveImage(tensor([[[0.5]]]), join(dir, 'no-such-dir', 'x.png'))).toThrow(/cannot write .*x\.png/);
  });
});
