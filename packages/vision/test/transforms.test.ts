import { Generator, manualSeed, tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { io, transforms } from '@dl/vision';
import type { Image } from '@dl/vision';
import { describe, expect, it } from 'vitest';

const F = transforms.functional;

/** An image whose value at (y, x, c) is f(y, x, c). */
function makeImage(h: number, w: number, c: number, f: (y: number, x: number, c: number) => number): Image {
  const data = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) data[(y * w + x) * c + k] = f(y, x, k);
  return { data, height: h, width: w, channels: c };
}

/** A float tensor [C, H, W] from nested rows per channel. */
function chw(planes: number[][][]): Tensor {
  return tensor(planes);
}

function rows(t: Tensor): number[][] {
  return t.squeeze(0).toArray() as number[][];
}

function randomImage(h: number, w: number, seed: number): Image {
  const g = new Generator(seed);
  return makeImage(h, w, 3, () => g.nextBelow(256));
}

describe('ToTensor and Normalize', () => {
  it('ToTensor: HWC bytes to float32 CHW in [0, 1]', () => {
    // 2x2 RGB: pixel (y, x) = (10y + x, 100 + 10y + x, 255 - 10y - x)
    const img = makeImage(2, 2, 3, (y, x, c) => [10 * y + x, 100 + 10 * y + x, 255 - 10 * y - x][c]);
    const t = new transforms.ToTensor().apply(img);
    expect(t.shape).toEqual([3, 2, 2]);
    expect(t.dtype).toBe('float32');
    const expected = [
      [[0, 1], [10, 11]],
      [[100, 101], [110, 111]],
      [[255, 254], [245, 244]],
    ].map((p) => p.map((r) => r.map((v) => Math.fround(v / 255))));
    expect(t.toArray()).toEqual(expected);
    expect(() => new transforms.ToTensor().apply(t as unknown as Image)).toThrow(/already a Tensor/);
  });

  it('Normalize: (x - mean) / std per channel, by hand', () => {
    const x = chw([[[0, 1]], [[0.5, 0.2]], [[0.3, 0.9]]]);
    const y = new transforms.Normalize([0.5, 0.4, 0.3], [0.5, 0.2, 0.1]).apply(x);
    const v = y.toArray() as number[][][];
    const want = [[[-1, 1]], [[0.5, -1]], [[0, 6]]];
    for (let c = 0; c < 3; c++) for (let i = 0; i < 2; i++) expect(v[c][0][i]).toBeCloseTo(want[c][0][i], 5);
    // A batch [N, C, H, W] normalises per channel too; one number applies to every channel.
    const b = new transforms.Normalize(0.5, 0.25).apply(tensor([[[[1]], [[0]]]]));
    expect(b.toArray()).toEqual([[[[2]], [[-2]]]]);
    expect(() => new transforms.Normalize([0.5], [0.5]).apply(tensor(new Uint8Array(12), { shape: [3, 2, 2] }))).toThrow(/expected a float tensor; got uint8/);
    expect(() => new transforms.Normalize([0.5, 0.5], [0.5, 0.5]).apply(x)).toThrow(/mean needs 1 or 3 \(one per channel\) values; got 2/);
    expect(() => new transforms.Normalize([0.5], [0])).toThrow(/std must not contain zeros/);
  });
});

