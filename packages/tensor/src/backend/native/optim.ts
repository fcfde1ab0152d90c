/**
 * Fused optimizer updates of the native backend: one addon call per step updates every
 * parameter (native/src/optim.cc, parallel over the thread pool). The lists go as arrays of
 * typed arrays, offsets and sizes in a parameter array laid out as binding.cc's SgdStep /
 * AdamStep comment says. Adam's bias corrections are computed here, as the per-tensor path
 * computes them, so both paths give the same bits.
 */
import type { TypedArray } from '../../dtype.js';
import { adamScalars } from '../cpu/optim.js';
import { numelOf } from '../cpu/strided.js';
import type { OptimizerKernels, TensorArg } from '../types.js';
import type { NativeAddon } from './addon.js';

type Arg = TensorArg<TypedArray>;

export function nativeOptim(addon: NativeAddon): OptimizerKernels<TypedArray> {
  return {
    sgd(params, grads, momentumBufs, attrs) {
      const P = new Float64Array(7 + 4 * params.length);
      P.set([attrs.lr, attrs.momentum, attrs.dampening, attrs.weightDecay, +attrs.nesterov, +attrs.maximize, +attrs.firstStep]);
      params.forEach((p, i) => {
        P.set([p.offset, grads[i].offset, momentumBufs?.[i].offset ?? 0, numelOf(p.shape)], 7 + 4 * i);
      });
      const bufs = (ts: readonly Arg[]) => ts.map((t) => t.buf);
      addon.sgdStep(bufs(params), bufs(grads), momentumBufs ? bufs(momentumBufs) : undefined, P);
    },
    adam(params, grads, expAvgs, expAvgSqs, maxExpAvgSqs, attrs) {
      const { stepSize, biasCorrection2Sqrt } = adamScalars(attrs);
      const P = new Float64Array(9 + 6 * params.length);
      P.set([attrs.lr, attrs.beta1, attrs.beta2, attrs.eps, attrs.weightDecay, +attrs.decoupledWeightDecay, +attrs.maximize, stepSize, biasCorrection2Sqrt]);
      params.forEach((p, i) => {
        P.set([p.offset, grads[i].offset, expAvgs[i].offset, expAvgSqs[i].offset, maxExpAvgSqs?.[i].offset ?? 0, numelOf(p.shape)], 9 + 6 * i);
      });
      const bufs = (ts: readonly Arg[]) => ts.map((t) => t.buf);
      addon.adamStep(bufs(params), bufs(grads), bufs(expAvgs), bufs(expAvgSqs), maxExpAvgSqs ? bufs(maxExpAvgSqs) : undefined, P);
    },
  };
}
