/** Building the model, optimizer and scheduler a configuration names, and checking the device it names. */
import type { Module } from '@dl/nn';
import type { LRScheduler, Optimizer } from '@dl/optim';
import { Adam, AdamW, lrScheduler, SGD } from '@dl/optim';
import type { Device } from '@dl/tensor';
import { cuda } from '@dl/tensor';
import { models } from '@dl/vision';
import type { DEVICES, TrainConfig } from './config.js';

/**
 * The device a --device flag names, checked before any work starts: without a usable GPU,
 * 'cuda' is a DLError naming the reason and the fix (one line on stderr from the CLI).
 */
export function requireDevice(device: (typeof DEVICES)[number]): Device {
  if (device === 'cuda') cuda.init();
  return device;
}

export function buildModel(name: TrainConfig['model'], numClasses: number): Module {
  return models.MODELS[name](numClasses);
}

export function buildOptimizer(cfg: TrainConfig, model: Module): Optimizer {
  const params = model.parameters();
  switch (cfg.optimizer) {
    case 'sgd':
      return new SGD(params, { lr: cfg.lr, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: cfg.weightDecay });
    case 'adam':
      return new Adam(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    case 'adamw':
      return new AdamW(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  }
}

/** The scheduler and whether it steps per batch (onecycle) or per epoch. */
export function buildScheduler(cfg: TrainConfig, opt: Optimizer, stepsPerEpoch: number): { scheduler: LRScheduler | null; perBatch: boolean } {
  switch (cfg.scheduler) {
    case 'none':
      return { scheduler: null, perBatch: false };
    case 'onecycle':
      return {
        scheduler: new lrScheduler.OneCycleLR(opt, { maxLr: cfg.lr, totalSteps: cfg.epochs * stepsPerEpoch, cycleMomentum: cfg.optimizer === 'sgd' && cfg.momentum > 0 }),
        perBatch: true,
      };
    case 'cosine':
      return { scheduler: new lrScheduler.CosineAnnealingLR(opt, { tMax: cfg.epochs }), perBatch: false };
    case 'step':
      return { scheduler: new lrScheduler.StepLR(opt, { stepSize: Math.max(1, Math.round(cfg.epochs / 3)), gamma: 0.1 }), perBatch: false };
  }
}
