// A short tour of @dl/tensor (the built workspace package): `pnpm demo`.
// Prints a few tensors, a broadcasted op, a matmul and reductions.
import { manualSeed, matmul, memoryStats, randn, scope, tensor, zeros } from '@dl/tensor';

manualSeed(0);

scope(() => {
  const a = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  console.log('a =', a.toString());
  console.log(`  shape [${a.shape}], dtype ${a.dtype}, device ${a.device}`);
  console.log('zeros([2, 2], int32) =', zeros([2, 2], { dtype: 'int32' }).toString());
  console.log('randn([2, 3]) =', randn([2, 3]).toString());

  // broadcasting: [2, 3] + [3] -> [2, 3], as in PyTorch
  const bias = tensor([10, 20, 30]);
  console.log('a + [10, 20, 30] =', a.add(bias).toString());

  // matmul: [2, 3] @ [3, 2] -> [2, 2]
  const b = tensor([
    [1, 0],
    [0, 1],
    [1, 1],
  ]);
  console.log('a @ b =', matmul(a, b).toString());

  // reductions
  console.log('a.sum() =', a.sum().item());
  console.log('a.sum(0) =', a.sum(0).toArray());
  console.log('a.mean(1) =', a.mean(1).toArray());
  console.log('argmax of each row:', a.argmax(1).toArray(), '(int32)');
});

// scope() disposed every tensor made inside it
console.log('live tensors after the scope:', memoryStats().liveTensors);
