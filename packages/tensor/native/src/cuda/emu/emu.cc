// The emulated CUDA device (DL_CUDA=emulate builds only): the runtime API and the kernels of
// the CUDA part run on the host, so that the whole CUDA path (the binding, the allocator, the
// transfers, the device error flag and every kernel's indexing and arithmetic) is tested on
// machines without a GPU. It is a test device, not a fast one.
//
// - Memory: "device" blocks are host memory, filled with 0xA5 bytes when allocated (as
//   uninitialised device memory, a kernel that reads what nobody wrote sees garbage). The device
//   has DL_CUDA_EMU_MEMORY_MB of memory (default 4096): allocations past it fail with
//   cudaErrorMemoryAllocation, so the allocator's out-of-memory path runs for real.
// - Streams are asynchronous, as late as a GPU may be: kernels, memsets and copies to or from
//   pinned memory are queued, and the queue runs only when the host waits, and only as far as it
//   waits: all of it for a stream synchronisation, cudaFree or a copy to pageable memory; what
//   was enqueued before the event's record for an event's. A host that reuses a pinned buffer
//   before waiting, or reads one too early, sees it go wrong here. Copies from pageable memory
//   take the bytes at the call and copies into it wait, as the CUDA documentation says they do.
//   A kernel's failure surfaces at the next call after it ran.
//   With DL_CUDA_EMU_DISCARD=1 the stream drops its work (nothing runs, device memory keeps
//   whatever it held): what is left is the host's cost of issuing it, which bench/cuda_host.mjs
//   measures without a queue growing in memory.
// - Launches: the configuration is checked as the hardware checks it (at most 1024 threads a
//   block, grid y and z below 65536, 48 KiB of dynamic shared memory). The blocks run one after
//   another on the calling thread; the threads of a block run as fibers, so
//   __syncthreads() and warp shuffles suspend a thread until its block or warp caught up. A
//   thread that has not reached a barrier runs on the fiber of the thread before it, so a
//   kernel without barriers costs a function call per thread. Threads start in ascending order on
//   one launch and in descending order on the next, so a kernel that reads what another thread of
//   its block wrote without a barrier between them gets a wrong result in one of the two orders.
// - Misuse that the hardware leaves undefined is an error here: __syncthreads() that not every
//   thread of the block reaches, a shuffle that not every lane of the warp reaches, or one that
//   reads a lane outside the block. It becomes the sticky cudaErrorLaunchFailure, with a line on
//   stderr naming the kernel, the block and the thread.
// - Not emulated: concurrency between threads (no data race can show) and the memory model.
//   cuBLAS and cuDNN are host stand-ins (host_cublas.cc, host_cudnn.cc), loaded only from
//   DL_CUDA_EMU_LIBS; without it the built-in kernels run.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_runtime.h"
#include "stream.h"

// The bounds of the section that holds every kernel's __shared__ arrays (the linker defines them).
extern "C" char __start_dl_emu_shared[] __attribute__((weak));
extern "C" char __stop_dl_emu_shared[] __attribute__((weak));

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

/** An event: how much of the stream's work was enqueued when it was last recorded. */
struct CUevent_st {
  unsigned long long recorded = 0;
};

