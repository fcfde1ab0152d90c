/**
 * A caching allocator for the native CPU backend's buffers (plain typed arrays, as the
 * TypeScript backend's). Creating a typed array is slow next to the kernels that fill it:
 * V8 zero-fills fresh memory, the OS maps and faults in new pages, and external memory
 * pressure triggers garbage collections. Measured on the 2-core benchmark machine: 23 us for
 * a fresh 4 KiB Float32Array, 200-800 us for 64 KiB to 2.3 MiB ones, against 2-70 us to zero
 * a reused one. A training step allocates the same shapes every iteration, so buffers freed
 * by dispose() (or by the FinalizationRegistry safety net) are kept per (dtype, length) and
 * handed out again, zero-filled, by alloc.
 *
 * Only buffers this allocator created are cached (never arrays adopted from user code with
 * `copy: false`), and a buffer whose ArrayBuffer was transferred away (detached, length 0)
 * is dropped. The cache holds at most DL_CPU_CACHE_MB MiB (default: an eighth of the machine's
 * memory; 0 disables it); beyond that freed buffers go to the garbage collector. It only ever
 * holds buffers the program freed, so never more than the program's own peak; a cap below a
 * training step's working set costs every step fresh pages for the buffers it dropped (a
 * ResNet-9 step at batch 32 on the 2-core benchmark machine: 590-660 ms with a 512 MiB cap,
 * 530-570 ms with 1 GiB or more).
 */
import { totalmem } from 'node:os';
import { type DType, type TypedArray, arrayCtor } from '../../dtype.js';
import { POISON_ALLOC, poison } from '../types.js';

export interface CacheStats {
  cachedBytes: number;
  cachedBuffers: number;
  limitBytes: number;
  hits: number;
  misses: number;
}

function defaultLimit(env: Record<string, string | undefined>): number {
  const v = env.DL_CPU_CACHE_MB;
  if (v !== undefined && v.trim() !== '' && Number.isFinite(Number(v)) && Number(v) >= 0) return Number(v) * 2 ** 20;
  return Math.floor(totalmem() / 8);
}

export class BufferCache {
  /** By constructor (bool and uint8 share Uint8Array), then by length. */
  private readonly buckets = new Map<unknown, Map<number, TypedArray[]>>();
  private readonly owned = new WeakSet<TypedArray>();
  private bytes = 0;
  private count = 0;
  private hits = 0;
  private misses = 0;

  constructor(readonly limitBytes: number = defaultLimit(process.env)) {}

  /** A cached buffer is zero-filled again unless `zeroed` is false (see Backend.alloc). */
  alloc(dtype: DType, numel: number, zeroed = true): TypedArray {
    const ctor = arrayCtor(dtype);
    const list = this.buckets.get(ctor)?.get(numel);
    while (list !== undefined && list.length > 0) {
      const buf = list.pop() as TypedArray;
      this.bytes -= buf.byteLength;
      this.count--;
      if (buf.length !== numel) continue; // detached since it was cached
      if (zeroed) buf.fill(0);
      else if (POISON_ALLOC) poison(buf, dtype);
      this.hits++;
      return buf;
    }
    this.misses++;
    const buf = new ctor(numel);
    if (this.limitBytes > 0) this.owned.add(buf);
    return !zeroed && POISON_ALLOC ? poison(buf, dtype) : buf;
  }

  free(buf: TypedArray): void {
    if (!this.owned.has(buf) || buf.length === 0) return;
    if (this.bytes + buf.byteLength > this.limitBytes) return;
    let byLength = this.buckets.get(buf.constructor);
    if (!byLength) {
      byLength = new Map();
      this.buckets.set(buf.constructor, byLength);
    }
    let list = byLength.get(buf.length);
    if (!list) {
      list = [];
      byLength.set(buf.length, list);
    }
    list.push(buf);
    this.bytes += buf.byteLength;
    this.count++;
  }

  /** Drops every cached buffer (they become garbage). */
  empty(): void {
    this.buckets.clear();
    this.bytes = 0;
    this.count = 0;
  }

  stats(): CacheStats {
    return { cachedBytes: this.bytes, cachedBuffers: this.count, limitBytes: this.limitBytes, hits: this.hits, misses: this.misses };
  }
}
