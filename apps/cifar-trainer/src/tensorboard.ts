/**
 * What `train --tensorboard` logs (TensorBoard event files through @dl/tensorboard), at global
 * steps counted in batches so that a resumed run continues the same curves:
 * - once: the configuration (Text) and the first 16 images of the first batch (Images);
 * - about 20 times an epoch: the epoch's running training loss and accuracy;
 * - every epoch: train and test loss and accuracy, the learning rate, images/s, and a histogram
 *   of every parameter.
 */
import type { Module } from '@dl/nn';
import type { Tensor } from '@dl/tensor';
import { SummaryWriter } from '@dl/tensorboard';
import type { TrainConfig } from './config.js';
import type { EpochMetrics } from './train.js';

export class TrainingLog {
  private readonly writer: SummaryWriter;
  private readonly every: number;

  /** `purgeStep`: on resume, the step the checkpoint continues from (TensorBoard drops later events of the interrupted run). */
  constructor(
    dir: string,
    private readonly stepsPerEpoch: number,
    purgeStep?: number,
  ) {
    this.writer = new SummaryWriter(dir, { purgeStep });
    this.every = Math.max(1, Math.floor(stepsPerEpoch / 20));
  }

  /** The run's settings as a table, and a grid of the first images the model sees (before augmentation). */
  start(cfg: TrainConfig, images: Tensor): void {
    const rows = Object.entries(cfg).map(([k, v]) => `| ${k} | ${JSON.stringify(v)} |`);
    this.writer.addText('config', ['| setting | value |', '| --- | --- |', ...rows].join('\n'), 0);
    this.writer.addImages('Images/first training batch', images.narrow(0, 0, Math.min(16, images.shape[0])), 0);
  }

  /** After batch `batch` (1-based) of epoch `epoch` (0-based): the running figures, every `every` batches. */
  running(epoch: number, batch: number, loss: number, accuracy: number): void {
    if (batch % this.every !== 0 || !Number.isFinite(loss)) return;
    const step = epoch * this.stepsPerEpoch + batch;
    this.writer.addScalar('Loss/train (running)', loss, step);
    this.writer.addScalar('Accuracy/train (running)', accuracy, step);
  }

  /** The end of an epoch: its metrics and the parameters' histograms. */
  epoch(m: EpochMetrics, model: Module): void {
    const step = m.epoch * this.stepsPerEpoch;
    this.writer.addScalar('Loss/train', m.trainLoss, step);
    this.writer.addScalar('Loss/test', m.testLoss, step);
    this.writer.addScalar('Accuracy/train', m.trainAccuracy, step);
    this.writer.addScalar('Accuracy/test', m.testAccuracy, step);
    this.writer.addScalar('Learning rate', m.lr, step);
    this.writer.addScalar('Images per second', m.imagesPerSecond, step);
    for (const [name, p] of model.namedParameters()) this.writer.addHistogram(`Parameters/${name}`, p, step);
    this.writer.flush();
  }

  close(): void {
    this.writer.close();
  }
}
