/**
 * Layout plans of the CUDA kernel table, as pure functions (unit-tested without a GPU):
 * matmul's batch dims merged to the rank-3 launches of the contract, and the strided views of
 * the output that cat and pad copy their inputs into.
 */
import { forEachBatch, matmulBatch } from '../matmul-batch.js';
import type { Pair } from '../types.js';

export interface Layout {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/** One rank-3 launch: a (B, M, K) x b (B, K, N) -> y (B, M, N). */
export interface MatmulLaunch {
  readonly a: Layout;
  readonly b: Layout;
  readonly y: Layout;
}

/**
 * The launches computing y = a @ b, where a (..., M, K), b (..., K, N) and y (..., M, N) have
 * batch dims aligned on the right (missing or size-1 dims of a and b broadcast). Batch dims
 * that all three step through as one are merged; when b is shared by the whole batch and a's
 * and y's batches stack their rows, the product is one tall (1, B*M, K) x (1, K, N) GEMM;
 * any remaining outer batch dims (more than one unmergeable dim) become one launch each
 * (the batch arithmetic is ../matmul-batch.ts).
 */
export function matmulPlan(a: Layout, b: Layout, y: Layout): MatmulLaunch[] {
  const g = matmulBatch(a, b, y);
  const last = g.size.length - 1;
  const B = last >= 0 ? g.size[last] : 1;
  const st = last >= 0 ? [g.sa[last], g.sb[last], g.sy[last]] : [0, 0, 0];
  const launches: MatmulLaunch[] = [];
  forEachBatch(g, last, a.offset, b.offset, y.offset, (oa, ob, oy) => {
    launches.push({
      a: { shape: [B, g.rows, g.K], strides: [st[0], g.rsA, g.csA], offset: oa },
      b: { shape: [B, g.K, g.N], strides: [st[1], g.rsB, g.csB], offset: ob },
      y: { shape: [B, g.rows, g.N], strides: [st[2], g.rsY, g.csY], offset: oy },
    });
  });
  return launches;
}

/** cat: the view of the output each input is copied into (consecutive slabs along dim). */
export function catViews(y: Layout, dim: number, inputShapes: readonly (readonly number[])[]): Layout[] {
  let at = 0;
  return inputShapes.map((shape) => {
    const view = { shape, strides: y.strides, offset: y.offset + at * y.strides[dim] };
    at += shape[dim];
    return view;
  });
}

/** pad: the view of the output (already filled with the pad value) the input is copied into. */
export function padInterior(y: Layout, inputShape: readonly number[], pads: readonly Pair[]): Layout {
  let offset = y.offset;
  for (let d = 0; d < inputShape.length; d++) offset += pads[d][0] * y.strides[d];
  return { shape: inputShape, strides: y.strides, offset };
}
