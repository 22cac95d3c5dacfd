# One place for the warning policy. Warnings are errors in every preset (KNIOMMU_WERROR, default ON).
add_library(kniommu_warnings INTERFACE)
target_compile_options(kniommu_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wformat=2)
if(KNIOMMU_WERROR)
  target_compile_options(kniommu_warnings INTERFACE -Werror)
endif()
