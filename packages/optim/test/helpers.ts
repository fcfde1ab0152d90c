/** Shared by the optimizer tests that look at the fused kernels (fused.test.ts, cuda.test.ts). */
import type { Backend } from '@dl/tensor';

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
