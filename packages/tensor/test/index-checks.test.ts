/**
 * Who checks index values: the front ends on the host, unless the backend's kernels do
 * (Backend.checksIndexValues, CUDA), in which case nothing waits for the device and the values
 * reach the kernel unread. Here a CPU backend that records what its kernels get plays both parts.
 */
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/backend/cpu/index.js';
import type { Backend, KernelTable } from '../src/index.js';
import { crossEntropy, gather, indexAdd, indexSelect, scatterAdd, tensor, zeros } from '../src/index.js';
import { withBackend } from './helpers.js';

/** cpuBackend with `checks` as its flag, whose index kernels record their call and return zeros instead of reading. */
function recording(checks: boolean): { backend: Backend; calls: string[] } {
  const calls: string[] = [];
  const kernels = { ...cpuBackend.kernels } as Record<string, unknown>;
  for (const op of ['indexSelect', 'indexAdd', 'gather', 'scatterAdd', 'crossEntropy']) {
    kernels[op] = (_ins: unknown, _attrs: unknown, outs: unknown) => {
      calls.push(op);
      return outs;
    };
  }
  return { backend: { ...cpuBackend, checksIndexValues: checks, kernels: kernels as unknown as KernelTable<unknown> } as Backend, calls };
}

const cases: [string, RegExp, () => unknown][] = [
  ['indexSelect', /index 5 is out of bounds for dimension 0 with size 3/, () => indexSelect(zeros([3, 2]), 0, tensor([0, 5], { dtype: 'int32' }))],
  ['indexAdd', /index -1 is out of bounds for dimension 1 with size 2/, () => indexAdd(zeros([3, 2]), 1, tensor([-1], { dtype: 'int32' }), zeros([3, 1]))],
  ['gather', /index 2 is out of bounds for dimension 1 with size 2/, () => gather(zeros([3, 2]), 1, tensor([[0], [2], [1]], { dtype: 'int32' }))],
  ['scatterAdd', /index 3 is out of bounds for dimension 0 with size 3/, () => scatterAdd(zeros([3, 2]), 0, tensor([[3, 0]], { dtype: 'int32' }), zeros([1, 2]))],
  ['crossEntropy', /target 10 is out of bounds: there are 10 classes/, () => crossEntropy(zeros([2, 10]), tensor([1, 10], { dtype: 'int32' }))],
];

describe('index values: checked on the host unless the backend checks them', () => {
  for (const [op, message, run] of cases) {
    it(`${op}: a bad value is a host error before any kernel runs`, () => {
      const { backend, calls } = recording(false);
      withBackend(backend, () => expect(run).toThrowError(message));
      expect(calls).toEqual([]);
    });

    it(`${op}: with checksIndexValues the kernel gets the values (it reports them; nothing waits)`, () => {
      const { backend, calls } = recording(true);
      withBackend(backend, () => run());
      expect(calls).toContain(op);
    });
  }
});
