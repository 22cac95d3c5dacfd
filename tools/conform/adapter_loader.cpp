#include "adapter_loader.h"

#include <dlfcn.h>

#include "common/input_file.h"

namespace kniommu::conform {

std::unique_ptr<LoadedAdapter> LoadedAdapter::open(const std::string& path, std::string& error) {
  // dlopen searches the library path for names without a slash; an adapter is a file the user
  // points at, so make relative paths explicit.
  const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  // dlopen would block on a FIFO and give a vague message for a directory: check first.
  std::string why_not;
  if (!is_regular_input(file, why_not)) {
    error = "cannot load adapter " + why_not;
    return nullptr;
  }
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    error = "cannot load adapter " + path + ": " + (why != nullptr ? why : "unknown error");
    return nullptr;
  }
  void* symbol = dlsym(handle, KN_ADAPTER_ENTRY_SYMBOL);
  if (symbol == nullptr) {
    error = path + " does not export " KN_ADAPTER_ENTRY_SYMBOL " (see docs/adapter.md)";
    dlclose(handle);
    return nullptr;
  }
  // POSIX guarantees object and function pointers convert through dlsym's void*.
  KnAdapterEntryV1 entry = nullptr;
  static_assert(sizeof(entry) == sizeof(symbol));
  __builtin_memcpy(&entry, &symbol, sizeof entry);
  const KnAdapterV1* table = entry();
  if (table == nullptr) {
    error = path + ": " KN_ADAPTER_ENTRY_SYMBOL "() returned NULL";
  } else if (table->abi_version != KN_ADAPTER_ABI_VERSION ||
             table->struct_size != sizeof(KnAdapterV1)) {
    error = path + ": adapter ABI version " + std::to_string(table->abi_version) +
            " / table size " + std::to_string(table->struct_size) +
            ", this kniommu-conform expects version " + std::to_string(KN_ADAPTER_ABI_VERSION) +
            " / size " + std::to_string(sizeof(KnAdapterV1));
  } else {
    return std::unique_ptr<LoadedAdapter>(new LoadedAdapter(handle, table));
  }
  dlclose(handle);
  return nullptr;
}

LoadedAdapter::~LoadedAdapter() { dlclose(handle_); }

}  // namespace kniommu::conform