describe('padding, cropping and flipping', () => {
  const row = chw([[[1, 2, 3, 4]]]);
  it.each([
    ['constant', [0, 0, 1, 2, 3, 4, 0, 0]],
    ['edge', [1, 1, 1, 2, 3, 4, 4, 4]],
    ['reflect', [3, 2, 1, 2, 3, 4, 3, 2]],
    ['symmetric', [2, 1, 1, 2, 3, 4, 4, 3]],
  ] as const)('Pad mode %s (numpy semantics)', (mode, want) => {
    const out = new transforms.Pad([2, 0], { paddingMode: mode }).apply(row);
    expect(out.shape).toEqual([1, 1, 8]);
    expect(rows(out)[0]).toEqual(want);
  });

  it('Pad: [left, top, right, bottom] with a per-channel fill on images', () => {
    const img = makeImage(1, 1, 3, () => 9);
    const out = new transforms.Pad([1, 0, 0, 1], { fill: [10, 20, 30] }).apply(img);
    expect([out.height, out.width]).toEqual([2, 2]);
    // (0,0) fill, (0,1) the pixel, row 1 fill
    expect(Array.from(out.data)).toEqual([10, 20, 30, 9, 9, 9, 10, 20, 30, 10, 20, 30]);
  });

  it('RandomCrop with padding equals a hand-made padded image cropped at the drawn offset', () => {
    // 4x4 values 1..16, padding 2 -> 8x8, crop 4x4 at (i, j) drawn as top then left.
    const src = Array.from({ length: 4 }, (_, y) => Array.from({ length: 4 }, (_, x) => 4 * y + x + 1));
    const padded = Array.from({ length: 8 }, (_, y) => Array.from({ length: 8 }, (_, x) => (y >= 2 && y < 6 && x >= 2 && x < 6 ? src[y - 2][x - 2] : 0)));
    for (const seed of [1, 2, 3, 4, 5]) {
      const probe = new Generator(seed);
      const i = probe.nextBelow(5);
      const j = probe.nextBelow(5);
      const out = new transforms.RandomCrop(4, { padding: 2, generator: new Generator(seed) }).apply(chw([src]));
      const want = padded.slice(i, i + 4).map((r) => r.slice(j, j + 4));
      expect(rows(out)).toEqual(want);
    }
  });

  it('RandomCrop at a fixed offset, by hand (reflect padding)', () => {
    // Find a seed whose draws are (i, j) = (0, 3): the crop starts 2 rows above and 1 column right of the source.
    let seed = 0;
    for (;; seed++) {
      const g = new Generator(seed);
      if (g.nextBelow(5) === 0 && g.nextBelow(5) === 3) break;
    }
    const src = [[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]];
    const out = new transforms.RandomCrop(4, { padding: 2, paddingMode: 'reflect', generator: new Generator(seed) }).apply(chw(src));
    // Rows -2..1 -> reflect -> rows 2, 1, 0, 1; columns 1..4 -> 1, 2, 3, reflect(4) = 2.
    expect(rows(out)).toEqual([
      [10, 11, 12, 11],
      [6, 7, 8, 7],
      [2, 3, 4, 3],
      [6, 7, 8, 7],
    ]);
  });

  it('RandomCrop gives the same pixels for an image and its tensor; padIfNeeded; errors', () => {
    const img = randomImage(10, 12, 3);
    const a = new transforms.RandomCrop([6, 7], { padding: [1, 2], generator: new Generator(9) }).apply(img);
    const b = new transforms.RandomCrop([6, 7], { padding: [1, 2], generator: new Generator(9) }).apply(io.imageToTensor(img));
    expect(Array.from(io.imageToTensor(a).dataSync())).toEqual(Array.from(b.dataSync()));
    // padIfNeeded pads both sides by the missing amount (torchvision), then crops.
    const small = chw([[[1, 2, 3]]]);
    const out = new transforms.RandomCrop([1, 5], { padIfNeeded: true, generator: new Generator(0) }).apply(small);
    expect(out.shape).toEqual([1, 1, 5]);
    expect(rows(out)[0].filter((v) => v !== 0)).toEqual([1, 2, 3]);
    expect(() => new transforms.RandomCrop(5).apply(small)).toThrow(/required crop size \(5, 5\) is larger than the input image size \(1, 3\)/);
    expect(() => new transforms.RandomCrop(4, { paddingMode: 'wrap' as never })).toThrow(/paddingMode must be one of 'constant', 'edge', 'reflect', 'symmetric'/);
  });

  it('hflip and vflip, RandomHorizontalFlip with p = 0, 1 and 0.5', () => {
    const x = chw([[[1, 2, 3], [4, 5, 6]]]);
    expect(rows(F.hflip(x) as Tensor)).toEqual([[3, 2, 1], [6, 5, 4]]);
    expect(rows(F.vflip(x) as Tensor)).toEqual([[4, 5, 6], [1, 2, 3]]);
    const img = makeImage(1, 3, 3, (_y, x, c) => 10 * x + c);
    expect(Array.from((F.hflip(img) as Image).data)).toEqual([20, 21, 22, 10, 11, 12, 0, 1, 2]);
    expect(rows(new transforms.RandomHorizontalFlip(1).apply(x))).toEqual([[3, 2, 1], [6, 5, 4]]);
    expect(new transforms.RandomHorizontalFlip(0).apply(x)).toBe(x);
    const g = new Generator(11);
    const flip = new transforms.RandomHorizontalFlip(0.5, { generator: g });
    let flipped = 0;
    for (let i = 0; i < 2000; i++) if (flip.apply(x) !== x) flipped++;
    expect(flipped / 2000).toBeGreaterThan(0.45);
    expect(flipped / 2000).toBeLessThan(0.55);
    expect(() => new transforms.RandomHorizontalFlip(2)).toThrow(/p must be a probability in \[0, 1\]; got 2/);
  });

  it('CenterCrop rounds half to even (Python) and pads when the crop is larger', () => {
    const x = chw([Array.from({ length: 4 }, (_, y) => Array.from({ length: 4 }, (_, c) => 4 * y + c))]);
    // (4 - 3) / 2 = 0.5 rounds to 0.
    expect(rows(new transforms.CenterCrop(3).apply(x))).toEqual([[0, 1, 2], [4, 5, 6], [8, 9, 10]]);
    expect(rows(new transforms.CenterCrop([2, 2]).apply(x))).toEqual([[5, 6], [9, 10]]);
    const big = new transforms.CenterCrop(6).apply(chw([[[1, 2], [3, 4]]]));
    expect(rows(big)).toEqual([
      [0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
      [0, 0, 1, 2, 0, 0],
      [0, 0, 3, 4, 0, 0],
      [0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
    ]);
  });
});

describe('resizing', () => {
  it('bilinear upscaling with half-pixel centers, by hand', () => {
    const out = new transforms.Resize([4, 4]).apply(chw([[[0, 4], [8, 12]]]));
    expect(rows(out)).toEqual([
      [0, 1, 3, 4],
      [2, 3, 5, 6],
      [6, 7, 9, 10],
      [8, 9, 11, 12],
    ]);
  });

  it('downscaling: antialiased triangle filter (PIL/torch antialias) or plain bilinear', () => {
    const x = chw([[[0, 4, 8, 12]]]);
    // Scale 2: the filter spans 2 source pixels each side; weights 3/7, 3/7, 1/7 and 1/7, 3/7, 3/7.
    const aa = rows(F.resize(x, [1, 2]) as Tensor)[0];
    expect(aa[0]).toBeCloseTo(20 / 7, 5);
    expect(aa[1]).toBeCloseTo(64 / 7, 5);
    expect(rows(F.resize(x, [1, 2], { antialias: false }) as Tensor)[0]).toEqual([2, 10]);
  });

  it('a single size sets the shorter edge; uint8 images are rounded', () => {
    const img = makeImage(4, 8, 3, (_y, x) => 30 * x);
    const out = new transforms.Resize(2).apply(img);
    expect([out.height, out.width, out.channels]).toEqual([2, 4, 3]);
    // Columns 0..7 hold 0, 30, ..., 210; halving averages pairs with weights 3/7 3/7 1/7 (edges renormalised).
    const first = out.data[0];
    expect(first).toBe(Math.round((3 * 0 + 3 * 30 + 1 * 60) / 7));
    expect(F.resizedSize(100, 50, 20)).toEqual([40, 20]);
    expect(F.resizedSize(50, 100, 20, 30)).toEqual([15, 30]);
  });

  it('RandomResizedCrop: scale [1, 1] and ratio [1, 1] on a square is a plain resize; otherwise the right size, repeatably', () => {
    const img = randomImage(8, 8, 1);
    const whole = new transforms.RandomResizedCrop(4, { scale: [1, 1], ratio: [1, 1], generator: new Generator(0) }).apply(img);
    expect(Array.from(whole.data)).toEqual(Array.from(new transforms.Resize(4).apply(img).data));
    const t = new transforms.RandomResizedCrop([5, 3], { generator: new Generator(3) });
    const a = t.apply(randomImage(20, 30, 2));
    const b = new transforms.RandomResizedCrop([5, 3], { generator: new Generator(3) }).apply(randomImage(20, 30, 2));
    expect([a.height, a.width]).toEqual([5, 3]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const [i, j, h, w] = transforms.RandomResizedCrop.getParams(20, 30, [0.08, 1], [3 / 4, 4 / 3], new Generator(3));
    expect(i + h).toBeLessThanOrEqual(20);
    expect(j + w).toBeLessThanOrEqual(30);
    expect((h * w) / 600).toBeGreaterThan(0.07);
  });
});

describe('colour', () => {
  it('brightness, contrast and saturation factors by hand', () => {
    const x = chw([[[1, 0.2]], [[0, 0.4]], [[0, 0.6]]]);
    const br = F.adjustBrightness(x, 0.5) as Tensor;
    expect((br.toArray() as number[][][]).map((p) => p[0].map((v) => Number(v.toFixed(5))))).toEqual([[0.5, 0.1], [0, 0.2], [0, 0.3]]);
    expect((F.adjustBrightness(x, 2) as Tensor).toArray()).toEqual([[[1, Math.fround(0.4)]], [[0, Math.fround(0.8)]], [[0, 1]]]);
    // Saturation 0: every channel becomes the gray value 0.2989 r + 0.587 g + 0.114 b.
    const gray = (F.adjustSaturation(x, 0) as Tensor).toArray() as number[][][];
    const g1 = 0.2989 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6;
    for (let c = 0; c < 3; c++) {
      expect(gray[c][0][0]).toBeCloseTo(0.2989, 5);
      expect(gray[c][0][1]).toBeCloseTo(g1, 5);
    }
    // Contrast 0: the mean gray value everywhere.
    const flat = (F.adjustContrast(x, 0) as Tensor).dataSync();
    for (const v of flat) expect(v).toBeCloseTo((0.2989 + g1) / 2, 5);
  });

  it('uint8: tensors truncate (torchvision), images round (PIL)', () => {
    const t = tensor(new Uint8Array([255, 0, 0]), { shape: [3, 1, 1] });
    expect(Array.from((F.adjustBrightness(t, 0.7) as Tensor).dataSync())).toEqual([178, 0, 0]); // 178.5 -> 178
    const img = makeImage(1, 1, 3, (_y, _x, c) => [255, 0, 0][c]);
    expect(Array.from((F.adjustBrightness(img, 0.7) as Image).data)).toEqual([179, 0, 0]);
  });

  it('hue rotates through HSV: red +1/3 is green, -1/3 is blue, 0 is identity', () => {
    const red = chw([[[1]], [[0]], [[0]]]);
    const close = (t: Tensor, want: number[]) => {
      for (const [i, v] of Array.from(t.dataSync()).entries()) expect(v).toBeCloseTo(want[i], 5);
    };
    close(F.adjustHue(red, 1 / 3) as Tensor, [0, 1, 0]);
    close(F.adjustHue(red, -1 / 3) as Tensor, [0, 0, 1]);
    const x = chw([[[0.9, 0.1]], [[0.3, 0.5]], [[0.2, 0.7]]]);
    close(F.adjustHue(x, 0) as Tensor, Array.from(x.dataSync()));
    expect(() => F.adjustHue(x, 0.7)).toThrow(/hueFactor must be in \[-0.5, 0.5\]; got 0.7/);
  });

  it('ColorJitter: ranges as torchvision, factors drawn from the generator, random order', () => {
    const cj = new transforms.ColorJitter({ brightness: 0.4, contrast: [0.5, 1.5], saturation: 0, hue: 0.1 });
    expect(cj.brightness).toEqual([0.6, 1.4]);
    expect(cj.contrast).toEqual([0.5, 1.5]);
    expect(cj.saturation).toBeNull(); // [1, 1]: not applied
    expect(cj.hue).toEqual([-0.1, 0.1]);
    expect(() => new transforms.ColorJitter({ hue: 0.6 })).toThrow(/hue values should be between \[-0.5,0.5\]/);
    const p = transforms.ColorJitter.getParams([0.6, 1.4], null, null, [-0.1, 0.1], new Generator(4));
    expect([...p.order].sort()).toEqual([0, 1, 2, 3]);
    expect(p.brightness).toBeGreaterThanOrEqual(0.6);
    expect(p.brightness).toBeLessThan(1.4);
    expect(p.contrast).toBeNull();
    // Brightness alone on a constant 0.5 image: 0.5 * the drawn factor.
    const flat = tensor(new Float32Array(12).fill(0.5), { shape: [3, 2, 2] });
    const g = new Generator(8);
    const expected = transforms.ColorJitter.getParams([0.6, 1.4], null, null, null, new Generator(8)).brightness as number;
    const out = new transforms.ColorJitter({ brightness: 0.4, generator: g }).apply(flat).dataSync();
    for (const v of out) expect(v).toBeCloseTo(0.5 * expected, 6);
  });
});

describe('RandomErasing', () => {
  it('erases the rectangle getParams draws, after the p draw', () => {
    const x = tensor(new Float32Array(3 * 16 * 16).fill(1), { shape: [3, 16, 16] });
    const g = new Generator(21);
    const state = g.getState();
    const out = new transforms.RandomErasing({ p: 1, value: [0.1, 0.2, 0.3], generator: g }).apply(x);
    const probe = new Generator(0).setState(state);
    probe.nextFloat(); // the p draw
    const pr = transforms.RandomErasing.getParams(3, 16, 16, [0.02, 0.33], [0.3, 3.3], [0.1, 0.2, 0.3], probe);
    expect(pr).not.toBeNull();
    const { i, j, h, w } = pr as NonNullable<typeof pr>;
    const v = out.toArray() as number[][][];
    let erased = 0;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 16; y++) {
        for (let xx = 0; xx < 16; xx++) {
          const inside = y >= i && y < i + h && xx >= j && xx < j + w;
          expect(v[c][y][xx]).toBeCloseTo(inside ? [0.1, 0.2, 0.3][c] : 1, 6);
          if (inside) erased++;
        }
      }
    }
    expect(erased / 3 / 256).toBeGreaterThanOrEqual(0.02 * 0.9);
    expect(erased / 3 / 256).toBeLessThanOrEqual(0.33 * 1.1);
    expect(x.dataSync().every((a) => a === 1)).toBe(true); // not in place
    expect(new transforms.RandomErasing({ p: 0 }).apply(x)).toBe(x);
    expect(() => new transforms.RandomErasing().apply({ data: new Uint8Array(3), height: 1, width: 1, channels: 3 } as never)).toThrow(/apply ToTensor\(\) before RandomErasing/);
    const rnd = new transforms.RandomErasing({ p: 1, value: 'random', scale: [0.3, 0.3], ratio: [1, 1], generator: new Generator(2) }).apply(x);
    expect(rnd.dataSync().some((a) => a !== 1)).toBe(true);
  });
});

describe('specs, Compose, Lambda and determinism', () => {
  const all = (): transforms.Transform<never, unknown>[] => [
    new transforms.RandomCrop(28, { padding: 4, paddingMode: 'reflect' }),
    new transforms.RandomHorizontalFlip(0.7),
    new transforms.RandomVerticalFlip(0.3),
    new transforms.RandomResizedCrop(24, { scale: [0.5, 1] }),
    new transforms.Resize(20),
    new transforms.CenterCrop(18),
    new transforms.Pad([1, 2], { fill: 5, paddingMode: 'constant' }),
    new transforms.ColorJitter({ brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.05 }),
    new transforms.Grayscale(3),
  ];

  it('every transform survives spec -> structuredClone -> transformFromSpec and behaves the same', () => {
    const img = randomImage(32, 32, 7);
    for (const t of all()) {
      const rebuilt = transforms.transformFromSpec(structuredClone(t.spec())) as unknown as transforms.Transform<Image, Image>;
      expect(rebuilt.constructor).toBe(t.constructor);
      manualSeed(42);
      const a = (t as unknown as transforms.Transform<Image, Image>).apply(img);
      manualSeed(42);
      const b = rebuilt.apply(img);
      expect(Array.from(b.data), t.toString()).toEqual(Array.from(a.data));
    }
    const tail = new transforms.Compose([new transforms.ToTensor(), new transforms.Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2]), new transforms.RandomErasing({ p: 1 })]);
    const back = transforms.transformFromSpec(structuredClone(tail.spec())) as transforms.Compose;
    manualSeed(1);
    const a = tail.apply(img) as Tensor;
    manualSeed(1);
    const b = back.apply(img) as Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
  });

  it('a seeded pipeline repeats under manualSeed and changes with the seed', () => {
    const pipeline = new transforms.Compose([...all(), new transforms.ToTensor()]);
    const img = randomImage(32, 32, 8);
    const run = (seed: number) => {
      manualSeed(seed);
      return Array.from((pipeline.apply(img) as Tensor).dataSync());
    };
    expect(run(123)).toEqual(run(123));
    expect(run(124)).not.toEqual(run(123));
  });

  it('Compose wraps functions as Lambda, which cannot cross threads and says so', () => {
    const c = new transforms.Compose([new transforms.ToTensor(), (t: Tensor) => t.mul(2)]);
    expect(c.transforms[1]).toBeInstanceOf(transforms.Lambda);
    expect(((c.apply(makeImage(1, 1, 1, () => 255)) as Tensor).item())).toBe(2);
    expect(() => c.spec()).toThrow(/a Lambda transform \(an anonymous function\) cannot be sent to a DataLoader worker thread: functions cannot be copied between threads/);
    expect(() => transforms.transformFromSpec({ name: 'Sharpen', args: [] })).toThrow(/no transform is registered as 'Sharpen' \(known: [A-Za-z, ]*\bCenterCrop, ColorJitter, Compose\b/);
  });

  it('registerTransform makes a custom class rebuildable', () => {
    class Invert extends transforms.Transform<Image, Image> {
      apply(img: Image): Image {
        return { ...img, data: img.data.map((v) => 255 - v) };
      }
      spec() {
        return { name: 'Invert', args: [] };
      }
    }
    transforms.registerTransform('Invert', Invert);
    const t = transforms.transformFromSpec({ name: 'Invert', args: [] }) as Invert;
    expect(Array.from(t.apply(makeImage(1, 1, 1, () => 5)).data)).toEqual([250]);
  });
});
