/**
 * The CUDA kernel table, device sampling and fused optimizer steps. Every op of KernelAttrs
 * is one launch of the contract's kernel of the same name (operands and attributes encoded by
 * encode.ts), except:
 *   - matmul: operands merged or looped to the contract's rank-3 launches (plans.ts);
 *   - cat: one copy of each input into its slab of the output;
 *   - pad: a fill of the output (skipped for 0: outputs are allocated zero-filled), then a copy
 *     of the input into the output's interior.
 * A kernel whose outputs are all empty launches nothing.
 */
import { fail } from '../../errors.js';
import { numel } from '../../layout.js';
import type { Kernel, KernelAttrs, KernelTable, OptimizerKernels, RandomKernels } from '../types.js';
import { type AdamTensor, ATTR_ENCODERS, adamLength, encodeAdam, encodeSgd, LAUNCH_CODE, type LaunchedOp, philoxAttrs, type SgdTensor, sgdLength } from './encode.js';
import { address, type CudaArg, type CudaBuffer, type Launcher } from './launch.js';
import { catViews, type Layout, matmulPlan, padInterior } from './plans.js';

type K<A> = Kernel<A, CudaBuffer>;
type LaunchedKernels = { readonly [Op in LaunchedOp]: K<KernelAttrs[Op]> };

const allEmpty = (outs: readonly CudaArg[]) => outs.every((o) => numel(o.shape) === 0);
const viewOf = (x: CudaArg, layout: Layout): CudaArg => ({ buf: x.buf, dtype: x.dtype, ...layout });

export function cudaKernels(run: Launcher): KernelTable<CudaBuffer> {
  function launched<Op extends LaunchedOp>(op: Op): K<KernelAttrs[Op]> {
    const code = LAUNCH_CODE[op];
    const encode = ATTR_ENCODERS[op] as (attrs: KernelAttrs[Op]) => number[];
    return (ins, outs, attrs) => {
      if (!allEmpty(outs)) run.kernel(op, code, [...ins, ...outs], encode(attrs));
    };
  }
  const table = Object.fromEntries((Object.keys(ATTR_ENCODERS) as LaunchedOp[]).map((op) => [op, launched(op)])) as LaunchedKernels;

  const matmul: K<KernelAttrs['matmul']> = (ins, outs) => {
    const [a, b] = ins;
    const y = outs[0];
    if (allEmpty(outs)) return;
    for (const l of matmulPlan(a, b, y)) run.kernel('matmul', LAUNCH_CODE.matmul, [viewOf(a, l.a), viewOf(b, l.b), viewOf(y, l.y)], []);
  };

  const cat: K<KernelAttrs['cat']> = (ins, outs, attrs) => {
    const y = outs[0];
    catViews(y, attrs.dim, ins.map((x) => x.shape)).forEach((view, i) => {
      if (numel(ins[i].shape) > 0) run.kernel('cat', LAUNCH_CODE.copy, [ins[i], viewOf(y, view)], []);
    });
  };

  const pad: K<KernelAttrs['pad']> = (ins, outs, attrs) => {
    const x = ins[0];
    const y = outs[0];
    if (allEmpty(outs)) return;
    if (!Object.is(attrs.value, 0)) run.kernel('pad', LAUNCH_CODE.fill, [y], [attrs.value]);
    if (numel(x.shape) > 0) run.kernel('pad', LAUNCH_CODE.copy, [x, viewOf(y, padInterior(y, x.shape, attrs.pads))], []);
  };

  return { ...table, matmul, cat, pad };
}

export function cudaRandom(run: Launcher): RandomKernels<CudaBuffer> {
  return {
    uniform(out, stream, low, high) {
      if (numel(out.shape) > 0) run.kernel('rand', LAUNCH_CODE.philoxUniform, [out], philoxAttrs(stream, low, high));
    },
    normal(out, stream, mean, std) {
      if (numel(out.shape) > 0) run.kernel('randn', LAUNCH_CODE.philoxNormal, [out], philoxAttrs(stream, mean, std));
    },
  };
}

/** The multi-tensor kernels take float32 (MULTI_TENSOR in addon.ts); the caller falls back to tensor ops for the rest. */
function requireFloat32(op: string, params: readonly CudaArg[]): void {
  const other = params.find((p) => p.dtype !== 'float32');
  if (other) fail('DTYPE', op, `the fused CUDA kernels take float32 parameters; got ${other.dtype}`, "use the optimizer's per-tensor path (tensor ops) for other dtypes");
}

export function cudaOptimizers(run: Launcher): OptimizerKernels<CudaBuffer> {
  return {
    dtypes: ['float32'],
    sgd(params, grads, momentumBufs, attrs) {
      requireFloat32('fusedSgdStep', params);
      const tensors: SgdTensor[] = params.map((p, i) => ({
        param: address(p),
        grad: address(grads[i]),
        momentumBuf: momentumBufs ? address(momentumBufs[i]) : 0,
        numel: numel(p.shape),
      }));
      run.multiTensor('fusedSgdStep', LAUNCH_CODE.sgdStep, sgdLength(tensors.length), (P) => encodeSgd(P, tensors, attrs));
    },
    adam(params, grads, expAvgs, expAvgSqs, maxExpAvgSqs, attrs) {
      requireFloat32('fusedAdamStep', params);
      const tensors: AdamTensor[] = params.map((p, i) => ({
        param: address(p),
        grad: address(grads[i]),
        expAvg: address(expAvgs[i]),
        expAvgSq: address(expAvgSqs[i]),
        maxExpAvgSq: maxExpAvgSqs ? address(maxExpAvgSqs[i]) : 0,
        numel: numel(p.shape),
      }));
      run.multiTensor('fusedAdamStep', LAUNCH_CODE.adamStep, adamLength(tensors.length), (P) => encodeAdam(P, tensors, attrs));
    },
  };
}
