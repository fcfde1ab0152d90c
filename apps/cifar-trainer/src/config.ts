/** Training configuration: the recipes and the flags that override them. */

export const MODEL_NAMES = ['tutorial', 'resnet9', 'resnet18', 'vit'] as const;
export const OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;
export const SCHEDULERS = ['none', 'onecycle', 'cosine', 'step', 'plateau'] as const;
export const AUGMENTS = ['none', 'flip', 'flip-crop', 'flip-crop-cutout', 'trivialaugment-flip-crop'] as const;
export const RECIPES = ['default', 'tutorial'] as const;
export const DEVICES = ['cpu', 'cuda'] as const;

export type ModelName = (typeof MODEL_NAMES)[number];

export interface TrainConfig {
  recipe: (typeof RECIPES)[number];
  model: ModelName;
  epochs: number;
  batchSize: number;
  /** Skip the last, smaller batch of an epoch (PyTorch's DataLoader drop_last; default false as there). */
  dropLast: boolean;
  testBatchSize: number;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  scheduler: (typeof SCHEDULERS)[number];
  augment: (typeof AUGMENTS)[number];
  labelSmoothing: number;
  /** Per-channel normalisation applied to images in [0, 1]. */
  mean: [number, number, number];
  std: [number, number, number];
  device: (typeof DEVICES)[number];
  workers: number;
  seed: number;
  /** Use only the first N training / test images (0 = all): smoke runs. */
  limitTrain: number;
  limitTest: number;
}

const CIFAR_MEAN: [number, number, number] = [0.4914, 0.4822, 0.4465];
const CIFAR_STD: [number, number, number] = [0.247, 0.2435, 0.2616];

/**
 * `tutorial`: exactly PyTorch's CIFAR-10 tutorial (its ConvNet, SGD lr 0.001 momentum 0.9,
 * batch 128 train / 100 test, 10 epochs, Normalize(0.5, 0.5); the DataLoader's defaults, so every
 * epoch ends with the last 80 images as a short 391st batch).
 * `default`: the same ConvNet trained well: SGD with Nesterov momentum and weight decay,
 * a one-cycle schedule to lr 0.05, per-channel normalisation, flips and random crops.
 */
export function recipe(name: TrainConfig['recipe']): TrainConfig {
  const common = { recipe: name, model: 'tutorial' as const, epochs: 10, batchSize: 128, dropLast: false, testBatchSize: 100, labelSmoothing: 0, device: 'cpu' as const, workers: 0, seed: 0, limitTrain: 0, limitTest: 0 };
  if (name === 'tutorial') {
    return { ...common, optimizer: 'sgd', lr: 0.001, momentum: 0.9, nesterov: false, weightDecay: 0, scheduler: 'none', augment: 'none', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  }
  return { ...common, optimizer: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4, scheduler: 'onecycle', augment: 'flip-crop', mean: CIFAR_MEAN, std: CIFAR_STD };
}

/** An error with a one-line message for the user (the CLI prints it and exits 1). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag}: invalid value '${value}'; expected one of ${allowed.join(', ')}`);
  return value as T;
}

export function positiveInt(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag}: expected an integer >= ${min}; got '${value}'`);
  return n;
}

export function nonNegative(flag: string, value: string, max = Number.POSITIVE_INFINITY): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > max) throw new UsageError(`${flag}: expected a number in [0, ${max}]; got '${value}'`);
  return n;
}
