/** ResNets for 32x32 inputs: ResNet-9 (the DAWNBench CIFAR-10 layout) and a CIFAR ResNet-18. */
import type { Tensor } from '@dl/tensor';
import { AdaptiveAvgPool2d, AdaptiveMaxPool2d, BatchNorm2d, Conv2d, F, Linear, MaxPool2d, Module, ReLU, Sequential } from '@dl/nn';

/** conv 3x3 (no bias) -> batch norm -> ReLU. */
function convBnRelu(cin: number, cout: number): Sequential {
  return new Sequential(new Conv2d(cin, cout, 3, { padding: 1, bias: false }), new BatchNorm2d(cout), new ReLU());
}

/** x + f(x) with f two conv-bn-relu blocks (ResNet-9's residual). */
class Residual extends Module {
  res1: Sequential;
  res2: Sequential;
  constructor(channels: number) {
    super();
    this.res1 = convBnRelu(channels, channels);
    this.res2 = convBnRelu(channels, channels);
  }
  override forward(x: Tensor): Tensor {
    return x.add(this.res2.forward(this.res1.forward(x)));
  }
}

/**
 * ResNet-9 (DAWNBench): prep 64, layer1 128 + pool + residual, layer2 256 + pool,
 * layer3 512 + pool + residual, global max pool, linear, logits scaled by `scale`.
 */
export class ResNet9 extends Module {
  prep: Sequential;
  layer1: Sequential;
  res1: Residual;
  layer2: Sequential;
  layer3: Sequential;
  res3: Residual;
  pool = new AdaptiveMaxPool2d(1);
  fc: Linear;
  constructor(
    numClasses = 10,
    readonly scale = 0.125,
  ) {
    super();
    this.prep = convBnRelu(3, 64);
    this.layer1 = new Sequential(convBnRelu(64, 128), new MaxPool2d(2));
    this.res1 = new Residual(128);
    this.layer2 = new Sequential(convBnRelu(128, 256), new MaxPool2d(2));
    this.layer3 = new Sequential(convBnRelu(256, 512), new MaxPool2d(2));
    this.res3 = new Residual(512);
    this.fc = new Linear(512, numClasses, { bias: false });
  }
  override forward(x: Tensor): Tensor {
    x = this.prep.forward(x);
    x = this.res1.forward(this.layer1.forward(x));
    x = this.layer2.forward(x);
    x = this.res3.forward(this.layer3.forward(x));
    return this.fc.forward(this.pool.forward(x).flatten(1)).mul(this.scale);
  }
}

/** The basic block of ResNet-18: two 3x3 conv-bn, a projection shortcut when the shape changes. */
class BasicBlock extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  shortcut: Sequential;
  constructor(cin: number, cout: number, stride: number) {
    super();
    this.conv1 = new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false });
    this.bn1 = new BatchNorm2d(cout);
    this.conv2 = new Conv2d(cout, cout, 3, { padding: 1, bias: false });
    this.bn2 = new BatchNorm2d(cout);
    this.shortcut = stride !== 1 || cin !== cout ? new Sequential(new Conv2d(cin, cout, 1, { stride, bias: false }), new BatchNorm2d(cout)) : new Sequential();
  }
  override forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(F.relu(this.bn1.forward(this.conv1.forward(x)))));
    return F.relu(out.add(this.shortcut.forward(x)));
  }
}

/** ResNet-18 for 32x32 inputs: a 3x3 stem without max pool, then [2, 2, 2, 2] basic blocks. */
export class ResNet18 extends Module {
  conv1 = new Conv2d(3, 64, 3, { padding: 1, bias: false });
  bn1 = new BatchNorm2d(64);
  layer1 = new Sequential(new BasicBlock(64, 64, 1), new BasicBlock(64, 64, 1));
  layer2 = new Sequential(new BasicBlock(64, 128, 2), new BasicBlock(128, 128, 1));
  layer3 = new Sequential(new BasicBlock(128, 256, 2), new BasicBlock(256, 256, 1));
  layer4 = new Sequential(new BasicBlock(256, 512, 2), new BasicBlock(512, 512, 1));
  pool = new AdaptiveAvgPool2d(1);
  fc: Linear;
  constructor(numClasses = 10) {
    super();
    this.fc = new Linear(512, numClasses);
  }
  override forward(x: Tensor): Tensor {
    x = F.relu(this.bn1.forward(this.conv1.forward(x)));
    x = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(x))));
    return this.fc.forward(this.pool.forward(x).flatten(1));
  }
}
