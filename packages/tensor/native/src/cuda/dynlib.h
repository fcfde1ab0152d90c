// Libraries loaded at run time with dlopen (cuBLAS, cuDNN): no headers and no link-time
// dependency, so the addon builds without them and runs without them on our own kernels.
// Each loader declares the prototypes and enum values it uses; this file holds the search.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dl::cuda {

/** What a loader found: reported by probe() and `doctor`. */
struct LibraryInfo {
  bool found = false;
  std::string path;   // the file that loaded
  std::string error;  // why not (every name tried), or why it cannot be used
  int version = 0;    // major * 10000 + minor * 100 + patch, 0 when unknown
  int64_t calls = 0;  // operations the library ran so far
};

/** A loaded library: what was found, the bound functions and how many operations it ran. */
template <typename Api>
struct Loaded {
  LibraryInfo info;
  Api api{};
  std::atomic<int64_t> calls{0};

  LibraryInfo snapshot() const {
    LibraryInfo out = info;
    out.calls = calls.load();
    return out;
  }
};

/** The process's one Loaded<Api>, filled by `load` on the first call (never destroyed: handles may outlive static destruction). */
template <typename Api>
Loaded<Api>& load_once(void (*load)(Loaded<Api>&)) {
  static Loaded<Api>* l = [load] {
    auto* p = new Loaded<Api>();
    load(*p);
    return p;
  }();
  return *l;
}

/**
 * `names` as given (the dynamic loader's search path: LD_LIBRARY_PATH, the cache), then inside
 * the CUDA toolkit's lib64 ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda).
 */
std::vector<std::string> toolkit_candidates(const std::vector<std::string>& names);

/**
 * dlopens each candidate in turn; `bind` resolves the symbols the caller needs and returns the
 * names it could not find ("" when all were). Returns the first library that binds (its file in
 * info.path, info.found set) or null with every failed try in info.error.
 */
void* open_first(const std::vector<std::string>& candidates, const std::function<std::string(void*)>& bind,
                 LibraryInfo& info);

/** Resolves `name` into `fn`, adding the name to `missing` when the library lacks it. */
template <typename F>
void bind_symbol(void* lib, const char* name, F& fn, std::string& missing);

void* find_symbol(void* lib, const char* name);

template <typename F>
void bind_symbol(void* lib, const char* name, F& fn, std::string& missing) {
  fn = reinterpret_cast<F>(find_symbol(lib, name));
  if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
}

}  // namespace dl::cuda
