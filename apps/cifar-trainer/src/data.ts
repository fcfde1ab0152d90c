/** CIFAR-10 as in-memory tensors, and the per-batch pipeline (augmentation, normalisation). */
import type { Tensor } from '@dl/tensor';
import { Generator, randperm, stack, tensor } from '@dl/tensor';
import { datasets, transforms } from '@dl/vision';
import type { TrainConfig } from './config.js';

export interface Split {
  /** uint8 [N, 3, 32, 32] */
  images: Tensor;
  /** int32 [N] */
  labels: Tensor;
  classes: string[];
}

/** Load a split of CIFAR-10 (the official binary layout) into memory; `limit` keeps the first N images. */
export function loadCifar(dataDir: string, train: boolean, limit = 0): Split {
  const ds = new datasets.CIFAR10(dataDir, { train });
  const n = limit > 0 ? Math.min(limit, ds.length) : ds.length;
  const images = tensor(ds.data.subarray(0, n * 3072), { shape: [n, 3, 32, 32], dtype: 'uint8' });
  const labels = tensor(ds.targets.subarray(0, n), { shape: [n], dtype: 'int32' });
  return { images, labels, classes: [...ds.classes] };
}

/** The training images as a Dataset of [uint8 [3, 32, 32], label] for a DataLoader (it can cross to worker threads). */
export function trainDataset(dataDir: string): datasets.CIFAR10<Tensor, number> {
  return new datasets.CIFAR10<Tensor, number>(dataDir, { train: true, transform: new transforms.PILToTensor() });
}

/** uint8 images to float32 in [0, 1], normalised per channel. */
export function normalizeBatch(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  return transforms.batched.normalize(x.to('float32').div(255), mean, std);
}

/**
 * The training batch: augmentation as configured, then normalisation. 'trivialaugment-flip-crop'
 * first runs TrivialAugmentWide on each uint8 image (one op of its table at a random strength,
 * as torchvision's), then the batch-wide flip and crop.
 */
export function trainBatch(x: Tensor, cfg: Pick<TrainConfig, 'augment' | 'mean' | 'std'>, generator: Generator): Tensor {
  let images = x;
  if (cfg.augment === 'trivialaugment-flip-crop') {
    const trivial = new transforms.TrivialAugmentWide({ generator });
    images = stack(Array.from({ length: x.shape[0] }, (_, i) => trivial.apply(x.select(0, i))), 0);
  }
  let out = images.to('float32').div(255);
  if (cfg.augment !== 'none') out = transforms.batched.randomHorizontalFlip(out, { p: 0.5, generator });
  if (cfg.augment !== 'none' && cfg.augment !== 'flip') out = transforms.batched.randomCrop(out, { size: 32, padding: 4, paddingMode: 'reflect', generator });
  if (cfg.augment === 'flip-crop-cutout') out = transforms.batched.cutout(out, { size: 8, generator });
  return transforms.batched.normalize(out, cfg.mean, cfg.std);
}

/**
 * The epoch's order of training images, drawn from `g` as PyTorch's DataLoader(shuffle=True)
 * without a generator draws it from the default generator: the iterator's base seed (returned:
 * the loader that fetches the batches derives its workers' seeds from it), then the RandomSampler's seed, then a permutation from a generator
 * seeded with it. So the tutorial recipe shuffles as the PyTorch tutorial does for the same seed.
 */
export function epochOrder(n: number, g: Generator): { order: Int32Array; baseSeed: bigint } {
  const baseSeed = g.nextInt64();
  const perm = randperm(n, { generator: new Generator(g.nextInt64()) });
  const order = perm.dataSync() as Int32Array;
  perm.dispose();
  return { order, baseSeed };
}
