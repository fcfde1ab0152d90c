/**
 * The CUDA backend (device 'cuda'): buffers are blocks of device memory from the addon's
 * caching allocator, `{ ptr, bytes }`; alloc zero-fills them on the stream, write uploads,
 * read downloads (waiting for the stream, so a pending device error surfaces there), free
 * returns the block to the cache (the addon checks every address range against its live
 * blocks). Kernels, device sampling and fused optimizer steps are in kernels.ts; availability,
 * lazy registration and the public `cuda` API in runtime.ts.
 */
import { arrayCtor, type DType, itemSize, type TypedArray } from '../../dtype.js';
import { type Backend, POISON_ALLOC } from '../types.js';
import type { CudaAddon } from './addon.js';
import { cudaKernels, cudaOptimizers, cudaRandom } from './kernels.js';
import { type CudaBuffer, guarded, Launcher } from './launch.js';

export type { CudaBuffer } from './launch.js';

const EMPTY: CudaBuffer = { ptr: 0, bytes: 0 };

/** Host values as the dtype's typed array (converted as a typed-array store does; bool as 0/1, NaN -> 1). */
export function hostValues(dtype: DType, src: TypedArray): TypedArray {
  if (dtype === 'bool') return src instanceof Uint8Array && src.every((v) => v <= 1) ? src : Uint8Array.from(src, (v) => (v !== 0 ? 1 : 0));
  const Ctor = arrayCtor(dtype);
  if (src instanceof Ctor) return src;
  const out = new Ctor(src.length);
  out.set(src);
  return out;
}

export function makeCudaBackend(cuda: CudaAddon): Backend<CudaBuffer> {
  const run = new Launcher(cuda);
  return {
    name: 'cuda',
    deviceType: 'cuda',
    alloc(dtype, numel, zeroed = true) {
      const bytes = numel * itemSize(dtype);
      if (bytes === 0) return EMPTY;
      const ptr = guarded('cuda.malloc', () => cuda.malloc(bytes));
      // Outputs their kernel writes in full skip the fill (one launch less per op); under
      // DL_POISON_ALLOC they get 0xFF bytes (NaN for floats, -1 / 255 for integers).
      if (!zeroed && !POISON_ALLOC) return { ptr, bytes };
      guarded('cuda.memset', () => {
        try {
          cuda.memset(ptr, bytes, zeroed ? 0 : 0xff);
        } catch (e) {
          cuda.free(ptr);
          throw e;
        }
      });
      return { ptr, bytes };
    },
    free(buf) {
      if (buf.ptr !== 0) guarded('cuda.free', () => cuda.free(buf.ptr));
    },
    write(buf, dtype, offset, src) {
      if (src.length === 0) return;
      const values = hostValues(dtype, src);
      guarded('cuda.upload', () => cuda.upload(buf.ptr + offset * itemSize(dtype), values));
    },
    read(buf, dtype, offset, numel) {
      const out = new (arrayCtor(dtype))(numel);
      if (numel === 0) return out;
      guarded('cuda.download', () => cuda.download(out, buf.ptr + offset * itemSize(dtype)));
      return out;
    },
    kernels: cudaKernels(run),
    checksIndexValues: true,
    optim: cudaOptimizers(run),
    random: cudaRandom(run),
  };
}
