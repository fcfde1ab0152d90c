import { existsSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { DLError, tensor } from '@dl/tensor';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_BIN_EDGES, SummaryWriter, defaultLogDir, listEventFiles, readEvents } from '../src/index.js';
import type { HistogramProto, TensorBoardEvent } from '../src/index.js';
import { lcg, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

/** The events after the file-version header. */
function body(path: string): TensorBoardEvent[] {
  const events = readEvents(path);
  expect(events[0].fileVersion).toBe('brain.Event:2');
  return events.slice(1);
}

function errorOf(fn: () => unknown): DLError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DLError);
    return e as DLError;
  }
  throw new Error('expected an error');
}

describe('SummaryWriter: files and directories', () => {
  it('creates the logDir (recursively) and one event file named as PyTorch names them', () => {
    const dir = join(tmp.make(), 'a', 'b');
    const w = new SummaryWriter(dir, { filenameSuffix: '.v1' });
    expect(existsSync(dir)).toBe(true);
    const files = listEventFiles(dir);
    expect(files).toEqual([w.eventFile]);
    const name = basename(w.eventFile);
    const m = /^events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+)\.v1$/.exec(name);
    expect(m, name).not.toBeNull();
    expect(Math.abs(Number(m![1]) - Date.now() / 1000)).toBeLessThan(60);
    expect(m![2]).toBe(hostname());
    expect(Number(m![3])).toBe(process.pid);
    // the counter grows per file
    const w2 = new SummaryWriter(dir);
    expect(Number(/\.(\d+)$/.exec(w2.eventFile)![1])).toBeGreaterThan(Number(m![4]));
    w.close();
    w2.close();
  });

  it('default logDir is runs/<Mon DD_HH-MM-SS>_<hostname><comment>', () => {
    expect(defaultLogDir('_lr0.1', new Date(2024, 10, 28, 14, 5, 31))).toBe(join('runs', `Nov28_14-05-31_${hostname()}_lr0.1`));
    expect(defaultLogDir('', new Date(2025, 0, 2, 3, 4, 5))).toBe(join('runs', `Jan02_03-04-05_${hostname()}`));
    const cwd = process.cwd();
    const dir = tmp.make();
    let chdirWorks = true;
    try {
      process.chdir(dir);
    } catch {
      chdirWorks = false; // worker threads cannot chdir; the function above is still checked
    }
    if (!chdirWorks) return;
    try {
      const w = new SummaryWriter(undefined, { comment: '_exp' });
      w.close();
      expect(w.logDir).toMatch(new RegExp(`^runs[/\\\\][A-Z][a-z]{2}\\d{2}_\\d{2}-\\d{2}-\\d{2}_${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_exp$`));
      expect(readdirSync(join(dir, 'runs'))).toEqual([basename(w.logDir)]);
      expect(listEventFiles(join(dir, w.logDir))).toHaveLength(1);
    } finally {
      process.chdir(cwd);
    }
  });

  it('purgeStep writes a file version and a SessionLog START at that step', () => {
    const w = new SummaryWriter(tmp.make(), { purgeStep: 42 });
    w.close();
    const [fv, start] = body(w.eventFile);
    expect(fv.fileVersion).toBe('brain.Event:2');
    expect(fv.step).toBe(42);
    expect(start.sessionLog).toEqual({ status: 1 });
    expect(start.step).toBe(42);
  });
});

