/** Shared by the optimizer and scheduler tests. */
import { expect } from 'vitest';
import { DLError } from '@dl/tensor';
import type { Backend, ErrorCode } from '@dl/tensor';

/** Each call throws a DLError (of `code`, when given) whose message matches its pattern. */
export function expectDLErrors(cases: readonly (readonly [() => unknown, RegExp])[], code?: ErrorCode): void {
  for (const [make, re] of cases) {
    let err: unknown;
    try {
      make();
    } catch (e) {
      err = e;
    }
    expect(err, String(re)).toBeInstanceOf(DLError);
    if (code !== undefined) expect((err as DLError).code).toBe(code);
    expect((err as Error).message).toMatch(re);
  }
}


type FusedKernels = NonNullable<Backend['optim']>;

/** `kernels`' fused SGD and Adam steps, calling `onCall` before each (to count the fused calls). */
export function countingKernels(kernels: FusedKernels, onCall: () => void): Pick<FusedKernels, 'sgd' | 'adam'> {
  return {
    sgd: (...a: Parameters<FusedKernels['sgd']>) => {
      onCall();
      kernels.sgd(...a);
    },
    adam: (...a: Parameters<FusedKernels['adam']>) => {
      onCall();
      kernels.adam(...a);
    },
  };
}
