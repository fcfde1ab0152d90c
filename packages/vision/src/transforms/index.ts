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
  RandomRotation,
  RandomAffine,
  GaussianBlur,
  RandomApply,
  RandomChoice,
  RandomOrder,
  RandomGrayscale,
  RandomInvert,
  RandomPosterize,
  RandomSolarize,
  RandomAdjustSharpness,
  RandomAutocontrast,
  RandomEqualize,
} from './transforms.js';
export type {
  TransformLike,
  ResizeTransformOptions,
  PadOptions,
  RandomCropOptions,
  RandomResizedCropOptions,
  ColorJitterOptions,
  RandomErasingOptions,
  RandomRotationOptions,
  RandomAffineOptions,
  AffineParams,
} from './transforms.js';
export { AutoAugment, RandAugment, TrivialAugmentWide, applyAugmentOp } from './autoaugment.js';
export type { AutoAugmentPolicy, AugmentOp, AugmentOpName, AugmentOpMeta, AugmentOptions, RandAugmentOptions, TrivialAugmentWideOptions } from './autoaugment.js';
export { transformFromSpec, registerTransform, registeredTransforms, isTransformSpec } from './spec.js';
export type { TransformSpec, TransformFactory } from './spec.js';
export type { ImageOrTensor, PaddingMode, SizeArg, PaddingArg, FillArg } from './raster.js';
export type { ResizeOptions, RotateOptions, AffineOptions, InterpolationMode } from './functional.js';
export type { BatchedFlipOptions, BatchedCropOptions, CutoutOptions } from './batched.js';
export * as functional from './functional.js';
export * as batched from './batched.js';
