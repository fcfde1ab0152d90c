#include "thread_pool.h"

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DL_PAUSE() _mm_pause()
#else
#define DL_PAUSE() std::this_thread::yield()
#endif

namespace dl {

namespace {

thread_local bool tl_in_parallel = false;

// How long an idle worker spins before sleeping, and how long the caller spins waiting for
// the last worker before yielding. Kernels of a training step come microseconds apart.
constexpr auto kSpin = std::chrono::microseconds(200);
constexpr auto kCallerSpin = std::chrono::microseconds(20);

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned int h = std::thread::hardware_concurrency();
  return h > 0 ? static_cast<int>(h) : 1;
}

int env_threads() {
  const char* v = std::getenv("DL_NUM_THREADS");
  if (!v || !*v) return 0;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (end == v || *end != 0 || n < 1) return 0;
  return n > 256 ? 256 : static_cast<int>(n);
}

}  // namespace

struct ThreadPool::State {
  std::vector<std::thread> workers;
  std::mutex submit;  // one job at a time
  std::mutex mu;
  std::condition_variable cv;
  int sleeping = 0;                          // guarded by mu
  std::atomic<unsigned long long> generation{0};
  // The current job (written before generation is bumped, read after).
  Thunk thunk = nullptr;
  void* ctx = nullptr;
  i64 ntasks = 0;
  int participants = 0;                      // worker ids < participants take part
  std::atomic<i64> next{0};
  // A worker joins a job by incrementing `active` and then checking `open`; the caller closes
  // the job once every task has been taken and waits only for the workers that joined, never
  // for one that has not woken up yet (on a busy machine that can take milliseconds).
  std::atomic<bool> open{false};
  std::atomic<int> active{0};
  // The caller blocks (after a short spin) until the last active worker leaves: a blocked
  // caller frees its core, so the kernel can move a descheduled worker onto it.
  std::atomic<bool> caller_waiting{false};
  std::condition_variable done_cv;           // with mu
};

bool in_parallel_region() { return tl_in_parallel; }

int ThreadPool::configured_threads() {
  int e = env_threads();
  return e > 0 ? e : affinity_cpus();
}

const char* ThreadPool::threads_source() { return env_threads() > 0 ? "DL_NUM_THREADS" : "affinity"; }

ThreadPool& ThreadPool::instance() {
  // Never destroyed: workers live until the process exits (addons are never unloaded).
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

ThreadPool::ThreadPool() : s_(new State()), size_(configured_threads()) {
  for (int i = 0; i + 1 < size_; i++) {
    s_->workers.emplace_back([this, i] { worker_main(i); });
    s_->workers.back().detach();
  }
}

void ThreadPool::worker_main(int id) {
  State& s = *s_;
  unsigned long long seen = 0;
  for (;;) {
    // Wait for a new job: spin for a while, then sleep on the condition variable.
    auto until = std::chrono::steady_clock::now() + kSpin;
    unsigned long long g;
    int spins = 0;
    while ((g = s.generation.load(std::memory_order_acquire)) == seen) {
      DL_PAUSE();
      if (++spins == 256) {
        spins = 0;
        if (std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lk(s.mu);
          s.sleeping++;
          s.cv.wait(lk, [&] { return s.generation.load(std::memory_order_acquire) != seen; });
          s.sleeping--;
          until = std::chrono::steady_clock::now() + kSpin;
        }
      }
    }
    seen = g;
    s.active.fetch_add(1, std::memory_order_seq_cst);
    if (s.open.load(std::memory_order_seq_cst) && id < s.participants) {
      tl_in_parallel = true;
      const i64 n = s.ntasks;
      for (i64 t; (t = s.next.fetch_add(1, std::memory_order_relaxed)) < n;) s.thunk(s.ctx, t, id + 1);
      tl_in_parallel = false;
    }
    if (s.active.fetch_sub(1, std::memory_order_seq_cst) == 1 && s.caller_waiting.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lk(s.mu);
      s.done_cv.notify_all();
    }
  }
}

void ThreadPool::run_impl(i64 ntasks, int want, Thunk thunk, void* ctx) {
  if (ntasks <= 0) return;
  State& s = *s_;
  int threads = want < size_ ? want : size_;
  if (ntasks < threads) threads = static_cast<int>(ntasks);
  std::unique_lock<std::mutex> lock(s.submit, std::defer_lock);
  if (threads <= 1 || tl_in_parallel || !lock.try_lock()) {
    const bool was = tl_in_parallel;
    tl_in_parallel = true;
    for (i64 t = 0; t < ntasks; t++) thunk(ctx, t, 0);
    tl_in_parallel = was;
    return;
  }
  s.thunk = thunk;
  s.ctx = ctx;
  s.ntasks = ntasks;
  s.participants = threads - 1;
  s.next.store(0, std::memory_order_relaxed);
  s.open.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lk(s.mu);
    s.generation.fetch_add(1, std::memory_order_release);
    if (s.sleeping > 0) s.cv.notify_all();
  }
  tl_in_parallel = true;
  for (i64 t; (t = s.next.fetch_add(1, std::memory_order_relaxed)) < ntasks;) thunk(ctx, t, 0);
  tl_in_parallel = false;
  s.open.store(false, std::memory_order_seq_cst);
  const auto until = std::chrono::steady_clock::now() + kCallerSpin;
  int spins = 0;
  while (s.active.load(std::memory_order_seq_cst) != 0) {
    DL_PAUSE();
    if (++spins < 64) continue;
    spins = 0;
    if (std::chrono::steady_clock::now() < until) continue;
    std::unique_lock<std::mutex> lk(s.mu);
    s.caller_waiting.store(true, std::memory_order_seq_cst);
    while (s.active.load(std::memory_order_seq_cst) != 0) s.done_cv.wait_for(lk, std::chrono::milliseconds(1));
    s.caller_waiting.store(false, std::memory_order_seq_cst);
    break;
  }
}

}  // namespace dl