describe('addScalar / addScalars', () => {
  it('writes simple_value (float32), step and walltime', () => {
    const w = new SummaryWriter(tmp.make());
    w.addScalar('loss', 0.1, 7, 1700000000.25);
    w.addScalar('loss', tensor([[2.5]]), 8, 1700000001);
    w.addScalar('acc', Number.NaN);
    w.close();
    const [a, b, c] = body(w.eventFile);
    expect(a).toEqual({ wallTime: 1700000000.25, step: 7, summary: { value: [{ tag: 'loss', simpleValue: Math.fround(0.1) }] } });
    expect(a.summary!.value[0].simpleValue).not.toBe(0.1);
    expect(b.summary!.value[0].simpleValue).toBe(2.5);
    expect(b.step).toBe(8);
    expect(c.step).toBe(0);
    expect(c.summary!.value[0].simpleValue).toBeNaN();
    expect(Math.abs(c.wallTime - Date.now() / 1000)).toBeLessThan(60);
  });

  it('addScalars writes each name to its own run <logDir>/<mainTag>_<name> under the tag mainTag', () => {
    const dir = tmp.make();
    const w = new SummaryWriter(dir);
    w.addScalars('loss/all', { train: 1.5, val: tensor([2.25]) }, 1, 500);
    w.addScalars('loss/all', { train: 1.25, val: 2 }, 2, 501);
    w.close();
    expect(readdirSync(dir).sort()).toEqual([basename(w.eventFile), 'loss_all_train', 'loss_all_val'].sort());
    expect(body(w.eventFile)).toEqual([]);
    const read = (name: string) => body(listEventFiles(join(dir, name))[0]).map((e) => [e.step, e.wallTime, e.summary!.value[0].tag, e.summary!.value[0].simpleValue]);
    expect(read('loss_all_train')).toEqual([
      [1, 500, 'loss/all', 1.5],
      [2, 501, 'loss/all', 1.25],
    ]);
    expect(read('loss_all_val')).toEqual([
      [1, 500, 'loss/all', 2.25],
      [2, 501, 'loss/all', 2],
    ]);
    expect(listEventFiles(join(dir, 'loss_all_val'))).toHaveLength(1);
  });

  it('rejects a bad tag, a non-scalar tensor, a non-number and a fractional step, naming the method', () => {
    const w = new SummaryWriter(tmp.make());
    let e = errorOf(() => w.addScalar(3 as unknown as string, 1));
    expect(e.code).toBe('ARGUMENT');
    expect(e.message).toMatch(/^SummaryWriter\.addScalar: tag must be a non-empty string; got number 3/);
    e = errorOf(() => w.addScalar('x', tensor([1, 2, 3])));
    expect(e.code).toBe('SHAPE');
    expect(e.message).toContain('SummaryWriter.addScalar: scalarValue must be a number or a one-element tensor; got a tensor of shape [3]');
    expect(e.message).toContain('hint: reduce it first');
    e = errorOf(() => w.addScalar('x', '1' as unknown as number));
    expect(e.message).toContain('one-element tensor; got "1"');
    e = errorOf(() => w.addScalar('x', 1, 1.5));
    expect(e.message).toContain('globalStep must be an integer; got number 1.5');
    e = errorOf(() => w.addScalars('m', { a: tensor([1, 2]) }));
    expect(e.message).toContain('SummaryWriter.addScalars: tagScalarDict["a"] must be a number');
    w.close();
    expect(body(w.eventFile)).toEqual([]);
  });
});

/** numpy.histogram + PyTorch's trimming, computed plainly: linear scans, no binary search. */
function referenceHistogram(values: number[], edges: number[]): { bucketLimit: number[]; bucket: number[] } {
  const counts = edges.slice(1).map((_, i) => values.filter((x) => x >= edges[i] && (i === edges.length - 2 ? x <= edges[i + 1] : x < edges[i + 1])).length);
  let first = 0;
  while (counts[first] === 0) first++;
  let last = counts.length - 1;
  while (counts[last] === 0) last--;
  if (first === 0) return { bucket: [0, ...counts.slice(0, last + 1)], bucketLimit: edges.slice(0, last + 2) };
  return { bucket: counts.slice(first - 1, last + 1), bucketLimit: edges.slice(first, last + 2) };
}

