/**
 * matmul's batch dims as strided GEMMs, shared by the backends' matmul kernels (the TypeScript
 * CPU kernel, the native kernel table and the CUDA launch plan). Pure layout arithmetic: no
 * buffers are touched.
 *
 * y = a @ b with a (..., M, K), b (..., K, N) and y (..., M, N): batch dims are aligned on the
 * right; a missing or size-1 batch dim of a or b broadcasts (stride 0); size-1 dims of y are
 * dropped; neighbouring dims that all three operands step through as one are merged. When b is
 * shared by the whole (single, merged) batch and a's and y's batches stack their rows, the
 * batch folds into the rows of one tall (B*M, K) x (K, N) GEMM.
 */

/** The layout of one operand; only shape and strides are read. */
export interface StridedShape {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
}

export interface MatmulBatch {
  /** The matrix dims: y is M x N, the reduction is K long. */
  readonly M: number;
  readonly N: number;
  readonly K: number;
  /** Rows of each GEMM: M, or M times the batch when it folds into one tall GEMM. */
  readonly rows: number;
  /** Row and column strides of a, b and y. */
  readonly rsA: number;
  readonly csA: number;
  readonly rsB: number;
  readonly csB: number;
  readonly rsY: number;
  readonly csY: number;
  /** The remaining batch dims, outermost first (empty when there is one GEMM). */
  readonly size: readonly number[];
  /** Each operand's stride along those dims (0 where it broadcasts). */
  readonly sa: readonly number[];
  readonly sb: readonly number[];
  readonly sy: readonly number[];
}

/** The GEMMs computing y = a @ b: matrix dims, strides, and the merged batch dims. */
export function matmulBatch(a: StridedShape, b: StridedShape, y: StridedShape): MatmulBatch {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const ry = y.shape.length;
  const M = y.shape[ry - 2];
  const rsA = a.strides[ra - 2];
  const rsY = y.strides[ry - 2];
  let size: number[] = [];
  let sa: number[] = [];
  let sb: number[] = [];
  let sy: number[] = [];
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
  let rows = M;
  if (size.length === 1 && sb[0] === 0 && sa[0] === M * rsA && sy[0] === M * rsY) {
    rows = M * size[0];
    size = [];
    sa = [];
    sb = [];
    sy = [];
  }
  return {
    M,
    N: y.shape[ry - 1],
    K: a.shape[ra - 1],
    rows,
    rsA,
    csA: a.strides[ra - 1],
    rsB: b.strides[rb - 2],
    csB: b.strides[rb - 1],
    rsY,
    csY: y.strides[ry - 1],
    size,
    sa,
    sb,
    sy,
  };
}

/**
 * Calls `fn` with the offsets of a, b and y at every index of the first `dims` batch dims of
 * `batch` (odometer order, the last of them fastest), starting from the given offsets; with
 * `dims` 0 or less, once with the offsets themselves.
 */
export function forEachBatch(
  batch: MatmulBatch,
  dims: number,
  oa: number,
  ob: number,
  oy: number,
  fn: (oa: number, ob: number, oy: number) => void,
): void {
  const { size, sa, sb, sy } = batch;
  const nd = Math.max(0, dims);
  let total = 1;
  for (let d = 0; d < nd; d++) total *= size[d];
  const idx = new Array<number>(nd).fill(0);
  for (let t = 0; t < total; t++) {
    fn(oa, ob, oy);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      oa += sa[d];
      ob += sb[d];
      oy += sy[d];
      if (idx[d] < size[d]) break;
      oa -= sa[d] * size[d];
      ob -= sb[d] * size[d];
      oy -= sy[d] * size[d];
      idx[d] = 0;
    }
  }
}
