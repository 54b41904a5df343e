// Maps the current instruction set to its Winograd kernels (kept beside kernel_config.cc, which
// does the same for the GEMM and depthwise kernels).
#include "kernels/winograd_kernels.h"

namespace fastconv {

// Isa::kNeon has no kernels yet and runs the scalar ones.
const WinogradKernels& winograd_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::kAvx512) return *winograd_kernels_avx512();
  if (isa == Isa::kAvx2) return *winograd_kernels_avx2();
#endif
  (void)isa;
  return *winograd_kernels_scalar();
}

}  // namespace fastconv