describe('addHistogram', () => {
  const histOf = (w: SummaryWriter): HistogramProto[] => body(w.eventFile).map((e) => e.summary!.value[0].histo!);

  it('the default edges are ±1e-12·1.1^k below 1e20 and 0', () => {
    expect(DEFAULT_BIN_EDGES).toHaveLength(1549);
    expect(DEFAULT_BIN_EDGES[774]).toBe(0);
    expect(DEFAULT_BIN_EDGES[775]).toBe(1e-12);
    expect(DEFAULT_BIN_EDGES[773]).toBe(-1e-12);
    expect(DEFAULT_BIN_EDGES[1548]).toBeLessThan(1e20);
    expect(DEFAULT_BIN_EDGES[1548] * 1.1).toBeGreaterThanOrEqual(1e20);
    expect(DEFAULT_BIN_EDGES[776]).toBe(1e-12 * 1.1);
  });

  it("'tensorflow' bins: statistics and the kept buckets match an independent count", () => {
    const rand = lcg(3);
    const values = Array.from({ length: 500 }, () => (rand() - 0.3) * 10 * rand());
    values.push(0, 0, 1e-13);
    const w = new SummaryWriter(tmp.make());
    w.addHistogram('w', tensor(values, { dtype: 'float64' }), 5);
    w.addHistogram('w32', Float32Array.from(values), 6);
    w.close();
    const [h, h32] = histOf(w);
    expect(h.min).toBe(Math.min(...values));
    expect(h.max).toBe(Math.max(...values));
    expect(h.num).toBe(503);
    expect(h.sum).toBeCloseTo(values.reduce((a, b) => a + b, 0), 9);
    expect(h.sumSquares).toBeCloseTo(values.reduce((a, b) => a + b * b, 0), 9);
    const ref = referenceHistogram(values, [...DEFAULT_BIN_EDGES]);
    expect(h.bucket).toEqual(ref.bucket);
    expect(h.bucketLimit).toEqual(ref.bucketLimit);
    expect(h.bucket.reduce((a, b) => a + b, 0)).toBe(503);
    // float32 input is widened exactly: the same as the float64 histogram of the float32 values
    const v32 = [...Float32Array.from(values)];
    expect(h32.bucket).toEqual(referenceHistogram(v32, [...DEFAULT_BIN_EDGES]).bucket);
    expect(h32.min).toBe(Math.min(...v32));
  });

  it("'tensorflow' bins for one value: an empty bin and the value's bin, its edges around it", () => {
    const w = new SummaryWriter(tmp.make());
    w.addHistogram('one', [1], 0);
    w.addHistogram('tiny', [[0, 0], [0, 0]], 0); // nested arrays flatten; 0 lies in [0, 1e-12)
    w.close();
    const [one, tiny] = histOf(w);
    expect(one.bucket).toEqual([0, 1]);
    expect(one.bucketLimit).toHaveLength(2);
    expect(one.bucketLimit[0]).toBeLessThanOrEqual(1);
    expect(one.bucketLimit[1]).toBeGreaterThan(1);
    expect(one.bucketLimit[1] / one.bucketLimit[0]).toBeCloseTo(1.1, 12);
    expect({ ...one, bucketLimit: [] }).toEqual({ min: 1, max: 1, num: 1, sum: 1, sumSquares: 1, bucketLimit: [], bucket: [0, 1] });
    expect(tiny.bucket).toEqual([0, 4]);
    expect(tiny.bucketLimit).toEqual([0, 1e-12]);
  });

  it('a number of bins: equal widths from min to max, worked out by hand', () => {
    const w = new SummaryWriter(tmp.make());
    w.addHistogram('four', [0, 1, 2, 3, 4], 1, 4); // edges 0 1 2 3 4; the last bin holds 3 and 4
    w.addHistogram('gap', [0, 0.5, 9, 10], 1, 10); // bins 1..8 empty; 9 in [9, 10), 10 in the last bin with it
    w.addHistogram('mid', [2, 3, 5, 10, 10], 1, 4); // edges 2 4 6 8 10
    w.addHistogram('same', [3, 3, 3], 1, 2); // min == max: range [2.5, 3.5], edges 2.5 3 3.5
    w.close();
    const [four, gap, mid, same] = histOf(w);
    expect([four.bucketLimit, four.bucket]).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 1, 1, 2],
    ]);
    expect([gap.bucketLimit, gap.bucket]).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    ]);
    expect([mid.bucketLimit, mid.bucket]).toEqual([
      [2, 4, 6, 8, 10],
      [0, 2, 1, 0, 2],
    ]);
    expect([same.bucketLimit, same.bucket]).toEqual([
      [3, 3.5],
      [0, 3],
    ]);
  });

  it("'auto' bins: numpy's min(Freedman-Diaconis, Sturges), worked out by hand for 0..9", () => {
    // ptp 9; Sturges 9 / (log2(10) + 1) = 2.08; IQR 6.75 - 2.25 = 4.5, FD 2 * 4.5 / 10^(1/3) = 4.18
    // -> width 2.08, ceil(9 / 2.08) = 5 bins of 1.8
    const w = new SummaryWriter(tmp.make());
    w.addHistogram('auto', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 'auto');
    w.close();
    const [h] = histOf(w);
    expect(h.bucket).toEqual([0, 2, 2, 2, 2, 2]);
    expect(h.bucketLimit.map((x) => Math.round(x * 1e9) / 1e9)).toEqual([0, 1.8, 3.6, 5.4, 7.2, 9]);
  });

  it('rejects empty or non-finite values and bad bins', () => {
    const w = new SummaryWriter(tmp.make());
    expect(errorOf(() => w.addHistogram('h', []))).toMatchObject({ code: 'VALUE', message: expect.stringContaining('SummaryWriter.addHistogram: the values are empty') });
    expect(errorOf(() => w.addHistogram('h', [1, Number.NaN])).message).toContain('the values must be finite; got NaN');
    expect(errorOf(() => w.addHistogram('h', [1, 2], 0, 0)).message).toContain("bins must be 'tensorflow', 'auto', a positive integer or an array of edges; got 0");
    expect(errorOf(() => w.addHistogram('h', 'abc' as unknown as number[])).message).toContain('values must be a tensor');
    w.close();
  });
});

