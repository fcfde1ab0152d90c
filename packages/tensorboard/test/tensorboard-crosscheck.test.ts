/**
 * Cross-check with the real TensorBoard (Python): its EventAccumulator reads what SummaryWriter
 * wrote, and numpy gives the histogram buckets PyTorch's torch.utils.tensorboard computes.
 * Runs where a python with `tensorboard` and `numpy` is found: DL_TENSORBOARD_PYTHON, else
 * python3 on the PATH; skips (saying so in its name) elsewhere.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensor } from '@dl/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { SummaryWriter, listEventFiles, readEvents } from '../src/index.js';
import type { HistogramBins } from '../src/index.js';
import { lcg, tempDirs } from './helpers.js';

const PYTHON = process.env.DL_TENSORBOARD_PYTHON || 'python3';
const probe = spawnSync(PYTHON, ['-c', 'import tensorboard, numpy; from tensorboard.backend.event_processing.event_accumulator import EventAccumulator'], { encoding: 'utf8' });
const missing = probe.status === 0 ? null : `${PYTHON} cannot import tensorboard and numpy (set DL_TENSORBOARD_PYTHON to a python that has them)`;

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

/**
 * Reads a logdir with TensorBoard's EventAccumulator; for each histogram also recomputes, with
 * numpy, the buckets PyTorch writes (np.histogram, then the range of non-empty bins with one
 * empty bin in front), for the values in `values.json`.
 */
const SCRIPT = String.raw`
import json, sys, hashlib
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

def torch_histogram(values, bins):
    values = np.asarray(values, dtype=float).reshape(-1)
    if bins == 'tensorflow':
        v, pos = 1e-12, []
        while v < 1e20:
            pos.append(v)
            v *= 1.1
        bins = [-x for x in pos[::-1]] + [0] + pos
    counts, limits = np.histogram(values, bins=bins)
    nz = np.nonzero(counts)[0]
    first, last = int(nz[0]), int(nz[-1])
    if first > 0:
        counts, limits = counts[first - 1:last + 1], limits[first:last + 2]
    else:
        counts, limits = np.concatenate([[0], counts[:last + 1]]), limits[:last + 2]
    return {'bucket_limit': [float(x) for x in limits], 'bucket': [float(x) for x in counts]}

logdir, spec = sys.argv[1], json.load(open(sys.argv[2]))
out = {}
for run in spec['runs']:
    ea = EventAccumulator(logdir + '/' + run if run else logdir, size_guidance={'scalars': 0, 'histograms': 0, 'images': 0, 'tensors': 0})
    ea.Reload()
    r = {'tags': {k: sorted(v) for k, v in ea.Tags().items() if isinstance(v, list)}, 'scalars': {}, 'histograms': {}, 'images': {}, 'tensors': {}}
    for tag in ea.Tags()['scalars']:
        r['scalars'][tag] = [[e.step, e.wall_time, e.value] for e in ea.Scalars(tag)]
    for tag in ea.Tags()['histograms']:
        r['histograms'][tag] = [{'step': e.step, 'min': e.histogram_value.min, 'max': e.histogram_value.max, 'num': e.histogram_value.num,
            'sum': e.histogram_value.sum, 'sum_squares': e.histogram_value.sum_squares,
            'bucket_limit': list(e.histogram_value.bucket_limit), 'bucket': list(e.histogram_value.bucket)} for e in ea.Histograms(tag)]
    for tag in ea.Tags()['images']:
        r['images'][tag] = [[e.step, e.width, e.height, hashlib.sha256(e.encoded_image_string).hexdigest()] for e in ea.Images(tag)]
    for tag in ea.Tags()['tensors']:
        r['tensors'][tag] = [[e.step, ea.SummaryMetadata(tag).plugin_data.plugin_name, e.tensor_proto.dtype, [d.size for d in e.tensor_proto.tensor_shape.dim], [s.decode('utf-8') for s in e.tensor_proto.string_val]] for e in ea.Tensors(tag)]
    out[run] = r
out['numpy'] = {name: torch_histogram(h['values'], h['bins']) for name, h in spec['histograms'].items()}
print(json.dumps(out))
`;

