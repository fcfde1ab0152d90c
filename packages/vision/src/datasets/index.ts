/**
 * Datasets (torchvision.datasets). This module is also a build entry of its own
 * (dist/datasets.js): DataLoader worker threads import it to rebuild a dataset by class name.
 */
export { CIFAR10, CIFAR100, CIFAR10_INFO, CIFAR100_INFO } from './cifar.js';
export type { CifarOptions, CifarInfo, CifarPreloaded } from './cifar.js';
export { MNIST, FashionMNIST, parseIdx, readIdx } from './mnist.js';
export type { MnistOptions, IdxData, IdxArray } from './mnist.js';
export { ImageFolder, IMG_EXTENSIONS, findClasses, makeDataset } from './image-folder.js';
export type { ImageFolderOptions } from './image-folder.js';
export { downloadFile, DownloadError, extractArchive, md5File, resolveMirrors } from './download.js';
export type { DownloadOptions, DownloadResult, MirrorFailure, ExtractOptions, ProgressOption } from './download.js';
