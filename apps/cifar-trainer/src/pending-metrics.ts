/** Training metrics kept on the device between reads (see PendingMetrics). */
import { cat, keep, scope, stack } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';

/**
 * Each batch's loss sum and correct count, kept on the training device and read back in one
 * transfer every `every` batches: a read waits for the device, so on CUDA reading them every
 * step (PyTorch's `running_loss += loss.item()`) would stall the stream twice a step. They are
 * added on the host in batch order, so the sums are the same whatever `every` is.
 */
export class PendingMetrics {
  private batches: Tensor[] = [];
  /** Images recorded and not yet read back (not in `partial` yet). */
  unread = 0;
  constructor(private readonly every: number) {}

  /** Records [loss * batch size, correct predictions] (float64, on the device). */
  push(loss: Tensor, logits: Tensor, y: Tensor): void {
    const size = y.shape[0];
    this.unread += size;
    this.batches.push(keep(stack([loss.detach().to('float64').mul(size), logits.detach().argmax(1).eq(y).sum().to('float64')])));
  }

  /** Adds what is recorded to `partial` when `every` batches are waiting (or when forced). */
  flush(partial: { lossSum: number; correct: number }, force = false): void {
    if (this.batches.length === 0 || (!force && this.batches.length < this.every)) return;
    const values = scope(() => cat(this.batches).cpu().dataSync());
    for (const t of this.batches) t.dispose();
    this.batches = [];
    this.unread = 0;
    for (let i = 0; i < values.length; i += 2) {
      partial.lossSum += values[i];
      partial.correct += values[i + 1];
    }
  }
}
