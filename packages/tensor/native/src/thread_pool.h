// A small fixed thread pool: created once (on first parallel call), sized to the CPUs this
// process may run on (sched_getaffinity) or to DL_NUM_THREADS. The calling thread works too,
// so a pool of size T has T - 1 worker threads.
//
// run(ntasks, want, fn) calls fn(task, tid) for every task in [0, ntasks), tid in [0, threads
// used): tasks are handed out dynamically (an atomic counter). It blocks until all are done,
// waiting only for workers that started on the job: the caller takes every task a sleeping
// or descheduled worker did not get to.
// It runs everything inline on the caller (tid 0) when nested inside a parallel region, when
// another JS thread (a worker_thread) is using the pool at that moment, or when want <= 1.
// Workers spin briefly after a job (kernels come back to back in a training step), then sleep.
#pragma once

#include <type_traits>

#include "common.h"

namespace dl {

class ThreadPool {
 public:
  static ThreadPool& instance();

  /** Threads a parallel region may use (workers + the caller). */
  int size() const { return size_; }

  template <class F>
  void run(i64 ntasks, int want, F&& fn) {
    using Fn = typename std::remove_reference<F>::type;
    run_impl(ntasks, want, [](void* ctx, i64 task, int tid) { (*static_cast<Fn*>(ctx))(task, tid); }, &fn);
  }

  /** The thread count a pool would get (without creating it). */
  static int configured_threads();
  /** Where the thread count came from ('DL_NUM_THREADS' or 'affinity'). */
  static const char* threads_source();

 private:
  using Thunk = void (*)(void*, i64, int);
  ThreadPool();
  void run_impl(i64 ntasks, int want, Thunk thunk, void* ctx);
  void worker_main(int id);
  struct State;
  State* s_;
  int size_;
};

/** True inside a task of ThreadPool::run (nested parallel calls run inline). */
bool in_parallel_region();

/**
 * Splits [0, n) into chunks of at least `grain` items (up to 4 per thread, handed out
 * dynamically, so a thread that loses its core to another process does not hold up the
 * rest); calls fn(begin, end) for each.
 */
template <class F>
void parallel_chunks(i64 n, i64 grain, F&& fn) {
  ThreadPool& pool = ThreadPool::instance();
  i64 parts = pool.size() <= 1 ? 1 : imin(4 * pool.size(), imax(1, n / imax(1, grain)));
  if (parts <= 1 || in_parallel_region()) {
    fn(static_cast<i64>(0), n);
    return;
  }
  const i64 chunk = (n + parts - 1) / parts;
  pool.run(parts, pool.size(), [&](i64 t, int) {
    const i64 b = t * chunk;
    const i64 e = imin(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace dl
