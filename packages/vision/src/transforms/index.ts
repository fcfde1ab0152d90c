/** Transforms (torchvision.transforms): classes, `functional`, `batched`, and specs for worker threads. */
export {
  Transform,
  Compose,
  ToTensor,
  PILToTensor,
  ToPILImage,
  Normalize,
  Resize,
  CenterCrop,
  Pad,
  RandomCrop,
  RandomHorizontalFlip,
  RandomVerticalFlip,
  RandomResizedCrop,
  Grayscale,
  ColorJitter,
  RandomErasing,
  Lambda,
  toTransform,
} from './transforms.js';
export type { TransformLike, ResizeTransformOptions, PadOptions, RandomCropOptions, RandomResizedCropOptions, ColorJitterOptions, RandomErasingOptions } from './transforms.js';
export { transformFromSpec, registerTransform, registeredTransforms, isTransformSpec } from './spec.js';
export type { TransformSpec, TransformFactory } from './spec.js';
export type { ImageOrTensor, PaddingMode, SizeArg, PaddingArg, FillArg } from './raster.js';
export type { ResizeOptions } from './functional.js';
export type { BatchedFlipOptions, BatchedCropOptions, CutoutOptions } from './batched.js';
export * as functional from './functional.js';
export * as batched from './batched.js';
