// CPU feature detection and the instruction-set level the kernels run at. This is the only place
// that reads CPU flags; everything else asks for the current Isa.
#pragma once

namespace fastconv {

// Ordered from least to most capable on each architecture: a forced ISA may only go down.
enum class Isa : int { kScalar = 0, kNeon = 1, kAvx2 = 2, kAvx512 = 3 };

struct CpuFeatures {
  bool avx512 = false;  // F + BW + DQ + VL, everything the avx512 library is compiled for
  bool avx2 = false;
  bool fma = false;
  bool neon = false;
};

const CpuFeatures& cpu_features();
Isa best_isa();     // what this CPU supports
Isa current_isa();  // what the kernels use now
bool isa_from_name(const char* name, Isa* out);
const char* isa_name(Isa isa);
bool isa_supported(Isa isa);    // true if `isa` may be selected on this CPU
void set_current_isa(Isa isa);  // caller checks isa_supported first

}  // namespace fastconv
