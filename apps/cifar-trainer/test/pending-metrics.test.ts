import { Generator, randint, randn, scope } from '@dl/tensor';
import { describe, expect, it } from 'vitest';
import { PendingMetrics } from '../src/pending-metrics.js';

/** 45 batches of (loss, logits, labels) with their host-side loss sum and correct count. */
function batches() {
  const g = new Generator(4);
  return Array.from({ length: 45 }, (_, i) => {
    const size = i === 44 ? 5 : 8;
    const logits = randn([size, 10], { generator: g });
    const y = randint(0, 10, [size], { generator: g, dtype: 'int32' });
    const loss = randn([], { generator: g }).abs();
    const pred = logits.argmax(1).dataSync();
    const labels = y.dataSync();
    let correct = 0;
    for (let k = 0; k < size; k++) if (pred[k] === labels[k]) correct++;
    return { loss, logits, y, lossTimesSize: loss.item() * size, correct };
  });
}

describe('PendingMetrics', () => {
  it('reads every `every` batches and when forced; the sums equal adding each batch on the host in order', () => {
    const data = batches();
    const host = { lossSum: 0, correct: 0 };
    for (const b of data) {
      host.lossSum += b.lossTimesSize;
      host.correct += b.correct;
    }
    const partial = { lossSum: 0, correct: 0 };
    const pending = new PendingMetrics(20);
    const flushedAfter: number[] = [];
    let seen = 0;
    data.forEach((b, i) => {
      scope(() => pending.push(b.loss, b.logits, b.y));
      seen += b.y.shape[0];
      const before = partial.lossSum;
      pending.flush(partial);
      if (partial.lossSum !== before) flushedAfter.push(i + 1); // every loss is > 0, so a flush shows
      // unread: the images of the batches pushed since the last read (what the progress line leaves out)
      expect(pending.unread).toBe(seen - 8 * 20 * Math.floor((i + 1) / 20));
    });
    expect(flushedAfter).toEqual([20, 40]);
    expect(pending.unread).toBe(4 * 8 + 5);
    expect(partial.correct).toBe(data.slice(0, 40).reduce((s, b) => s + b.correct, 0));
    pending.flush(partial, true);
    expect(pending.unread).toBe(0);
    expect(partial).toEqual(host); // bit for bit: the same additions in the same order
    pending.flush(partial, true); // nothing left: no change
    expect(partial).toEqual(host);
  });
});
