/** Models: the tutorial ConvNet, ResNets and a Vision Transformer for CIFAR-sized images. */
import { ResNet18, ResNet9 } from './resnet.js';
import { TutorialNet } from './tutorial.js';
import { VisionTransformer } from './vit.js';

export { ResNet18, ResNet9, TutorialNet, VisionTransformer };
export type { VisionTransformerOptions } from './vit.js';

/** Architectures by name (the trainer's --model flag and saved model descriptions use these). */
export const MODELS = {
  tutorial: (numClasses = 10) => new TutorialNet(numClasses),
  resnet9: (numClasses = 10) => new ResNet9(numClasses),
  resnet18: (numClasses = 10) => new ResNet18(numClasses),
  vit: (numClasses = 10) => new VisionTransformer(numClasses),
} as const;
export type ModelName = keyof typeof MODELS;
