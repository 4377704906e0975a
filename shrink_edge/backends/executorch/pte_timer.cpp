// A C interface to ExecuTorch's C++ Module, for timing a .pte where executorch's Python runtime cannot run: its
// pybindings need libtorch, and torch 2.13.0's aarch64 wheel is a CUDA build. Built against the libraries and
// headers inside the executorch wheel (timing.py, build_on_phone); loaded from Python with ctypes.
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>

// libexecutorch_threadpool's API; the wheel ships no threadpool.h.
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::runtime::Tag;

struct Timer {
  std::unique_ptr<Module> module;
  std::vector<TensorPtr> inputs;
};

static int fail(char* error, size_t size, const char* what, Error e) {
  std::snprintf(error, size, "%s (executorch error %d)", what, static_cast<int>(e));
  return static_cast<int>(e) ? static_cast<int>(e) : -1;
}

extern "C" {

// The XNNPACK delegate's threadpool size (ExecuTorch starts with one thread per core).
void pte_threads(unsigned threads) {
  executorch::extension::threadpool::get_threadpool()->_unsafe_reset_threadpool(threads);
}

void* pte_open(const char* path, char* error, size_t error_size) {
  auto timer = std::make_unique<Timer>();
  timer->module = std::make_unique<Module>(path, Module::LoadMode::Mmap);
  if (Error e = timer->module->load_method("forward"); e != Error::Ok) {
    fail(error, error_size, "cannot load method forward", e);
    return nullptr;
  }
  auto meta = timer->module->method_meta("forward");
  if (!meta.ok()) {
    fail(error, error_size, "cannot read the method's metadata", meta.error());
    return nullptr;
  }
  timer->inputs.resize(meta->num_inputs());
  return timer.release();
}

size_t pte_num_inputs(void* handle) { return static_cast<Timer*>(handle)->inputs.size(); }

// The input's dtype (c10::ScalarType's number) and sizes; 0 on success, -1 if it is not a tensor.
int pte_input(void* handle, size_t index, int* dtype, size_t* rank, int32_t* sizes, size_t max_rank) {
  auto meta = static_cast<Timer*>(handle)->module->method_meta("forward");
  auto tag = meta->input_tag(index);
  if (!tag.ok() || *tag != Tag::Tensor) return -1;
  auto info = meta->input_tensor_meta(index);
  *dtype = static_cast<int>(info->scalar_type());
  *rank = info->sizes().size();
  for (size_t d = 0; d < *rank && d < max_rank; ++d) sizes[d] = info->sizes()[d];
  return 0;
}

// Binds caller-owned memory (it must outlive the timer) as input `index`, set once for every run.
int pte_set_input(void* handle, size_t index, void* data, char* error, size_t error_size) {
  auto* timer = static_cast<Timer*>(handle);
  auto info = timer->module->method_meta("forward")->input_tensor_meta(index);
  std::vector<executorch::aten::SizesType> sizes(info->sizes().begin(), info->sizes().end());
  timer->inputs[index] = executorch::extension::from_blob(data, sizes, info->scalar_type());
  if (Error e = timer->module->set_input("forward", timer->inputs[index], index); e != Error::Ok)
    return fail(error, error_size, "cannot set an input", e);
  return 0;
}

int pte_run(void* handle, char* error, size_t error_size) {
  auto result = static_cast<Timer*>(handle)->module->execute("forward");
  return result.ok() ? 0 : fail(error, error_size, "forward failed", result.error());
}

void pte_close(void* handle) { delete static_cast<Timer*>(handle); }
}
