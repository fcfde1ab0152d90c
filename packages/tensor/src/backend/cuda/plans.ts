/**
 * Layout plans of the CUDA kernel table, as pure functions (unit-tested without a GPU):
 * matmul's batch dims merged to the rank-3 launches of the contract, and the strided views of
 * the output that cat and pad copy their inputs into.
 */
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
 * any remaining outer batch dims (more than one unmergeable dim) become one launch each.
 */
export function matmulPlan(a: Layout, b: Layout, y: Layout): MatmulLaunch[] {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const ry = y.shape.length;
  const M = y.shape[ry - 2];
  const N = y.shape[ry - 1];
  const K = a.shape[ra - 1];
  const rsA = a.strides[ra - 2];
  const csA = a.strides[ra - 1];
  const rsB = b.strides[rb - 2];
  const csB = b.strides[rb - 1];
  const rsY = y.strides[ry - 2];
  const csY = y.strides[ry - 1];
  const size: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  const sy: number[] = [];
  for (let d = 0; d < ry - 2; d++) {
    const n = y.shape[d];
    if (n === 1) continue;
    const da = d - (ry - ra);
    const db = d - (ry - rb);
    const strideA = da >= 0 && a.shape[da] !== 1 ? a.strides[da] : 0;
    const strideB = db >= 0 && b.shape[db] !== 1 ? b.strides[db] : 0;
    const k = size.length - 1;
    if (k >= 0 && sa[k] === strideA * n && sb[k] === strideB * n && sy[k] === y.strides[d] * n) {
      size[k] *= n;
      sa[k] = strideA;
      sb[k] = strideB;
      sy[k] = y.strides[d];
    } else {
      size.push(n);
      sa.push(strideA);
      sb.push(strideB);
      sy.push(y.strides[d]);
    }
  }
  const launch = (B: number, rows: number, st: [number, number, number], off: [number, number, number]): MatmulLaunch => ({
    a: { shape: [B, rows, K], strides: [st[0], rsA, csA], offset: off[0] },
    b: { shape: [B, K, N], strides: [st[1], rsB, csB], offset: off[1] },
    y: { shape: [B, rows, N], strides: [st[2], rsY, csY], offset: off[2] },
  });
  if (size.length === 1 && sb[0] === 0 && sa[0] === M * rsA && sy[0] === M * rsY) {
    return [launch(1, M * size[0], [0, 0, 0], [a.offset, b.offset, y.offset])];
  }
  const last = size.length - 1;
  const B = last >= 0 ? size[last] : 1;
  const inner: [number, number, number] = last >= 0 ? [sa[last], sb[last], sy[last]] : [0, 0, 0];
  // Outer batch dims, walked odometer-style.
  const idx = new Array<number>(Math.max(0, last)).fill(0);
  let outer = 1;
  for (let d = 0; d < last; d++) outer *= size[d];
  const off: [number, number, number] = [a.offset, b.offset, y.offset];
  const launches: MatmulLaunch[] = [];
  for (let t = 0; t < outer; t++) {
    launches.push(launch(B, M, inner, [off[0], off[1], off[2]]));
    for (let d = last - 1; d >= 0; d--) {
      idx[d]++;
      off[0] += sa[d];
      off[1] += sb[d];
      off[2] += sy[d];
      if (idx[d] < size[d]) break;
      off[0] -= sa[d] * size[d];
      off[1] -= sb[d] * size[d];
      off[2] -= sy[d] * size[d];
      idx[d] = 0;
    }
  }
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
