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

/**
 * The scheduler and when it steps: after every batch (onecycle), after every epoch (cosine, step),
 * or after every epoch's evaluation with the test loss (plateau: ReduceLROnPlateau, factor 0.1,
 * patience 2).
 */
export type SchedulerStep = 'batch' | 'epoch' | 'metric';
export function buildScheduler(cfg: TrainConfig, opt: Optimizer, stepsPerEpoch: number): { scheduler: LRScheduler | null; stepsOn: SchedulerStep } {
  switch (cfg.scheduler) {
    case 'none':
      return { scheduler: null, stepsOn: 'epoch' };
    case 'onecycle':
      return {
        scheduler: new lrScheduler.OneCycleLR(opt, { maxLr: cfg.lr, totalSteps: cfg.epochs * stepsPerEpoch, cycleMomentum: cfg.optimizer === 'sgd' && cfg.momentum > 0 }),
        stepsOn: 'batch',
      };
    case 'cosine':
      return { scheduler: new lrScheduler.CosineAnnealingLR(opt, { tMax: cfg.epochs }), stepsOn: 'epoch' };
    case 'step':
      return { scheduler: new lrScheduler.StepLR(opt, { stepSize: Math.max(1, Math.round(cfg.epochs / 3)), gamma: 0.1 }), stepsOn: 'epoch' };
    case 'plateau':
      return { scheduler: new lrScheduler.ReduceLROnPlateau(opt, { factor: 0.1, patience: 2 }), stepsOn: 'metric' };
  }
}
