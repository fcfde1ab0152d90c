/**
 * @dl/vision: datasets, transforms, image I/O and utilities for computer vision with dl
 * (torchvision, in camelCase).
 *
 *     import { datasets, transforms, utils, io } from '@dl/vision';
 *     const train = new datasets.CIFAR10('data', {
 *       transform: new transforms.Compose([new transforms.RandomCrop(32, { padding: 4 }), new transforms.RandomHorizontalFlip(), new transforms.ToTensor()]),
 *     });
 */
export * as datasets from './datasets/index.js';
export * as transforms from './transforms/index.js';
export * as utils from './utils.js';
export * as io from './io/image.js';
export type { Image, ImageMode } from './io/image.js';
export type { Transform, TransformSpec, TransformLike } from './transforms/index.js';
export * as models from './models/index.js';
