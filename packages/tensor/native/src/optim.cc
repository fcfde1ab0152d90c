#include "optim.h"

#include <cmath>
#include <utility>

#include "thread_pool.h"

namespace dl {

namespace {

constexpr i64 kChunk = 1 << 14;  // elements per task

/**
 * Calls fn(tensor, begin, end) over every tensor cut into kChunk-element pieces, the pieces
 * of all tensors handed out together (small lists run inline on the caller).
 */
template <class Tensor, class F>
void for_chunks(const std::vector<Tensor>& ts, F&& fn) {
  std::vector<std::pair<std::size_t, i64>> tasks;
  for (std::size_t k = 0; k < ts.size(); k++)
    for (i64 b = 0; b < ts[k].n; b += kChunk) tasks.emplace_back(k, b);
  ThreadPool& pool = ThreadPool::instance();
  const i64 total = static_cast<i64>(tasks.size());
  pool.run(total, total > 1 ? pool.size() : 1, [&](i64 task, int) {
    const auto [k, b] = tasks[static_cast<std::size_t>(task)];
    fn(ts[k], b, imin(ts[k].n, b + kChunk));
  });
}

}  // namespace

template <typename T>
void sgd_step(const SgdAttrs& a, const std::vector<SgdTensor<T>>& ts) {
  // The scalar operands as the per-tensor path makes them: computed in double, then T.
  const T wd = static_cast<T>(a.weight_decay), mom = static_cast<T>(a.momentum);
  const T keep = static_cast<T>(1 - a.dampening), step = static_cast<T>(-a.lr);
  const bool decay = a.weight_decay != 0;
  for_chunks(ts, [&](const SgdTensor<T>& t, i64 b, i64 e) {
    for (i64 i = b; i < e; i++) {
      T g = a.maximize ? -t.g[i] : t.g[i];
      if (decay) g = g + t.p[i] * wd;
      if (t.buf) {
        const T m = a.first_step ? g : t.buf[i] * mom + g * keep;
        t.buf[i] = m;
        g = a.nesterov ? g + m * mom : m;
      }
      t.p[i] = t.p[i] + g * step;
    }
  });
}

template <typename T>
void adam_step(const AdamAttrs& a, const std::vector<AdamTensor<T>>& ts) {
  const T decay = static_cast<T>(1 - a.lr * a.weight_decay), wd = static_cast<T>(a.weight_decay);
  const T b1 = static_cast<T>(a.beta1), b2 = static_cast<T>(a.beta2);
  const T ob1 = static_cast<T>(1 - a.beta1), ob2 = static_cast<T>(1 - a.beta2);
  const T bc2 = static_cast<T>(a.bias_correction2_sqrt), eps = static_cast<T>(a.eps);
  const T step = static_cast<T>(-a.step_size);
  const bool has_decay = a.weight_decay != 0;
  for_chunks(ts, [&](const AdamTensor<T>& t, i64 b, i64 e) {
    for (i64 i = b; i < e; i++) {
      T g = a.maximize ? -t.g[i] : t.g[i];
      if (has_decay) {
        if (a.decoupled_weight_decay) t.p[i] = t.p[i] * decay;
        else g = g + t.p[i] * wd;
      }
      const T m = t.m[i] * b1 + g * ob1;
      t.m[i] = m;
      const T v = t.v[i] * b2 + (g * g) * ob2;
      t.v[i] = v;
      T second = v;
      if (t.vmax) {
        const T prev = t.vmax[i];
        second = (prev > v || prev != prev) ? prev : v;  // maximum(): a NaN wins
        t.vmax[i] = second;
      }
      const T denom = std::sqrt(second) / bc2 + eps;
      t.p[i] = t.p[i] + (m / denom) * step;
    }
  });
}

template void sgd_step<float>(const SgdAttrs&, const std::vector<SgdTensor<float>>&);
template void sgd_step<double>(const SgdAttrs&, const std::vector<SgdTensor<double>>&);
template void adam_step<float>(const AdamAttrs&, const std::vector<AdamTensor<float>>&);
template void adam_step<double>(const AdamAttrs&, const std::vector<AdamTensor<double>>&);

}  // namespace dl
