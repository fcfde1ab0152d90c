/** What the nn test files share: reading tensors back, the fixtures' input sequences and weighting, and catching errors. */
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';
import { DLError, type Tensor, tensor } from '@dl/tensor';

export const values = (t: Tensor) => Array.from(t.dataSync());
export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
export const f64 = (data: readonly number[], shape: readonly number[]) => tensor(Float64Array.from(data), { shape: [...shape] });
export const i32 = (data: readonly number[], shape: readonly number[] = [data.length]) => tensor(Int32Array.from(data), { shape: [...shape] });
/** scale * sin(a i + b) over the elements of shape. */
export const seq = (shape: readonly number[], a = 0.37, b = 0.11, scale = 2) => Array.from({ length: numel(shape) }, (_, i) => scale * Math.sin(a * i + b));
/** sin(1 + 0.7 k): the output weighting of the backward passes (the fixtures' too). */
export const weighting = (n: number) => Array.from({ length: n }, (_, k) => Math.sin(1 + 0.7 * k));
/** sum(y * weighting): a scalar whose gradient is the weighting. */
export const weighted = (y: Tensor) => y.mul(f64(weighting(y.numel), y.shape)).sum();

/** The largest |got - want| / (1 + |want|), after checking that the lists have the same length. */
export function worstRel(got: readonly number[], want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (const [k, v] of got.entries()) worst = Math.max(worst, Math.abs(v - want[k]) / (1 + Math.abs(want[k])));
  return worst;
}

/** The DLError fn throws (the test fails if it throws something else, or nothing). */
export function caught(fn: () => unknown): DLError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DLError);
    return e as DLError;
  }
  throw new Error('expected a DLError');
}

/** A Python with PyTorch (the fixtures' reference), or undefined: the PyTorch comparisons then skip, saying so. */
export const python = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
