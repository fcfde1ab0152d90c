/** Shapes, strides and broadcasting: pure functions over numbers, no tensor memory. */
import { fail, fmtShape } from './errors.js';

export type Shape = readonly number[];

export interface Layout {
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function isContiguous(l: Layout): boolean {
  let s = 1;
  for (let i = l.shape.length - 1; i >= 0; i--) {
    if (l.shape[i] !== 1 && l.strides[i] !== s) return false;
    s *= l.shape[i];
  }
  return true;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Broadcast shapes by NumPy/PyTorch rules (align right; 1 stretches). */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(nd).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = nd - s.length + i;
      const d = s[i];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        fail(
          'BROADCAST',
          op,
          `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast: dimension ${j - nd} is ${out[j]} in one and ${d} in another`,
          'sizes must match or be 1 in every dimension counted from the right; reshape or unsqueeze one operand',
        );
      }
    }
  }
  return out;
}

/** Normalise a possibly negative dim for a tensor of rank `ndim`. */
export function normalizeDim(op: string, dim: number, ndim: number): number {
  if (!Number.isInteger(dim)) fail('ARGUMENT', op, `dim must be an integer; got ${dim}`);
  const lo = -Math.max(ndim, 1);
  const hi = Math.max(ndim, 1) - 1;
  if (dim < lo || dim > hi) {
    fail('DIM', op, `dim ${dim} is out of range for a tensor of rank ${ndim}; expected a dim in [${lo}, ${hi}]`);
  }
  return dim < 0 ? dim + Math.max(ndim, 1) : dim;
}

/** Normalise a dims argument (undefined = all dims) into sorted unique dims. */
export function normalizeDims(op: string, dims: number | readonly number[] | undefined, ndim: number): number[] {
  if (dims === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : dims;
  const out = list.map((d) => normalizeDim(op, d, ndim));
  const set = new Set(out);
  if (set.size !== out.length) fail('DIM', op, `dims ${JSON.stringify(list)} repeat a dimension`);
  return [...set].sort((a, b) => a - b);
}

/**
 * Strides for viewing a tensor of `shape`/`strides` as `newShape` without a copy,
 * or undefined when the memory layout does not allow it (PyTorch's computeStride).
 */
export function viewStrides(shape: Shape, strides: readonly number[], newShape: Shape): number[] | undefined {
  const newStrides = new Array<number>(newShape.length);
  if (numel(shape) === 0) return contiguousStrides(newShape);
  // A scalar (or all-ones shape) reshapes to any shape of one element.
  if (shape.every((d) => d === 1)) return contiguousStrides(newShape);
  let viewD = newShape.length - 1;
  let chunkBase = strides[strides.length - 1] ?? 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d];
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        newStrides[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return undefined;
      if (d > 0) {
        chunkBase = strides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return undefined;
  return newStrides;
}

/** Resolve a -1 in a requested shape. */
export function inferShape(op: string, shape: Shape, size: number): number[] {
  let infer = -1;
  let known = 1;
  shape.forEach((d, i) => {
    if (d === -1) {
      if (infer !== -1) fail('SHAPE', op, `only one dimension can be -1; got ${fmtShape(shape)}`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      fail('SHAPE', op, `invalid size ${d} in shape ${fmtShape(shape)}; sizes must be non-negative integers or -1`);
    } else known *= d;
  });
  const out = [...shape];
  if (infer !== -1) {
    if (known === 0 || size % known !== 0) {
      fail('SHAPE', op, `shape ${fmtShape(shape)} is invalid for input of size ${size}`);
    }
    out[infer] = size / known;
  } else if (known !== size) {
    fail('SHAPE', op, `shape ${fmtShape(shape)} is invalid for input of size ${size}`, 'the new shape must have the same number of elements');
  }
  return out;
}
