/** Learning-rate schedulers (torch.optim.lr_scheduler). */
export { LRScheduler } from './scheduler.js';
export type { AnyOptimizer } from './scheduler.js';
export { LambdaLR, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR } from './basic.js';
export type { LambdaLROptions, StepLROptions, MultiStepLROptions, ExponentialLROptions, CosineAnnealingLROptions, LinearLROptions } from './basic.js';
export { OneCycleLR } from './one-cycle.js';
export type { OneCycleLROptions, OneCyclePhase } from './one-cycle.js';
export { ReduceLROnPlateau } from './plateau.js';
export type { ReduceLROnPlateauOptions } from './plateau.js';
export { SequentialLR } from './sequential.js';
export type { SequentialLROptions } from './sequential.js';
export { ConstantLR, MultiplicativeLR, PolynomialLR } from './factor.js';
export type { ConstantLROptions, MultiplicativeLROptions, PolynomialLROptions } from './factor.js';
export { CosineAnnealingWarmRestarts } from './warm-restarts.js';
export type { CosineAnnealingWarmRestartsOptions } from './warm-restarts.js';
export { CyclicLR } from './cyclic.js';
export type { CyclicLROptions, CyclicLRMode } from './cyclic.js';
export { ChainedScheduler } from './chained.js';
