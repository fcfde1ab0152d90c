/** `predict`: top-k classes with probabilities for images, with a trained model. */
import { noGrad } from '@dl/autograd';
import type { Module } from '@dl/nn';
import type { Device } from '@dl/tensor';
import { scope, stack } from '@dl/tensor';
import { io, transforms } from '@dl/vision';
import type { ModelDescription } from './artifacts.js';
import { loadModel } from './artifacts.js';
import { UsageError } from './config.js';

export interface Top {
  label: string;
  probability: number;
}

export interface Prediction {
  file: string;
  top: Top[];
}

/** A trained model loaded once, classifying batches of decoded images (used by `predict` and `serve`). */
export class Classifier {
  readonly model: Module;
  readonly desc: ModelDescription;
  private readonly pipeline: transforms.Compose;

  constructor(
    modelDir: string,
    readonly device: Device = 'cpu',
  ) {
    ({ model: this.model, desc: this.desc } = loadModel(modelDir));
    this.model.to(device);
    this.pipeline = new transforms.Compose([new transforms.Resize([32, 32]), new transforms.ToTensor(), new transforms.Normalize(this.desc.mean, this.desc.std)]);
  }

  /** The `topK` most probable classes of each image (any size: resized to 32x32 as for training), in one forward pass. */
  classify(images: io.Image[], topK: number): Top[][] {
    if (images.length === 0) return [];
    const k = Math.min(topK, this.desc.numClasses);
    return noGrad(() =>
      scope(() => {
        const x = stack(images.map((img) => this.pipeline.apply(img))).to(this.device);
        const probs = this.model.forward(x).softmax(1).cpu().dataSync() as Float32Array;
        const n = this.desc.numClasses;
        return images.map((_, i) => {
          const p = Array.from(probs.subarray(i * n, (i + 1) * n));
          const order = p.map((v, c) => [v, c] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
          return order.map(([v, c]) => ({ label: this.desc.classes[c], probability: v }));
        });
      }),
    );
  }
}

export function predict(modelDir: string, files: string[], topK: number, device: Device = 'cpu'): Prediction[] {
  const classifier = new Classifier(modelDir, device);
  const images = files.map((file) => {
    try {
      return io.readImage(file, { mode: 'rgb' });
    } catch (e) {
      throw new UsageError(`cannot read image '${file}': ${(e as Error).message.split('\n')[0]}`);
    }
  });
  return classifier.classify(images, topK).map((top, i) => ({ file: files[i], top }));
}
