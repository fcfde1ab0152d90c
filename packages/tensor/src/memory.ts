/**
 * Memory: reference-counted storages, `dispose()`, scopes that free what was
 * created inside them (and work across `await`), a FinalizationRegistry safety
 * net, and `memoryStats()`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Backend } from './backend/types.js';
import type { DType } from './dtype.js';
import { itemSize } from './dtype.js';

/** A buffer of a backend, shared by a tensor and all its views. */
export class Storage {
  /** Tensors (views) holding this storage. */
  refs = 0;
  /** Bumped by every in-place write; autograd compares it with saved versions. */
  version = 0;
  freed = false;
  constructor(
    readonly backend: Backend,
    readonly device: string,
    readonly buf: unknown,
    readonly dtype: DType,
    readonly numel: number,
  ) {
    const s = statsFor(device);
    s.buffers++;
    s.bytes += this.bytes;
  }
  get bytes(): number {
    return this.numel * itemSize(this.dtype);
  }
  release(): void {
    if (--this.refs > 0 || this.freed) return;
    this.freed = true;
    this.backend.free(this.buf);
    const s = statsFor(this.device);
    s.buffers--;
    s.bytes -= this.bytes;
  }
}

interface DeviceStats {
  tensors: number;
  buffers: number;
  bytes: number;
}
const stats = new Map<string, DeviceStats>();
function statsFor(device: string): DeviceStats {
  let s = stats.get(device);
  if (!s) {
    s = { tensors: 0, buffers: 0, bytes: 0 };
    stats.set(device, s);
  }
  return s;
}

export interface MemoryStats {
  /** Live (not disposed) tensors, views included. */
  liveTensors: number;
  /** Live buffers (storages). */
  liveBuffers: number;
  /** Bytes held by live buffers. */
  liveBytes: number;
  /** The same per device. */
  devices: Record<string, { liveTensors: number; liveBuffers: number; liveBytes: number }>;
}

export function memoryStats(): MemoryStats {
  const out: MemoryStats = { liveTensors: 0, liveBuffers: 0, liveBytes: 0, devices: {} };
  for (const [device, s] of stats) {
    out.liveTensors += s.tensors;
    out.liveBuffers += s.buffers;
    out.liveBytes += s.bytes;
    out.devices[device] = { liveTensors: s.tensors, liveBuffers: s.buffers, liveBytes: s.bytes };
  }
  return out;
}

/** What memory management needs to know of a tensor. */
export interface Disposable {
  readonly storage: Storage;
  readonly isDisposed: boolean;
  /** @internal Whether the safety net (the FinalizationRegistry) holds it: see watch(). */
  watched: boolean;
  dispose(): void;
}

export function countTensor(device: string, delta: 1 | -1): void {
  statsFor(device).tensors += delta;
}

/** Safety net: a tensor collected without dispose() releases its storage. */
const finalizer = new FinalizationRegistry<{ storage: Storage; device: string }>((held) => {
  countTensor(held.device, -1);
  held.storage.release();
});

/**
 * Puts a tensor under the safety net. Only tensors that no scope holds need it: a scope's frame
 * references its tensors strongly (so they cannot be collected) and disposes them when it
 * closes. So a tensor is watched when it is made outside any scope (`adopt`), when keep() takes
 * it out of its scopes, and when it outlives the outermost scope as part of a result. Registering
 * every tensor at birth cost a seventh of the host's time for a training step.
 */
export function watch(t: Disposable): void {
  if (t.watched || t.isDisposed) return;
  t.watched = true;
  finalizer.register(t, { storage: t.storage, device: t.storage.device }, t);
}
/** Takes a tensor off the safety net (it was disposed, or its storage is about to change). */
export function unwatch(t: Disposable): void {
  if (!t.watched) return;
  t.watched = false;
  finalizer.unregister(t);
}

/** A new tensor: recorded in the innermost scope if there is one, else put under the safety net. */
export function adopt(t: Disposable): void {
  const frame = currentScope.getStore();
  if (frame) frame.tensors.add(t);
  else watch(t);
}

class ScopeFrame {
  readonly tensors = new Set<Disposable>();
  constructor(readonly parent: ScopeFrame | undefined) {}
  close(result: unknown): void {
    const kept = new Set<Disposable>();
    collectTensors(result, kept, new Set());
    for (const t of this.tensors) {
      if (kept.has(t)) {
        if (this.parent) this.parent.tensors.add(t);
        else watch(t);
      } else if (!t.isDisposed) t.dispose();
    }
    this.tensors.clear();
  }
}

const currentScope = new AsyncLocalStorage<ScopeFrame>();

/**
 * Take a tensor out of every scope: it lives until disposed (or collected).
 * Modules and optimizers keep their parameters and state this way.
 */
export function keep<T extends Disposable>(t: T): T {
  let s = currentScope.getStore();
  while (s) {
    s.tensors.delete(t);
    s = s.parent;
  }
  watch(t);
  return t;
}

function isTensorLike(v: unknown): v is Disposable {
  return typeof v === 'object' && v !== null && 'storage' in v && typeof (v as Disposable).dispose === 'function';
}

function collectTensors(v: unknown, out: Set<Disposable>, seen: Set<unknown>): void {
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  if (isTensorLike(v)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collectTensors(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) collectTensors(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collectTensors(x, out, seen);
}

/**
 * Run `fn` and dispose every tensor created inside it, except the tensors found
 * in its result (the value itself, or inside arrays, Maps and plain objects),
 * which move to the enclosing scope. Works with async functions: the scope ends
 * when the promise settles, and concurrent async scopes do not mix.
 */
export function scope<T>(fn: () => T): T {
  const frame = new ScopeFrame(currentScope.getStore());
  let result: T;
  try {
    result = currentScope.run(frame, fn);
  } catch (e) {
    frame.close(undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => {
        frame.close(r);
        return r;
      },
      (e) => {
        frame.close(undefined);
        throw e;
      },
    ) as T;
  }
  frame.close(result);
  return result;
}
