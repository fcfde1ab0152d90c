// Fused optimizer steps (float32): one launch updates every parameter. The host cuts each
// tensor into chunks of kOptimChunk elements and uploads the chunk table; block b walks chunk
// b. The per-element arithmetic follows torch.optim.SGD / Adam / AdamW (foreach=False) step for
// step, in float32 with the scalar factors (1 - dampening, 1 - beta, bias corrections, step
// size, 1 - lr * weight_decay) computed in double on the host, as PyTorch's Python code does.
#include "common.cuh"

namespace dl::cuda {

namespace {

__global__ void __launch_bounds__(kBlock) sgd_kernel(SgdHyper h, const SgdChunk* chunks, int64_t count) {
  for (int64_t b = blockIdx.x; b < count; b += gridDim.x) {
    const SgdChunk ch = chunks[b];
    for (int64_t i = threadIdx.x; i < ch.n; i += blockDim.x) {
      const float p = ch.param[i];
      float g = ch.grad[i];
      if (h.maximize) g = -g;
      if (h.weight_decay != 0) g = g + h.weight_decay * p;  // grad.add(param, alpha=weight_decay)
      if (h.momentum != 0) {
        // buf = grad.clone() on the first step, else buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        const float buf = h.first_step ? g : ch.momentum[i] * h.momentum + h.one_minus_dampening * g;
        ch.momentum[i] = buf;
        g = h.nesterov ? g + h.momentum * buf : buf;
      }
      ch.param[i] = p - h.lr * g;  // param.add_(grad, alpha=-lr)
    }
  }
}

__global__ void __launch_bounds__(kBlock) adam_kernel(AdamHyper h, const AdamChunk* chunks, int64_t count) {
  for (int64_t b = blockIdx.x; b < count; b += gridDim.x) {
    const AdamChunk ch = chunks[b];
    for (int64_t i = threadIdx.x; i < ch.n; i += blockDim.x) {
      float p = ch.param[i];
      float g = ch.grad[i];
      if (h.maximize) g = -g;
      if (h.weight_decay != 0) {
        if (h.decoupled) p = p * h.decay_factor;  // param.mul_(1 - lr * weight_decay)
        else g = g + h.weight_decay * p;          // grad.add(param, alpha=weight_decay)
      }
      const float m = ch.exp_avg[i] * h.beta1 + h.one_minus_beta1 * g;           // mul_(beta1).add_(g, 1 - beta1)
      const float v = ch.exp_avg_sq[i] * h.beta2 + h.one_minus_beta2 * (g * g);  // mul_(beta2).addcmul_(g, g, 1 - beta2)
      ch.exp_avg[i] = m;
      ch.exp_avg_sq[i] = v;
      float second = v;
      if (h.amsgrad) {
        const float old = ch.max_exp_avg_sq[i];  // torch.maximum: NaN propagates
        second = (old != old || v != v) ? old + v : (old > v ? old : v);
        ch.max_exp_avg_sq[i] = second;
      }
      const float denom = sqrtf(second) / h.bias_correction2_sqrt + h.eps;
      ch.param[i] = p + (-h.step_size) * (m / denom);  // param.addcdiv_(exp_avg, denom, value=-step_size)
    }
  }
}

}  // namespace

void sgd_step(const Ctx& c, const SgdHyper& h, const SgdChunk* chunks, int64_t count) {
  if (count == 0) return;
  sgd_kernel<<<blocks_for(count, 1), kBlock, 0, c.stream>>>(h, chunks, count);
  DL_CUDA_CHECK_LAUNCH("sgd_kernel");
}

void adam_step(const Ctx& c, const AdamHyper& h, const AdamChunk* chunks, int64_t count) {
  if (count == 0) return;
  adam_kernel<<<blocks_for(count, 1), kBlock, 0, c.stream>>>(h, chunks, count);
  DL_CUDA_CHECK_LAUNCH("adam_kernel");
}

}  // namespace dl::cuda