function tensorboardRead(logDir: string, runs: string[], histograms: Record<string, { values: number[]; bins: HistogramBins }>) {
  const spec = join(logDir, '..', `spec-${process.pid}.json`);
  writeFileSync(spec, JSON.stringify({ runs, histograms }));
  const out = execFileSync(PYTHON, ['-c', SCRIPT, logDir, spec], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

describe('the real TensorBoard reads the event files', () => {
  it.skipIf(missing !== null)(`scalars, addScalars runs, histograms (buckets as PyTorch's with numpy), images and text${missing ? ` (skipped: ${missing})` : ''}`, () => {
    const logDir = join(tmp.make(), 'run');
    const w = new SummaryWriter(logDir);
    const rand = lcg(9);
    const normalish = Array.from({ length: 1000 }, () => (rand() + rand() + rand() - 1.5) * 4);
    const hist: Record<string, { values: number[]; bins: HistogramBins }> = {
      tf: { values: normalish, bins: 'tensorflow' },
      positive: { values: normalish.map((x) => Math.abs(x) + 1e-3), bins: 'tensorflow' },
      ten: { values: normalish, bins: 10 },
      auto: { values: normalish, bins: 'auto' },
      autoSmall: { values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], bins: 'auto' },
    };
    for (let step = 0; step < 3; step++) {
      w.addScalar('loss', 1 / (step + 1), step, 1000 + step);
      w.addScalars('lr', { a: 0.1 * step, b: 0.2 * step }, step, 1000 + step);
    }
    for (const [name, h] of Object.entries(hist)) w.addHistogram(name, h.values, 7, h.bins);
    const img = tensor(Float32Array.from({ length: 3 * 4 * 5 }, () => rand()), { shape: [3, 4, 5] });
    w.addImage('img', img, 2);
    w.addImages('grid', tensor(new Uint8Array(10 * 1 * 2 * 3).fill(9), { shape: [10, 1, 2, 3] }), 2);
    w.addText('note', 'héllo ✓', 5);
    w.close();

    const read = tensorboardRead(logDir, ['', 'lr_a', 'lr_b'], hist);
    const main = read[''];
    expect(main.scalars.loss).toEqual([0, 1, 2].map((s) => [s, 1000 + s, Math.fround(1 / (s + 1))]));
    expect(read.lr_a.scalars.lr.map((e: number[]) => e[2])).toEqual([0, 0.1, 0.2].map(Math.fround));
    expect(read.lr_b.scalars.lr.map((e: number[]) => e[0])).toEqual([0, 1, 2]);

    const ours = readEvents(listEventFiles(logDir)[0]);
    for (const name of Object.keys(hist)) {
      const [tb] = main.histograms[name];
      const mine = ours.find((e) => e.summary?.value[0].tag === name)!.summary!.value[0].histo!;
      expect(tb.step).toBe(7);
      expect([tb.min, tb.max, tb.num, tb.sum, tb.sum_squares]).toEqual([mine.min, mine.max, mine.num, mine.sum, mine.sumSquares]);
      expect(tb.bucket_limit, name).toEqual(mine.bucketLimit);
      expect(tb.bucket, name).toEqual(mine.bucket);
      // numpy + PyTorch's trimming give the same buckets
      expect(read.numpy[name].bucket, `${name} (numpy)`).toEqual(mine.bucket);
      expect(read.numpy[name].bucket_limit, `${name} (numpy)`).toEqual(mine.bucketLimit);
    }

    const pngs = ours.filter((e) => e.summary?.value[0].image).map((e) => e.summary!.value[0].image!);
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    expect(main.images.img).toEqual([[2, 5, 4, sha(pngs[0].encodedImageString)]]);
    expect(main.images.grid).toEqual([[2, 24, 4, sha(pngs[1].encodedImageString)]]);

    expect(main.tensors['note/text_summary']).toEqual([[5, 'text', 7, [1], ['héllo ✓']]]);
    expect(readFileSync(listEventFiles(logDir)[0]).length).toBeGreaterThan(0);
  }, 60_000);
});
