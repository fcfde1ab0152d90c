/**
 * @dl/optim: optimizers and learning-rate schedulers (torch.optim), with
 * PyTorch's update rules, parameter groups and state dicts.
 */
export { Optimizer } from './optimizer.js';
export type { Closure, HyperValue, OptimizerStateDict, ParamGroup, ParamGroupInput, ParamState, Params, ZeroGradOptions } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions, AdamWOptions } from './adam.js';
export { RMSprop } from './rmsprop.js';
export type { RMSpropOptions } from './rmsprop.js';
export { Adagrad } from './adagrad.js';
export type { AdagradOptions } from './adagrad.js';
export { Adadelta } from './adadelta.js';
export type { AdadeltaOptions } from './adadelta.js';
export { Adamax } from './adamax.js';
export type { AdamaxOptions } from './adamax.js';
export { NAdam } from './nadam.js';
export type { NAdamOptions } from './nadam.js';
export { RAdam } from './radam.js';
export type { RAdamOptions } from './radam.js';
export { LBFGS } from './lbfgs.js';
export type { LBFGSOptions } from './lbfgs.js';

/**
 * The learning-rate schedulers, as torch.optim.lr_scheduler: `new lrScheduler.StepLR(opt, { stepSize: 10 })`.
 * A namespace, so `lrScheduler.StepLR` is also the type.
 */
export * as lrScheduler from './lr-scheduler/index.js';
export { LRScheduler, LambdaLR, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR, ReduceLROnPlateau, SequentialLR, ConstantLR, MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, ChainedScheduler } from './lr-scheduler/index.js';
export type { AnyOptimizer, LambdaLROptions, StepLROptions, MultiStepLROptions, ExponentialLROptions, CosineAnnealingLROptions, LinearLROptions, OneCycleLROptions, OneCyclePhase, ReduceLROnPlateauOptions, SequentialLROptions, ConstantLROptions, MultiplicativeLROptions, PolynomialLROptions, CosineAnnealingWarmRestartsOptions, CyclicLROptions, CyclicLRMode } from './lr-scheduler/index.js';