namespace {

// ------------------------------------------------------------------ errors

thread_local cudaError_t t_last = cudaSuccess;
cudaError_t g_sticky = cudaSuccess;  // once set, every call fails with it (as a real context)

cudaError_t fail(cudaError_t e) {
  t_last = e;
  return e;
}
cudaError_t ok() { return g_sticky != cudaSuccess ? fail(g_sticky) : cudaSuccess; }

// ------------------------------------------------------------------ fibers

#if !defined(__x86_64__)
#error "the emulated CUDA device switches fibers with x86-64 code; build it on x86-64 Linux"
#endif

// dl_emu_switch(&from_sp, to_sp): saves the callee-saved registers and the SSE/x87 control
// words on the current stack, stores the stack pointer in *from_sp, and resumes the fiber
// whose stack pointer is to_sp (as saved by an earlier switch, or as made by new_stack).
// ucontext's swapcontext does the same plus two system calls for the signal mask, which made
// a kernel with barriers several times slower.
extern "C" void dl_emu_switch(void** from_sp, void* to_sp);
asm(R"(
  .text
  .p2align 4
  .type dl_emu_switch, @function
dl_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size dl_emu_switch, .-dl_emu_switch
)");

/** The stack pointer of a fiber that has not run yet: switching to it calls entry(), which must never return. */
void* new_stack(char* stack, size_t bytes, void (*entry)()) {
  auto* top = reinterpret_cast<uint64_t*>(reinterpret_cast<uintptr_t>(stack + bytes) & ~uintptr_t(15));
  uint64_t* sp = top - 2;  // 16-byte aligned: entry starts as if called from an aligned frame
  sp[1] = 0;               // entry's return address: none
  sp[0] = reinterpret_cast<uint64_t>(entry);
  sp -= 6;  // rbp rbx r12 r13 r14 r15
  for (int i = 0; i < 6; i++) sp[i] = 0;
  sp -= 1;  // the control words, as the current thread has them
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  std::memcpy(sp, &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(sp) + 4, &fpucw, 2);
  return sp;
}

// ------------------------------------------------------------------ the stream

// The work enqueued and not run yet, in order (one stream: the addon uses one per device).
std::mutex g_queue_mutex;
std::deque<std::function<void()>> g_queue;
unsigned long long g_enqueued = 0;  // items ever enqueued
unsigned long long g_ran = 0;       // items taken off the queue (run, or skipped after a failure)

/** DL_CUDA_EMU_DISCARD=1: the stream drops its work instead of queueing it (see the top). */
bool discarding() {
  static const bool discard = [] {
    const char* v = std::getenv("DL_CUDA_EMU_DISCARD");
    return v && std::strcmp(v, "1") == 0;
  }();
  return discard;
}

void enqueue(std::function<void()> op) {
  if (discarding()) return;
  std::lock_guard<std::mutex> lock(g_queue_mutex);
  g_queue.push_back(std::move(op));
  g_enqueued++;
}

/** Runs the queue's work up to the first `until` items ever enqueued (what an event waits for). */
void drain_to(unsigned long long until) {
  for (;;) {
    std::function<void()> op;
    {
      std::lock_guard<std::mutex> lock(g_queue_mutex);
      if (g_queue.empty() || g_ran >= until) return;
      op = std::move(g_queue.front());
      g_queue.pop_front();
      g_ran++;
    }
    if (g_sticky == cudaSuccess) op();  // after a failed kernel the context runs nothing more
  }
}

/** Runs everything enqueued (what the host waits for). */
void drain() { drain_to(~0ULL); }

// ------------------------------------------------------------------ memory

std::mutex g_mem_mutex;
std::map<void*, size_t> g_blocks;  // device block -> bytes
std::map<const char*, size_t> g_pinned;  // cudaHostAlloc'd block -> bytes
size_t g_used = 0;

/** Whether [p, p + bytes) lies in pinned host memory (cudaHostAlloc). */
bool pinned(const void* p, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  const char* c = static_cast<const char*>(p);
  auto it = g_pinned.upper_bound(c);
  if (it == g_pinned.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

size_t device_memory() {
  static const size_t bytes = [] {
    const char* v = std::getenv("DL_CUDA_EMU_MEMORY_MB");
    const long mb = v ? std::strtol(v, nullptr, 10) : 4096;
    return static_cast<size_t>(mb > 0 ? mb : 4096) << 20;
  }();
  return bytes;
}

// ------------------------------------------------------------------ the block scheduler

enum State { kRunning, kReady, kAtBarrier, kAtShuffle, kIdle };

/** A fiber: runs threads of the current block one after another until one of them waits. */
struct Fiber {
  void* sp = nullptr;  // saved stack pointer while it is switched out
  char* stack = nullptr;
  State state = kIdle;
  bool started = false;  // its context holds a live worker loop
  unsigned thread = 0;   // linear index in the block of the thread it runs
  // a pending shuffle
  unsigned member_mask = 0;
  int lane_mask = 0;
  size_t bytes = 0;
  unsigned char value[8], result[8];
};

constexpr size_t kStackBytes = size_t(256) << 10;

struct Scheduler {
  void* main_sp = nullptr;  // the launching thread's stack pointer while a fiber runs
  std::vector<Fiber*> fibers;  // the pool, reused across blocks and launches
  Fiber* running = nullptr;
  const std::function<void()>* body = nullptr;
  unsigned threads = 0, next = 0, finished = 0;
  bool descending = false;  // the order threads start in, flipped at each launch
  std::string failure;  // why the launch stopped, empty while it runs

  Fiber* idle_fiber() {
    for (Fiber* f : fibers)
      if (f->state == kIdle) return f;
    auto* f = new Fiber();
    void* s = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s == MAP_FAILED) return nullptr;
    f->stack = static_cast<char*>(s);
    fibers.push_back(f);
    return f;
  }
};

thread_local Scheduler* t_sched = nullptr;

void set_thread_index(unsigned linear) {
  threadIdx.x = linear % blockDim.x;
  threadIdx.y = linear / blockDim.x % blockDim.y;
  threadIdx.z = linear / (blockDim.x * blockDim.y);
}

/** The loop of every fiber: take the next thread of the block that has not started, run it, repeat. */
void worker() {
  Scheduler* s = t_sched;
  for (;;) {
    Fiber* me = s->running;
    while (s->next < s->threads) {
      me->thread = s->descending ? s->threads - 1 - s->next++ : s->next++;
      me->state = kRunning;
      set_thread_index(me->thread);
      (*s->body)();
      s->finished++;
    }
    me->state = kIdle;
    dl_emu_switch(&me->sp, s->main_sp);
  }
}

/** Switches from the scheduler to f until f waits or runs out of threads. */
void resume(Scheduler& s, Fiber* f) {
  s.running = f;
  if (!f->started) {
    f->sp = new_stack(f->stack, kStackBytes, worker);
    f->started = true;
  } else {
    set_thread_index(f->thread);
  }
  dl_emu_switch(&s.main_sp, f->sp);
  s.running = nullptr;
}

/** Called by a thread that must wait: back to the scheduler. */
void suspend(State why) {
  Scheduler* s = t_sched;
  Fiber* me = s->running;
  me->state = why;
  dl_emu_switch(&me->sp, s->main_sp);
  // resumed: the scheduler set threadIdx again
}

std::string where(unsigned thread) {
  return "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," + std::to_string(blockIdx.z) +
         "), thread " + std::to_string(thread);
}

/**
 * Releases the warps whose lanes all wait at a shuffle, else the block when every thread waits
 * at __syncthreads(). Returns false (with s.failure set) when neither can ever happen.
 */
bool release(Scheduler& s) {
  bool released = false;
  const unsigned warps = (s.threads + 31) / 32;
  std::vector<Fiber*> lane(32);
  for (unsigned w = 0; w < warps; w++) {
    std::fill(lane.begin(), lane.end(), nullptr);
    int waiting = 0;
    for (Fiber* f : s.fibers)
      if (f->state == kAtShuffle && f->thread / 32 == w) {
        lane[f->thread % 32] = f;
        waiting++;
      }
    if (waiting == 0) continue;
    const unsigned lanes = std::min(32u, s.threads - 32 * w);
    for (unsigned l = 0; l < lanes; l++) {
      if (!lane[l]) {
        s.failure = "__shfl_xor_sync in warp " + std::to_string(w) + " that lane " + std::to_string(l) +
                    " never reached (it exited or waits at __syncthreads): every lane named in the mask must take part";
        return false;
      }
    }
    for (unsigned l = 0; l < lanes; l++) {
      Fiber* f = lane[l];
      const unsigned src = l ^ static_cast<unsigned>(f->lane_mask);
      if (f->member_mask != 0xffffffffu || src >= lanes || lane[src]->bytes != f->bytes) {
        s.failure = "__shfl_xor_sync at " + where(f->thread) + ": the emulator takes full-warp masks (0xffffffff) over " +
                    "whole warps of one value type; this one has mask " + std::to_string(f->member_mask) + " and reads lane " +
                    std::to_string(src) + " of " + std::to_string(lanes);
        return false;
      }
      std::memcpy(f->result, lane[src]->value, f->bytes);
    }
    for (unsigned l = 0; l < lanes; l++) lane[l]->state = kReady;
    released = true;
  }
  if (released) return true;
  unsigned at_barrier = 0;
  for (Fiber* f : s.fibers) at_barrier += f->state == kAtBarrier;
  if (at_barrier == 0) return true;  // nothing waits
  if (s.finished > 0) {
    s.failure = "__syncthreads() that " + std::to_string(s.finished) + " of the block's " + std::to_string(s.threads) +
                " threads never reach (they returned first): every thread of the block must reach it";
    return false;
  }
  for (Fiber* f : s.fibers)
    if (f->state == kAtBarrier) f->state = kReady;
  return true;
}

/** Runs one block. Returns false with s.failure set when the kernel misused a barrier. */
bool run_block(Scheduler& s) {
  if (__start_dl_emu_shared != __stop_dl_emu_shared)
    std::memset(__start_dl_emu_shared, 0xA5, static_cast<size_t>(__stop_dl_emu_shared - __start_dl_emu_shared));
  s.next = 0;
  s.finished = 0;
  for (;;) {
    bool progressed = false;
    for (size_t i = 0; i < s.fibers.size(); i++) {
      Fiber* f = s.fibers[i];
      if (f->state == kReady) {
        f->state = kRunning;
        resume(s, f);
        progressed = true;
      }
    }
    if (s.next < s.threads) {
      Fiber* f = s.idle_fiber();
      if (!f) {
        s.failure = "the emulator could not map a fiber stack";
        return false;
      }
      resume(s, f);
      progressed = true;
    }
    if (s.finished == s.threads) return true;
    if (!progressed && !release(s)) return false;
  }
}

std::string dims(dim3 d) { return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")"; }

}  // namespace

// ------------------------------------------------------------------ device side

namespace dl_emu {

/** Runs every block of a launch (from the queue). */
void run_grid(const char* kernel, dim3 grid, dim3 block, const std::function<void()>& body) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (!t_sched) t_sched = new Scheduler();  // one per host thread, never freed (fibers may be parked in it)
  Scheduler& s = *t_sched;
  s.body = &body;
  s.threads = static_cast<unsigned>(threads);
  s.descending = !s.descending;
  gridDim = grid;
  blockDim = block;
  for (unsigned z = 0; z < grid.z; z++)
    for (unsigned y = 0; y < grid.y; y++)
      for (unsigned x = 0; x < grid.x; x++) {
        blockIdx = uint3{x, y, z};
        if (!run_block(s)) {
          std::fprintf(stderr, "dl emulated CUDA: kernel %s (grid %s, block %s) stopped: %s\n", kernel, dims(grid).c_str(),
                       dims(block).c_str(), s.failure.c_str());
          // Threads left waiting cannot be finished: their fibers start afresh next time.
          for (Fiber* f : s.fibers) {
            f->state = kIdle;
            f->started = false;
          }
          g_sticky = cudaErrorLaunchFailure;
          return;
        }
      }
}

void launch(const char* kernel, dim3 grid, dim3 block, size_t shared, cudaStream_t, std::function<void()> body) {
  if (g_sticky != cudaSuccess) {
    fail(g_sticky);
    return;
  }
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu ||
      grid.y > 65535 || grid.z > 65535) {
    std::fprintf(stderr, "dl emulated CUDA: launch of %s with grid %s and block %s: invalid configuration\n", kernel,
                 dims(grid).c_str(), dims(block).c_str());
    fail(cudaErrorInvalidConfiguration);
    return;
  }
  if (shared > 48 * 1024) {
    fail(cudaErrorInvalidValue);
    return;
  }
  enqueue([kernel, grid, block, body = std::move(body)] { run_grid(kernel, grid, block, body); });
}

