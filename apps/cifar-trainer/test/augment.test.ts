/** The training batch's augmentations (trainBatch), against the same transforms applied by hand. */
import { describe, expect, it } from 'vitest';
import { Generator, randint, stack } from '@dl/tensor';
import { transforms } from '@dl/vision';
import { trainBatch } from '../src/data.js';

const mean: [number, number, number] = [0.5, 0.4, 0.3];
const std: [number, number, number] = [0.2, 0.25, 0.3];
const images = () => randint(0, 256, [6, 3, 32, 32], { generator: new Generator(11) }).to('uint8');

describe('trainBatch', () => {
  it('trivialaugment-flip-crop: TrivialAugmentWide on each uint8 image, then the batch flip and crop, then normalisation, all from the one generator', () => {
    const x = images();
    const got = trainBatch(x, { augment: 'trivialaugment-flip-crop', mean, std }, new Generator(3));
    // By hand, drawing from one generator in the same order.
    const g = new Generator(3);
    const trivial = new transforms.TrivialAugmentWide({ generator: g });
    let want = stack(Array.from({ length: 6 }, (_, i) => trivial.apply(x.select(0, i))), 0).to('float32').div(255);
    want = transforms.batched.randomHorizontalFlip(want, { p: 0.5, generator: g });
    want = transforms.batched.randomCrop(want, { size: 32, padding: 4, paddingMode: 'reflect', generator: g });
    want = transforms.batched.normalize(want, mean, std);
    expect(got.shape).toEqual([6, 3, 32, 32]);
    expect(got.dtype).toBe('float32');
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    // The ops did something: not the flip-crop batch of the same seed.
    const plain = trainBatch(x, { augment: 'flip-crop', mean, std }, new Generator(3));
    expect(got.sub(plain).abs().max().item()).toBeGreaterThan(0.1);
  });
});
