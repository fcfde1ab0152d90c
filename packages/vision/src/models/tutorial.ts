/**
 * The ConvNet of PyTorch's "Training a Classifier" (CIFAR-10) tutorial:
 * conv 3->6 5x5, max pool 2, conv 6->16 5x5, max pool 2, 400->120->84->numClasses.
 */
import type { Tensor } from '@dl/tensor';
import { Conv2d, F, Linear, MaxPool2d, Module } from '@dl/nn';

export class TutorialNet extends Module {
  conv1 = new Conv2d(3, 6, 5);
  pool = new MaxPool2d(2, 2);
  conv2 = new Conv2d(6, 16, 5);
  fc1 = new Linear(16 * 5 * 5, 120);
  fc2 = new Linear(120, 84);
  fc3: Linear;

  constructor(numClasses = 10) {
    super();
    this.fc3 = new Linear(84, numClasses);
  }

  override forward(x: Tensor): Tensor {
    x = this.pool.forward(F.relu(this.conv1.forward(x)));
    x = this.pool.forward(F.relu(this.conv2.forward(x)));
    x = x.flatten(1);
    x = F.relu(this.fc1.forward(x));
    x = F.relu(this.fc2.forward(x));
    return this.fc3.forward(x);
  }
}
