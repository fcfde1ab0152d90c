/**
 * Calls into the addon's CUDA part: one reused parameter array for every launch (the addon
 * checks every operand's extent against its block), and every Error the addon throws turned
 * into a DLError that names the op and says what to do.
 */
import { itemSize } from '../../dtype.js';
import { DLError } from '../../errors.js';
import type { TensorArg } from '../types.js';
import type { CudaAddon } from './addon.js';
import { encodeLaunch, launchLength } from './encode.js';

/** A CUDA buffer: a block of device memory from the caching allocator (ptr 0 when empty). */
export interface CudaBuffer {
  readonly ptr: number;
  readonly bytes: number;
}

export type CudaArg = TensorArg<CudaBuffer>;

/** The fix for a failure the addon reported, chosen by what its message says. */
export function cudaFix(message: string): string {
  if (/out of memory|cudaErrorMemoryAllocation/i.test(message)) {
    return 'free device memory: dispose() tensors you no longer need (or work inside scope()), use a smaller batch, or call cuda.emptyCache(); cuda.memoryStats() shows what is allocated and cached';
  }
  if (/target/i.test(message)) {
    return 'class-index targets must lie in [0, C) for C classes (or equal ignoreIndex); check the labels given to the loss';
  }
  if (/non-finite|NaN|Infinity/i.test(message)) {
    return 'replace NaN and +-Infinity (e.g. with where() or clamp()) before casting to an integer dtype';
  }
  if (/index/i.test(message)) {
    return 'index values must lie in [0, size) of the dim they index; check the index tensor';
  }
  return 'doctor() shows the driver, runtime and GPUs; run with CUDA_LAUNCH_BLOCKING=1 to report an asynchronous error at the launch that caused it';
}

/**
 * An Error thrown by the addon as a DLError (code CUDA) naming the op, with a fix unless the
 * message has its own ("Fix: ..."); DLErrors pass unchanged.
 */
export function cudaError(op: string, e: unknown): DLError {
  if (e instanceof DLError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new DLError('CUDA', op, message, /\bFix:/.test(message) ? undefined : cudaFix(message));
}

/** Runs an addon call, rethrowing its failure as a DLError of `op`. */
export function guarded<T>(op: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw cudaError(op, e);
  }
}

/** Device address of a tensor's first element (the multi-tensor layouts take these). */
export function address(x: CudaArg): number {
  return x.buf.ptr + x.offset * itemSize(x.dtype);
}

export class Launcher {
  private P = new Float64Array(256);

  constructor(private readonly cuda: CudaAddon) {}

  /** The parameter array, grown to hold at least n doubles. */
  private params(n: number): Float64Array {
    if (this.P.length < n) this.P = new Float64Array(2 ** Math.ceil(Math.log2(n)));
    return this.P;
  }

  /** Enqueues kernel `code` of the contract on `args` (ins, then outs) with its attributes. */
  kernel(op: string, code: number, args: readonly CudaArg[], attrs: readonly number[]): void {
    const P = this.params(launchLength(args.length, attrs.length));
    encodeLaunch(op, P, args, attrs);
    guarded(op, () => this.cuda.launch(code, P));
  }

  /** Enqueues a multi-tensor kernel whose parameters `encode` lays out in `length` doubles. */
  multiTensor(op: string, code: number, length: number, encode: (P: Float64Array) => void): void {
    const P = this.params(length);
    encode(P);
    guarded(op, () => this.cuda.launch(code, P));
  }
}
