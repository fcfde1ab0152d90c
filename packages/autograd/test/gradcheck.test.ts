import { describe, expect, it } from 'vitest';
import { Generator, scope } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { OP_SPECS, nonContiguous } from '@dl/tensor/testing';
import { gradcheck } from '../src/index.js';

const isFloat = (t: Tensor) => t.dtype === 'float32' || t.dtype === 'float64';

function prepare(spec: (typeof OP_SPECS)[number], strided: boolean): Tensor[] {
  return spec.inputs(new Generator(99)).map((x) => {
    if (!isFloat(x)) return x;
    const d = x.to('float64');
    return (strided ? nonContiguous(d) : d).requiresGrad_();
  });
}

describe('gradcheck (float64 central differences) for every differentiable op spec', () => {
  const specs = OP_SPECS.filter((s) => s.grad);
  it.each(specs.map((s) => [s.name, s] as const))('%s: contiguous and strided inputs', (_n, spec) => {
    scope(() => {
      expect(gradcheck(spec.fn, prepare(spec, false))).toBe(true);
      expect(gradcheck(spec.fn, prepare(spec, true))).toBe(true);
    });
  });

  it('covers the kernels whose gradient rules are not exercised only through composites', () => {
    const covered = new Set(specs.flatMap((s) => s.covers));
    for (const op of ['matmul', 'conv2d', 'maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d', 'adaptiveMaxPool2d', 'softmax', 'logSoftmax', 'gelu', 'pad', 'cat', 'indexSelect', 'gather', 'scatterAdd', 'crossEntropy', 'crossEntropyBackward']) {
      expect(covered.has(op as never)).toBe(true);
    }
  });
});
