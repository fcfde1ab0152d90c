/**
 * Data types and PyTorch's type-promotion rules.
 *
 * int64 is not a dtype here: where PyTorch hands out int64 (labels, argmax,
 * indices of max/min, randint, randperm, arange of integers) we hand out int32.
 */
export const DTYPES = ['bool', 'uint8', 'int32', 'float32', 'float64'] as const;
export type DType = (typeof DTYPES)[number];

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : Uint8Array;

const ARRAY_CTORS = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

export function arrayCtor(dtype: DType): { new (n: number): TypedArray; BYTES_PER_ELEMENT: number } {
  return ARRAY_CTORS[dtype];
}

export function itemSize(dtype: DType): number {
  return ARRAY_CTORS[dtype].BYTES_PER_ELEMENT;
}

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function isIntegral(dtype: DType): boolean {
  return dtype === 'int32' || dtype === 'uint8';
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

/** Category used by PyTorch's promotion: bool < integer < floating. */
export type Category = 0 | 1 | 2;
export function category(dtype: DType): Category {
  return dtype === 'bool' ? 0 : isIntegral(dtype) ? 1 : 2;
}

/** torch.promote_types for two dtypes. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  const ca = category(a);
  const cb = category(b);
  if (ca !== cb) return ca > cb ? a : b;
  // Same category, different types: int32/uint8 -> int32, float32/float64 -> float64.
  if (ca === 1) return 'int32';
  return 'float64';
}

/** The dtype a JavaScript value gets when it becomes a tensor on its own. */
export function dtypeOfScalar(v: number | boolean): DType {
  if (typeof v === 'boolean') return 'bool';
  return Number.isInteger(v) ? 'int32' : 'float32';
}

/** The default floating dtype (torch.get_default_dtype()). */
export const DEFAULT_FLOAT: DType = 'float32';

/**
 * Result dtype of an op over operands, following PyTorch: dimensioned tensors
 * take priority over zero-dim tensors, which take priority over JS numbers;
 * a lower-priority operand only matters when it is of a higher category.
 */
export function resultType(operands: ReadonlyArray<{ dtype: DType; ndim: number } | number | boolean>): DType {
  let dimmed: DType | undefined;
  let zeroDim: DType | undefined;
  let scalar: DType | undefined;
  for (const o of operands) {
    if (typeof o === 'number' || typeof o === 'boolean') {
      const d = dtypeOfScalar(o);
      scalar = scalar === undefined ? d : promoteTypes(scalar, d);
    } else if (o.ndim === 0) {
      zeroDim = zeroDim === undefined ? o.dtype : promoteTypes(zeroDim, o.dtype);
    } else {
      dimmed = dimmed === undefined ? o.dtype : promoteTypes(dimmed, o.dtype);
    }
  }
  let out = dimmed;
  if (zeroDim !== undefined && (out === undefined || category(zeroDim) > category(out))) out = zeroDim;
  if (scalar !== undefined && (out === undefined || category(scalar) > category(out))) {
    // A JS number of a higher category takes the default dtype of its category.
    out = category(scalar) === 2 ? DEFAULT_FLOAT : scalar;
  }
  return out ?? DEFAULT_FLOAT;
}