/** Decoded RGBA pixels of the image values in a file. */
function images(path: string) {
  return body(path).map((e) => {
    const img = e.summary!.value[0].image!;
    const png = PNG.sync.read(Buffer.from(img.encodedImageString));
    expect([png.width, png.height]).toEqual([img.width, img.height]);
    return { tag: e.summary!.value[0].tag, h: img.height, w: img.width, colorspace: img.colorspace, rgba: [...png.data] };
  });
}

describe('addImage / addImages', () => {
  it('float CHW: ×255, clipped to [0, 255], truncated; 3 channels as RGB', () => {
    // pixel values in [C, H, W] = [3, 1, 2]
    const chw = tensor([[[0.5, 1]], [[0, -0.2]], [[1.5, 0.25]]]);
    const w = new SummaryWriter(tmp.make());
    w.addImage('rgb', chw, 1);
    w.close();
    const [img] = images(w.eventFile);
    expect(img).toMatchObject({ tag: 'rgb', h: 1, w: 2, colorspace: 3 });
    // pixel (0,0): r 0.5 -> 127 (127.5 truncated), g 0, b 1.5 -> 255; pixel (0,1): r 1 -> 255, g -0.2 -> 0, b 0.25 -> 63
    expect(img.rgba).toEqual([127, 0, 255, 255, 255, 0, 63, 255]);
  });

  it('uint8 HWC as is, RGBA with 4 channels; HW gray becomes RGB', () => {
    const hwc = tensor([[[10, 20, 30, 40]], [[50, 60, 70, 80]]], { dtype: 'uint8' }); // [H, W, C] = [2, 1, 4]
    const hw = tensor([[0.125, 0.75], [1, 0]]); // [2, 2]
    const gray = tensor([[[200, 100]]], { dtype: 'uint8' }); // CHW [1, 1, 2]
    const w = new SummaryWriter(tmp.make());
    w.addImage('rgba', hwc, 0, undefined, 'HWC');
    w.addImage('hw', hw, 0, undefined, 'HW');
    w.addImage('gray', gray);
    w.close();
    const [rgba, g, g1] = images(w.eventFile);
    expect(rgba).toMatchObject({ h: 2, w: 1, colorspace: 4, rgba: [10, 20, 30, 40, 50, 60, 70, 80] });
    // 0.125 -> 31 (31.875), 0.75 -> 191 (191.25), 1 -> 255, 0 -> 0, repeated into R, G and B
    expect(g).toMatchObject({ h: 2, w: 2, colorspace: 3, rgba: [31, 31, 31, 255, 191, 191, 191, 255, 255, 255, 255, 255, 0, 0, 0, 255] });
    expect(g1).toMatchObject({ h: 1, w: 2, colorspace: 3, rgba: [200, 200, 200, 255, 100, 100, 100, 255] });
  });

  it('CHW and HWC of the same picture give the same pixels', () => {
    const rand = lcg(11);
    const vals = Array.from({ length: 3 * 4 * 5 }, () => rand());
    const chw = tensor(Float32Array.from(vals), { shape: [3, 4, 5] });
    const w = new SummaryWriter(tmp.make());
    w.addImage('a', chw);
    w.addImage('b', chw.permute(1, 2, 0), 0, undefined, 'HWC');
    w.close();
    const [a, b] = images(w.eventFile);
    expect(a.rgba).toEqual(b.rgba);
    // spot-check pixel (y 2, x 3), channel 1: vals[(1 * 4 + 2) * 5 + 3]
    expect(a.rgba[(2 * 5 + 3) * 4 + 1]).toBe(Math.trunc(Math.fround(Math.fround(vals[(1 * 4 + 2) * 5 + 3]) * 255)));
  });

  it('addImages tiles min(N, 8) images per row without padding, zeros in the unfilled cells', () => {
    // 10 gray images of [H, W] = [2, 3]: pixel (y, x) of image i is i * 10 + y * 3 + x
    const n = 10;
    const vals: number[] = [];
    for (let i = 0; i < n; i++) for (let p = 0; p < 6; p++) vals.push(i * 10 + p);
    const batch = tensor(Uint8Array.from(vals), { shape: [n, 1, 2, 3] });
    const w = new SummaryWriter(tmp.make());
    w.addImages('grid', batch, 3);
    w.addImages('nhwc', batch.permute(0, 2, 3, 1), 3, undefined, 'NHWC');
    w.close();
    const [grid, nhwc] = images(w.eventFile);
    expect(grid).toMatchObject({ h: 4, w: 24, colorspace: 3 });
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 24; x++) {
        const i = Math.floor(y / 2) * 8 + Math.floor(x / 3);
        const expected = i < n ? i * 10 + (y % 2) * 3 + (x % 3) : 0;
        const o = (y * 24 + x) * 4;
        expect(grid.rgba.slice(o, o + 4), `pixel (${y}, ${x})`).toEqual([expected, expected, expected, 255]);
      }
    }
    expect(nhwc.rgba).toEqual(grid.rgba);
    // fewer than 8 images: one row of N
    const w2 = new SummaryWriter(tmp.make());
    w2.addImages('three', tensor(new Float32Array(3 * 3 * 2 * 2).fill(1), { shape: [3, 3, 2, 2] }));
    w2.close();
    expect(images(w2.eventFile)[0]).toMatchObject({ h: 2, w: 6, colorspace: 3 });
  });

  it('rejects dataformats that do not fit the shape, and 2 channels', () => {
    const w = new SummaryWriter(tmp.make());
    let e = errorOf(() => w.addImage('x', tensor(new Float32Array(12), { shape: [2, 2, 3] })));
    expect(e.code).toBe('SHAPE');
    expect(e.message).toContain("SummaryWriter.addImage: expected 1, 3 or 4 channels with dataformats 'CHW'; got 2 channels (shape [2, 2, 3])");
    expect(e.message).toContain("hint: the last dim looks like channels: pass dataformats 'HWC'");
    e = errorOf(() => w.addImage('x', tensor([[1, 2]]), 0, undefined, 'CHW'));
    expect(e.message).toContain("dataformats 'CHW' needs a 3-d tensor; got shape [1, 2]");
    expect(e.message).toContain("dataformats 'HW'");
    e = errorOf(() => w.addImage('x', tensor([[1, 2]]), 0, undefined, 'XY' as 'HW'));
    expect(e.message).toContain("dataformats must be an ordering of 'HWC' or 'HW'; got 'XY'");
    e = errorOf(() => w.addImages('x', tensor(new Float32Array(12), { shape: [3, 2, 2] })));
    expect(e.message).toContain("SummaryWriter.addImages: dataformats 'NCHW' needs a 4-d tensor; got shape [3, 2, 2]");
    e = errorOf(() => w.addImage('x', [1, 2, 3] as unknown as never));
    expect(e.message).toContain('expected an image tensor');
    w.close();
    expect(body(w.eventFile)).toEqual([]);
  });
});

