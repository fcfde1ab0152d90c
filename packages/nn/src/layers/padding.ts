/**
 * Padding layers over F.pad: ZeroPad2d, ConstantPad1d, ConstantPad2d, ReflectionPad1d,
 * ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, CircularPad2d. `padding` is one int for
 * every side, or (left, right) in 1-d and (left, right, top, bottom) in 2-d.
 */
import { DLError } from '@dl/tensor';
import type { PadMode, Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import { fmt, fmtShape } from '../internal.js';
import { Module } from '../module.js';

abstract class PadNd extends Module {
  readonly padding: number[];
  constructor(
    padding: number | readonly number[],
    private readonly spatialDims: 1 | 2,
    readonly mode: PadMode,
    readonly value = 0,
  ) {
    super();
    const n = 2 * spatialDims;
    const pads = typeof padding === 'number' ? new Array<number>(n).fill(padding) : [...padding];
    if (pads.length !== n || !pads.every((p) => Number.isInteger(p) && p >= 0)) {
      const names = spatialDims === 1 ? '(left, right)' : '(left, right, top, bottom)';
      throw new DLError('ARGUMENT', this.constructor.name, `padding must be an integer >= 0 or ${n} of them ${names}; got ${JSON.stringify(padding)}`);
    }
    this.padding = pads;
  }

  override forward(input: Tensor): Tensor {
    const nd = this.spatialDims + 2;
    // Constant padding takes any rank (it pads the last dims); the others need a channel dim.
    if (this.mode !== 'constant' ? input.ndim !== nd && input.ndim !== nd - 1 : input.ndim < this.spatialDims) {
      throw new DLError('SHAPE', this.constructor.name, `expected a ${nd - 1}D (unbatched) or ${nd}D (batched) input; got shape ${fmtShape(input.shape)}`);
    }
    return F.pad(input, this.padding, this.mode, this.value);
  }

  override extraRepr(): string {
    return this.mode === 'constant' ? `${fmt(this.padding)}, value=${this.value}` : fmt(this.padding);
  }
}

/** ConstantPad1d(padding, value): pads the last dim with value. */
export class ConstantPad1d extends PadNd {
  constructor(padding: number | readonly [number, number], value: number) {
    super(padding, 1, 'constant', value);
  }
}

/** ConstantPad2d(padding, value): pads the last two dims with value. */
export class ConstantPad2d extends PadNd {
  constructor(padding: number | readonly [number, number, number, number], value: number) {
    super(padding, 2, 'constant', value);
  }
}

/** ZeroPad2d(padding): pads the last two dims with zeros. */
export class ZeroPad2d extends PadNd {
  constructor(padding: number | readonly [number, number, number, number]) {
    super(padding, 2, 'constant', 0);
  }
}

/** ReflectionPad1d(padding): mirrors the last dim without repeating the edge (each pad < its size). */
export class ReflectionPad1d extends PadNd {
  constructor(padding: number | readonly [number, number]) {
    super(padding, 1, 'reflect');
  }
}

/** ReflectionPad2d(padding): mirrors the last two dims without repeating the edge. */
export class ReflectionPad2d extends PadNd {
  constructor(padding: number | readonly [number, number, number, number]) {
    super(padding, 2, 'reflect');
  }
}

/** ReplicationPad1d(padding): repeats the edge values of the last dim. */
export class ReplicationPad1d extends PadNd {
  constructor(padding: number | readonly [number, number]) {
    super(padding, 1, 'replicate');
  }
}

/** ReplicationPad2d(padding): repeats the edge values of the last two dims. */
export class ReplicationPad2d extends PadNd {
  constructor(padding: number | readonly [number, number, number, number]) {
    super(padding, 2, 'replicate');
  }
}

/** CircularPad2d(padding): wraps the last two dims around (each pad at most its size). */
export class CircularPad2d extends PadNd {
  constructor(padding: number | readonly [number, number, number, number]) {
    super(padding, 2, 'circular');
  }
}
