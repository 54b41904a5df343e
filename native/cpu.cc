#include "cpu.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace fastconv {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && f.fma;
#elif defined(__aarch64__) || defined(__ARM_NEON)
  f.neon = true;
#endif
  return f;
}

Isa detect_best(const CpuFeatures& f) {
  if (f.avx512) return Isa::kAvx512;
  if (f.avx2 && f.fma) return Isa::kAvx2;  // the avx2 kernels use FMA too
  if (f.neon) return Isa::kNeon;
  return Isa::kScalar;
}

// FASTCONV_ISA may lower the ISA at load time; an unknown or unsupported value is ignored so
// that a stray environment variable cannot make the addon unloadable.
Isa initial_isa() {
  Isa best = detect_best(cpu_features());
  const char* env = std::getenv("FASTCONV_ISA");
  Isa wanted;
  if (env && isa_from_name(env, &wanted) && isa_supported(wanted)) return wanted;
  return best;
}

std::atomic<int>& current() {
  static std::atomic<int> isa{static_cast<int>(initial_isa())};
  return isa;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa best_isa() { return detect_best(cpu_features()); }

Isa current_isa() { return static_cast<Isa>(current().load()); }

void set_current_isa(Isa isa) { current().store(static_cast<int>(isa)); }

bool isa_from_name(const char* name, Isa* out) {
  static const struct {
    const char* name;
    Isa isa;
  } kNames[] = {
      {"scalar", Isa::kScalar}, {"neon", Isa::kNeon}, {"avx2", Isa::kAvx2}, {"avx512", Isa::kAvx512}};
  for (const auto& n : kNames) {
    if (std::strcmp(n.name, name) == 0) {
      *out = n.isa;
      return true;
    }
  }
  return false;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    case Isa::kNeon: return "neon";
    case Isa::kScalar: break;
  }
  return "scalar";
}

bool isa_supported(Isa isa) {
  if (isa == Isa::kScalar) return true;
  const Isa best = best_isa();
  // NEON and the x86 levels are separate ladders: only the scalar floor is shared.
  if (isa == Isa::kNeon) return best == Isa::kNeon;
  if (best == Isa::kNeon) return false;
  return static_cast<int>(isa) <= static_cast<int>(best);
}

}  // namespace fastconv