void sync_block() { suspend(kAtBarrier); }

void shuffle_xor(unsigned member_mask, const void* value, void* result, size_t bytes, int lane_mask) {
  Fiber* me = t_sched->running;
  me->member_mask = member_mask;
  me->lane_mask = lane_mask;
  me->bytes = bytes;
  std::memcpy(me->value, value, bytes);
  suspend(kAtShuffle);
  std::memcpy(result, me->result, bytes);
}

}  // namespace dl_emu

// ------------------------------------------------------------------ the runtime API

cudaError_t cudaGetLastError() {
  const cudaError_t e = t_last;
  t_last = g_sticky;
  return e;
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorLaunchFailure: return "unspecified launch failure (the emulator printed why on stderr)";
    default: return "unknown error";
  }
}

// The emulator stands for a CUDA 13.0 driver and runtime.
cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}

/** One device, unless CUDA_VISIBLE_DEVICES hides it (set, and not starting with 0), as the driver does. */
static bool device_visible() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return !v || v[0] == '0';
}

cudaError_t cudaGetDeviceCount(int* n) {
  *n = 0;
  if (!device_visible()) return fail(cudaErrorNoDevice);
  *n = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int d) { return d == 0 && device_visible() ? ok() : fail(cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d != 0) return fail(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "dl emulated CUDA device (the host CPU; no GPU)");
  p->totalGlobalMem = device_memory();
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 1;
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  *total_bytes = device_memory();
  *free_bytes = device_memory() - g_used;
  return ok();
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (g_sticky != cudaSuccess) return fail(g_sticky);
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  const size_t size = (bytes + 255) / 256 * 256;
  if (size < bytes || size > device_memory() - g_used) return fail(cudaErrorMemoryAllocation);
  void* q = std::aligned_alloc(256, size == 0 ? 256 : size);
  if (!q) return fail(cudaErrorMemoryAllocation);
  std::memset(q, 0xA5, size);
  g_blocks[q] = size;
  g_used += size;
  *p = q;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  drain();  // cudaFree waits for the device
  if (!p) return ok();
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  const auto it = g_blocks.find(p);
  if (it == g_blocks.end()) return fail(cudaErrorInvalidValue);
  g_used -= it->second;
  g_blocks.erase(it);
  std::free(p);
  return ok();
}

cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned) {
  const size_t size = (bytes + 255) / 256 * 256;
  *p = std::aligned_alloc(256, size == 0 ? 256 : size);
  if (!*p) return fail(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  g_pinned[static_cast<const char*>(*p)] = size;
  return ok();
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  if (g_sticky != cudaSuccess) return fail(g_sticky);
  if (kind == cudaMemcpyHostToDevice && !pinned(src, bytes)) {
    // From pageable memory: the bytes are taken now, so the caller may reuse its buffer at once.
    auto copy = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + bytes);
    enqueue([dst, copy] { std::memcpy(dst, copy->data(), copy->size()); });
  } else if (kind == cudaMemcpyDeviceToHost && !pinned(dst, bytes)) {
    // Into pageable memory: returns once the copy is done.
    drain();
    if (g_sticky != cudaSuccess) return fail(g_sticky);
    std::memmove(dst, src, bytes);
  } else {
    enqueue([dst, src, bytes] { std::memmove(dst, src, bytes); });
  }
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  if (g_sticky != cudaSuccess) return fail(g_sticky);
  enqueue([dst, value, bytes] { std::memset(dst, value, bytes); });
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  // One queue whatever the stream: the addon uses one stream per device, and one device.
  *s = new CUstream_st{[](void (*run)(void*), void* arg) { enqueue([run, arg] { run(arg); }); }};
  return ok();
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  drain();
  return ok();
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  *e = new CUevent_st();
  return ok();
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  std::lock_guard<std::mutex> lock(g_queue_mutex);
  e->recorded = g_enqueued;
  return ok();
}
// Waits for the work enqueued before the event's last record, and no more (as a GPU).
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  drain_to(e->recorded);
  return ok();
}