describe('addText', () => {
  it('writes a DT_STRING tensor of shape [1] for the text plugin, tag <tag>/text_summary', () => {
    const w = new SummaryWriter(tmp.make());
    w.addText('notes', 'héllo **world** ✓', 4, 99);
    w.close();
    const [e] = body(w.eventFile);
    expect(e.step).toBe(4);
    expect(e.wallTime).toBe(99);
    const v = e.summary!.value[0];
    expect(v.tag).toBe('notes/text_summary');
    expect(v.metadata).toEqual({ pluginData: { pluginName: 'text' } });
    expect(v.tensor!.dtype).toBe(7);
    expect(v.tensor!.tensorShape).toEqual({ dim: [{ size: 1 }] });
    expect(v.tensor!.stringVal!.map((s) => new TextDecoder().decode(s))).toEqual(['héllo **world** ✓']);
    expect(errorOf(() => w.addText('t', 5 as unknown as string)).message).toContain('SummaryWriter.addText: the writer');
  });

  it('rejects a non-string text', () => {
    const w = new SummaryWriter(tmp.make());
    expect(errorOf(() => w.addText('t', { a: 1 } as unknown as string)).message).toContain('SummaryWriter.addText: textString must be a string; got an object (Object)');
    w.close();
  });
});

describe('queueing, flushing and closing', () => {
  it('events wait in memory until maxQueue of them are pending, then go out together', () => {
    const w = new SummaryWriter(tmp.make(), { maxQueue: 3 });
    const size0 = statSync(w.eventFile).size;
    w.addScalar('a', 1, 1);
    w.addScalar('a', 2, 2);
    expect(statSync(w.eventFile).size).toBe(size0);
    expect(body(w.eventFile)).toEqual([]);
    w.addScalar('a', 3, 3);
    expect(body(w.eventFile).map((e) => e.step)).toEqual([1, 2, 3]);
    w.addScalar('a', 4, 4);
    expect(body(w.eventFile)).toHaveLength(3);
    w.flush();
    expect(body(w.eventFile).map((e) => e.step)).toEqual([1, 2, 3, 4]);
    w.close();
  });

  it('close() flushes everything (addScalars runs too), is idempotent, and later use is an error naming the method', () => {
    const dir = tmp.make();
    const w = new SummaryWriter(dir);
    w.addScalar('a', 1, 1);
    w.addScalars('m', { x: 1 }, 1);
    w.close();
    w.close();
    w.flush(); // nothing to do, no error
    expect(w.isClosed).toBe(true);
    expect(body(w.eventFile)).toHaveLength(1);
    expect(body(listEventFiles(join(dir, 'm_x'))[0])).toHaveLength(1);
    for (const [name, call] of [
      ['addScalar', () => w.addScalar('a', 1)],
      ['addScalars', () => w.addScalars('a', { b: 1 })],
      ['addHistogram', () => w.addHistogram('a', [1])],
      ['addImage', () => w.addImage('a', tensor([[1]]), 0, undefined, 'HW')],
      ['addImages', () => w.addImages('a', tensor([[[[1]]]]))],
      ['addText', () => w.addText('a', 'b')],
    ] as const) {
      const e = errorOf(call);
      expect(e.code).toBe('DISPOSED');
      expect(e.message).toMatch(new RegExp(`^SummaryWriter\\.${name}: the writer of .* is closed`));
    }
    expect(body(w.eventFile)).toHaveLength(1);
  });

  it('the flush timer writes pending events every flushSecs, does not hold the process, and stops at close', async () => {
    const w = new SummaryWriter(tmp.make(), { flushSecs: 0.05 });
    const timer = (w as unknown as { fileWriter: { timer?: NodeJS.Timeout } }).fileWriter.timer!;
    expect(timer.hasRef()).toBe(false);
    w.addScalar('a', 1, 1);
    expect(body(w.eventFile)).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(body(w.eventFile)).toHaveLength(1);
    w.close();
    expect((w as unknown as { fileWriter: { timer?: NodeJS.Timeout } }).fileWriter.timer).toBeUndefined();
  });

  it('every flush appends whole records only (the file always parses)', () => {
    const w = new SummaryWriter(tmp.make(), { maxQueue: 4 });
    const rand = lcg(5);
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0) w.addHistogram('h', Array.from({ length: 20 }, () => rand()), i);
      else w.addScalar('s', rand(), i);
      expect(() => readEvents(w.eventFile)).not.toThrow();
    }
    w.close();
    expect(body(w.eventFile).map((e) => e.step)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('rejects bad options', () => {
    expect(errorOf(() => new SummaryWriter(tmp.make(), { maxQueue: 0 })).message).toContain('SummaryWriter: maxQueue must be a positive integer; got number 0');
    expect(errorOf(() => new SummaryWriter(tmp.make(), { flushSecs: -1 })).message).toContain('flushSecs must be a positive number');
    expect(errorOf(() => new SummaryWriter('')).message).toContain('logDir must be a non-empty string');
    expect(errorOf(() => new SummaryWriter(tmp.make(), { purgeStep: 1.5 })).message).toContain('purgeStep must be an integer');
  });
});
