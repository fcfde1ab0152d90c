/** `predict`: top-k classes with probabilities for image files, with a trained model. */
import { noGrad } from '@dl/autograd';
import type { Device } from '@dl/tensor';
import { scope, stack } from '@dl/tensor';
import { io, transforms } from '@dl/vision';
import { loadModel } from './artifacts.js';
import { UsageError } from './config.js';

export interface Prediction {
  file: string;
  top: { label: string; probability: number }[];
}

export function predict(modelDir: string, files: string[], topK: number, device: Device = 'cpu'): Prediction[] {
  const { model, desc } = loadModel(modelDir);
  model.to(device);
  const k = Math.min(topK, desc.numClasses);
  const pipeline = new transforms.Compose([new transforms.Resize([32, 32]), new transforms.ToTensor(), new transforms.Normalize(desc.mean, desc.std)]);
  const images = files.map((file) => {
    try {
      return io.readImage(file, { mode: 'rgb' });
    } catch (e) {
      throw new UsageError(`cannot read image '${file}': ${(e as Error).message.split('\n')[0]}`);
    }
  });
  return noGrad(() =>
    scope(() => {
      const x = stack(images.map((img) => pipeline.apply(img))).to(device);
      const probs = model.forward(x).softmax(1).cpu();
      return files.map((file, i) => {
        const p = Array.from(probs.select(0, i).dataSync() as Float32Array);
        const order = p.map((v, c) => [v, c] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
        return { file, top: order.map(([v, c]) => ({ label: desc.classes[c], probability: v })) };
      });
    }),
  );
}
