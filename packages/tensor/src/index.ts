/**
 * @dl/tensor: tensors with dtypes, strided views, broadcasting and ops behind
 * one dispatch point and pluggable backends ('cpu' (TypeScript or native kernels),
 * the float64 'reference' backend, and 'cuda' from the native addon's CUDA part).
 */
import { initCuda } from './backend/cuda/runtime.js';
import { initCpuBackend } from './backend/native/index.js';
import { referenceBackend } from './backend/reference/index.js';
import { registerBackend, registerBackendLoader } from './device.js';

// 'cpu': the native kernels when the addon loads, else the TypeScript ones (DL_BACKEND forces either).
registerBackend(initCpuBackend());
registerBackend(referenceBackend);
// 'cuda': probed on first use (it costs time and needs nothing unless asked for).
registerBackendLoader('cuda', initCuda);

export { Tensor, setAutogradImpl } from './tensor.js';
export type { GradFn, BackwardOptions } from './tensor.js';
export * from './ops/index.js';
export { DTYPES, promoteTypes, resultType, isFloating, isIntegral, itemSize } from './dtype.js';
export type { DType, TypedArray } from './dtype.js';
export { DLError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { Shape, Layout } from './layout.js';
export { broadcastShapes, contiguousStrides, numel as shapeNumel } from './layout.js';
export { scope, keep, memoryStats } from './memory.js';
export type { MemoryStats } from './memory.js';
export { registerBackend, markUnavailable, listBackends, canonicalDevice } from './device.js';
export type { Device } from './device.js';
export { dispatch, dispatchView, dispatchCopyInto, registerDispatchLayer, isViewOp } from './dispatch.js';
export { Profile, profile } from './profiler.js';
export type { ProfileEvent, ProfileOptions, ProfileRow, ProfileSortKey, ProfileTableOptions } from './profiler.js';
export type { OpCall, DispatchLayer, Next, ViewOp, ViewAttrs, AnyOp, OutMeta } from './dispatch.js';
export type { Backend, KernelAttrs, KernelTable, Kernel, OpName, TensorArg, DeviceType, UnaryOp, BinaryOp, ReduceOp, Conv2dAttrs, Pool2dAttrs, AvgPool2dAttrs, SgdStepAttrs, AdamStepAttrs, OptimizerKernels } from './backend/types.js';
export * from './io/index.js';
export { doctor } from './backend/native/doctor.js';
export { cuda } from './backend/cuda/runtime.js';
export type { CudaStatus } from './backend/cuda/runtime.js';
export type { CudaDeviceInfo, CudaLibraryInfo, CudaMemoryStats, CudaProbe } from './backend/cuda/addon.js';
export type { DoctorReport, DoctorIssue } from './backend/native/doctor.js';
