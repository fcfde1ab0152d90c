/**
 * @dl/autograd: reverse-mode automatic differentiation as a layer over
 * @dl/tensor's dispatch point. Importing it installs the layer, after which
 * `requiresGrad`, `backward()` and `.grad` work on every tensor.
 */
import { install } from './api.js';

install();

export { grad, registerHook } from './api.js';
export type { GradOptions } from './api.js';
export type { BackwardOptions } from './engine.js';
export { noGrad, enableGrad, inferenceMode, isGradEnabled, setGradEnabled } from './mode.js';
export { defineFunction } from './function.js';
export type { FunctionCtx, FunctionDef } from './function.js';
export { gradcheck } from './gradcheck.js';
export type { GradcheckOptions } from './gradcheck.js';
export { GRADS } from './grads/index.js';
export type { GradCtx, GradEntry } from './grads/index.js';
export { sumToShape } from './grads/shape.js';
export type { Hook } from './graph.js';
