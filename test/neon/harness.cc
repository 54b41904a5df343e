// The native convolution code built for AArch64 without Node: test/neon.qemu.test.ts cross-compiles
// this driver with every native source but addon.cc, runs it under qemu-aarch64, and checks what it
// writes against the float64 references in TypeScript (the one reference every other path uses).
//
//   harness JOBS OUT    runs the jobs of file JOBS, writes their results to OUT, prints the kernels
//
// JOBS (little-endian): int32 count, then per job int32 kind (0 forward, 1 grad-weight), isa
// (0 scalar, 1 neon), threads, algo (forward: algorithm code; grad-weight: GradWeightAlgo),
// params[19] (ConvParams order), has_bias, then float32 input, and weight [+ bias] (forward) or
// grad_out (grad-weight).
// OUT: per job int32 status; 0 = ok, then the float32 output (forward: N*K*OH*OW; grad-weight:
// the weight gradient then K bias sums), else int32 length and the error message.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "conv/conv.h"
#include "conv/grad_weight.h"
#include "conv/params.h"
#include "cpu.h"
#include "fma_peak.h"
#include "kernels/kernel_config.h"

namespace {

struct Reader {
  FILE* f;
  bool ok = true;
  int32_t i32() {
    int32_t v = 0;
    ok = ok && std::fread(&v, sizeof v, 1, f) == 1;
    return v;
  }
  std::vector<float> floats(int64_t n) {
    std::vector<float> v(size_t(n > 0 ? n : 0));
    ok = ok && (n <= 0 || std::fread(v.data(), sizeof(float), size_t(n), f) == size_t(n));
    return v;
  }
};

void put_i32(FILE* f, int32_t v) { std::fwrite(&v, sizeof v, 1, f); }
void put_floats(FILE* f, const std::vector<float>& v) { std::fwrite(v.data(), sizeof(float), v.size(), f); }

std::string run_job(Reader& in, std::vector<float>* result) {
  const int kind = in.i32(), isa = in.i32(), threads = in.i32(), algo = in.i32();
  int32_t raw[fastconv::kParamCount];
  for (int32_t& r : raw) r = in.i32();
  const bool has_bias = in.i32() != 0;
  fastconv::ConvParams p{};
  const std::string bad = fastconv::parse_params(raw, fastconv::kParamCount, &p);
  if (!bad.empty()) return "params: " + bad;  // the stream cannot be resynchronized: caller stops
  const fastconv::Isa want = isa == 1 ? fastconv::Isa::kNeon : fastconv::Isa::kScalar;
  if (!fastconv::isa_supported(want)) return std::string("isa not supported: ") + fastconv::isa_name(want);
  fastconv::set_current_isa(want);
  fastconv::set_num_threads(threads);
  std::vector<float> x = in.floats(p.input_size());
  if (kind == 0) {
    std::vector<float> w = in.floats(p.weight_size());
    std::vector<float> b = in.floats(has_bias ? p.K : 0);
    if (!in.ok) return "truncated job";
    result->assign(size_t(p.output_size()), -7.5e33f);
    return fastconv::run_conv(p, algo, x.data(), w.data(), has_bias ? b.data() : nullptr, result->data());
  }
  std::vector<float> gy = in.floats(p.output_size());
  if (!in.ok) return "truncated job";
  result->assign(size_t(p.weight_size() + p.K), -7.5e33f);
  return fastconv::run_grad_weight(p, x.data(), gy.data(), result->data(), result->data() + p.weight_size(), algo);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: harness JOBS OUT\n");
    return 2;
  }
  FILE* jobs = std::fopen(argv[1], "rb");
  FILE* out = std::fopen(argv[2], "wb");
  if (!jobs || !out) {
    std::fprintf(stderr, "harness: cannot open %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  using fastconv::Isa;
  const Isa best = fastconv::best_isa();
  // What the test asserts ran: NEON must be this CPU's best ISA, with its own kernels.
  std::printf("{\"best\":\"%s\",\"gemm\":\"%s\",\"depthwise\":\"%s\",\"fft\":\"%s\",\"fma\":\"%s\",\"fmaGflops\":%.6g}\n",
              fastconv::isa_name(best), fastconv::gemm_config(Isa::kNeon).name,
              fastconv::depthwise_config(Isa::kNeon).name, fastconv::fft_config(Isa::kNeon).name,
              fastconv::fma_peak_config(Isa::kNeon).name, fastconv::measure_fma_peak(Isa::kNeon, 2.0));
  Reader in{jobs};
  const int32_t count = in.i32();
  for (int32_t j = 0; j < count && in.ok; ++j) {
    std::vector<float> result;
    const std::string err = run_job(in, &result);
    if (err.empty()) {
      put_i32(out, 0);
      put_floats(out, result);
    } else {
      put_i32(out, 1);
      put_i32(out, int32_t(err.size()));
      std::fwrite(err.data(), 1, err.size(), out);
      if (err.rfind("params: ", 0) == 0 || err == "truncated job") break;
    }
  }
  std::fclose(jobs);
  return std::fclose(out) == 0 && in.ok ? 0 : 1;
}
