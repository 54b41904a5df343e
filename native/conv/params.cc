#include "conv/params.h"

#include <string>
#include <type_traits>

namespace fastconv {

namespace {

// Error text without <sstream>: iostreams pull libstdc++'s locale machinery (about 1 MB, and glibc
// 2.36 symbols) into the prebuilt addons, which link libstdc++ statically (native/prebuild.mjs).
class Msg {
 public:
  Msg& operator<<(const char* s) {
    s_ += s;
    return *this;
  }
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  Msg& operator<<(T v) {
    s_ += std::to_string(v);
    return *this;
  }
  std::string str() const { return s_; }

 private:
  std::string s_;
};

// Padding beyond this is meaningless (only zeros) and would let index arithmetic overflow.
constexpr int kMaxPad = 1 << 24;

std::string field_error(int i, const char* expected, int64_t actual) {
  Msg s;
  s << "params." << kParamNames[i] << ": expected " << expected << ", got " << actual;
  return s.str();
}

std::string count_error(const char* what, int64_t a, int64_t b, int64_t c, int64_t d) {
  Msg s;
  s << what << ": expected at most " << kMaxElements << " elements, got " << a << "*" << b << "*" << c
    << "*" << d;
  return s.str();
}

int64_t expected_out(int64_t in, int64_t pad0, int64_t pad1, int64_t dil, int64_t k, int64_t stride) {
  const int64_t span = in + pad0 + pad1 - dil * (k - 1) - 1;
  if (span < 0) return 0;  // kernel larger than the padded input: floor of a negative quotient
  return span / stride + 1;
}

}  // namespace

std::string parse_params(const int32_t* raw, int64_t count, ConvParams* p) {
  if (count != kParamCount) {
    Msg s;
    s << "params: expected an Int32Array of length " << kParamCount << ", got length " << count;
    return s.str();
  }
  // Each field by its kind (native/interface.mjs), in field order.
  for (int i = 0; i < kParamCount; ++i) {
    switch (kParamKinds[i]) {
      case kParamPositive:
        if (raw[i] < 1) return field_error(i, "a positive integer", raw[i]);
        break;
      case kParamPad:
        if (raw[i] < 0 || raw[i] > kMaxPad) return field_error(i, "an integer in [0, 16777216]", raw[i]);
        break;
      case kParamFlag:
        if (raw[i] != 0 && raw[i] != 1) return field_error(i, "0 or 1", raw[i]);
        break;
    }
  }

  ConvParams q{};
#define FASTCONV_READ_PARAM(name) q.name = decltype(q.name)(raw[kParam_##name]);
  FASTCONV_FOR_EACH_PARAM(FASTCONV_READ_PARAM)
#undef FASTCONV_READ_PARAM
  // Each epilogue applies the upper bound only inside its ReLU branch.
  if (q.relu6 && !q.relu)
    return "params.relu6: expected 0 when relu is 0 (ReLU6 is ReLU clamped at 6), got 1";
  if (q.C % q.groups != 0) {
    Msg s;
    s << "params.groups: expected a divisor of C = " << q.C << ", got " << q.groups;
    return s.str();
  }
  if (q.K % q.groups != 0) {
    Msg s;
    s << "params.groups: expected a divisor of K = " << q.K << ", got " << q.groups;
    return s.str();
  }
  const int64_t oh = expected_out(q.H, q.padTop, q.padBottom, q.dilationH, q.R, q.strideH);
  const int64_t ow = expected_out(q.W, q.padLeft, q.padRight, q.dilationW, q.S, q.strideW);
  if (oh < 1 || ow < 1) {
    Msg s;
    s << "params: the dilated kernel (" << (int64_t(q.dilationH) * (q.R - 1) + 1) << "x"
      << (int64_t(q.dilationW) * (q.S - 1) + 1) << ") is larger than the padded input ("
      << (int64_t(q.H) + q.padTop + q.padBottom) << "x" << (int64_t(q.W) + q.padLeft + q.padRight)
      << ")";
    return s.str();
  }
  if (q.OH != oh) {
    Msg s;
    s << "params.OH: expected " << oh << " (PyTorch's output size formula), got " << q.OH;
    return s.str();
  }
  if (q.OW != ow) {
    Msg s;
    s << "params.OW: expected " << ow << " (PyTorch's output size formula), got " << q.OW;
    return s.str();
  }
  // Every index a kernel forms, oh*stride - pad + r*dilation (and the padded extent), lies within
  // [-pad, (OH-1)*stride + (R-1)*dilation] and [0, H + pads]: both must stay in int32.
  constexpr int64_t kMaxIndex = 2147483647;
  if (int64_t(q.H) + q.padTop + q.padBottom > kMaxIndex ||
      int64_t(q.W) + q.padLeft + q.padRight > kMaxIndex ||
      int64_t(q.OH - 1) * q.strideH + int64_t(q.R - 1) * q.dilationH >= kMaxIndex ||
      int64_t(q.OW - 1) * q.strideW + int64_t(q.S - 1) * q.dilationW >= kMaxIndex) {
    return "params: the padded input or the strided, dilated window reaches past index 2^31 - 1";
  }
  // Each product is formed in int64 from int32 factors, checked after every step so that no
  // intermediate can overflow either.
  auto checked = [](std::initializer_list<int64_t> factors, int64_t* out) {
    int64_t acc = 1;
    for (int64_t f : factors) {
      acc *= f;
      if (acc > kMaxElements) return false;
    }
    *out = acc;
    return true;
  };
  int64_t n;
  if (!checked({q.N, q.C, q.H, q.W}, &n)) return count_error("input", q.N, q.C, q.H, q.W);
  if (!checked({q.K, q.C / q.groups, q.R, q.S}, &n))
    return count_error("weight", q.K, q.C / q.groups, q.R, q.S);
  if (!checked({q.N, q.K, q.OH, q.OW}, &n)) return count_error("output", q.N, q.K, q.OH, q.OW);
  *p = q;
  return "";
}

}  // namespace fastconv
