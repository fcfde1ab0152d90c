/**
 * @dl/data: datasets, samplers, collation and a DataLoader whose workers are worker threads
 * (torch.utils.data, in camelCase).
 */
export { Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, randomSplit } from './dataset.js';
export type { MapDataset, IterableDatasetLike } from './dataset.js';
export { SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler, BatchSampler } from './samplers.js';
export type { Sampler, RandomSamplerOptions } from './samplers.js';
export { defaultCollate, defaultConvert } from './collate.js';
export type { CollateFn, Collated, Converted } from './collate.js';
export { DataLoader, DataLoaderWorkerError, activeWorkerThreadIds, workerEntry } from './dataloader.js';
export type { DataLoaderOptions } from './dataloader.js';
export { getWorkerInfo, datasetArg, tensorArg } from './protocol.js';
export type { ModuleExport, WorkerSpec, WorkerInfo, WorkerStats } from './protocol.js';
