// The Node-API surface: argument checks, typed-array views, the async worker and error mapping.
// Nothing here computes; everything arriving from JavaScript is re-validated before native code
// sees a pointer, so no argument can crash the process.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "conv/choose.h"
#include "conv/conv.h"
#include "conv/fft.h"
#include "conv/fft_cost.h"
#include "conv/grad_weight.h"
#include "conv/knobs.h"
#include "conv/params.h"
#include "conv/winograd.h"
#include "cpu.h"
#include "fma_peak.h"
#include "kernels/kernel_config.h"
#include "threadpool.h"
#include "workspace.h"

namespace {

using fastconv::ConvParams;

[[noreturn]] void throw_type(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
[[noreturn]] void throw_range(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

std::string describe(const Napi::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsTypedArray()) {
    static const char* const kNames[] = {"Int8Array",     "Uint8Array",    "Uint8ClampedArray",
                                         "Int16Array",    "Uint16Array",   "Int32Array",
                                         "Uint32Array",   "Float32Array",  "Float64Array",
                                         "BigInt64Array", "BigUint64Array"};
    const unsigned t = v.As<Napi::TypedArray>().TypedArrayType();
    return t < sizeof(kNames) / sizeof(kNames[0]) ? kNames[t] : "a typed array";
  }
  if (v.IsArray()) return "an Array";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

// One typed-array argument, queried once: every accessor of Napi::TypedArray is another
// napi_get_typedarray_info call, and a call used to make ~6 per array, a visible share of a small
// call such as LeNet's (bench/README.md, measurements).
struct View {
  Napi::Value value;
  size_t length = 0;  // elements
  char* data = nullptr;
  size_t bytes() const { return length * 4; }  // Int32Array and Float32Array only
};

// A typed array argument of the expected element type, not detached.
View typed_arg(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
               const char* type_name) {
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  View view{v};
  bool is_typed = false;
  napi_typedarray_type got;
  void* data = nullptr;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &got, &view.length, &data, &buffer, &offset) != napi_ok ||
      got != type)
    throw_type(env, std::string(name) + ": expected a " + type_name + ", got " + describe(v));
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached)
    throw_type(env, std::string(name) + ": expected a " + type_name +
                        " with a live buffer, got one whose ArrayBuffer is detached");
  view.data = static_cast<char*>(data);
  return view;
}

void check_length(Napi::Env env, const char* name, const View& a, int64_t expected,
                  const char* formula) {
  const int64_t got = static_cast<int64_t>(a.length);
  if (got != expected)
    throw_range(env, std::string(name) + ": expected length " + std::to_string(expected) + " (" +
                         formula + "), got " + std::to_string(got));
}

struct Span {
  const char* begin;
  const char* end;
};

Span span_of(const View& a) { return {a.data, a.data + a.bytes()}; }

bool overlaps(Span a, Span b) { return a.begin < b.end && b.begin < a.end; }

float* float_data(const View& a) { return reinterpret_cast<float*>(a.data); }

// A typed array an async call touches again on the JS thread once it has run. The reference keeps the
// object alive, not its memory: meanwhile the caller may have resized its buffer (resizable
// ArrayBuffer, growable SharedArrayBuffer) or detached it (transfer(), structuredClone or postMessage
// with a transfer list). The rule, as in src/async-args.ts: the array is intact while it still has
// the element count it was validated with. A fixed-length view a resize left in bounds keeps its
// memory (resizable buffers never move); a length-tracking view follows its buffer, so any resize of
// it is an error, as is a fixed-length view pushed out of bounds (length 0) or a detached buffer.
struct Held {
  Napi::Reference<Napi::Value> ref;
  const char* name;  // the argument, for the error
  size_t length;     // elements, as validated
};

Held hold(const View& v, const char* name) { return Held{Napi::Persistent(v.value), name, v.length}; }

// The array's memory now, or why it cannot be used: an exception of the right class naming it, for
// the promise. Runs on the JS thread (OnOK).
float* recheck(Napi::Env env, const char* call, const Held& h, Napi::Value* error) {
  napi_value v = h.ref.Value();
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset;
  bool detached = false;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok ||
      (napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached)) {
    *error = Napi::TypeError::New(env, std::string(call) + ": " + h.name +
                                           "'s ArrayBuffer was detached or transferred during the call")
                 .Value();
    return nullptr;
  }
  if (length != h.length) {
    *error = Napi::RangeError::New(
                 env, std::string(call) + ": " + h.name + " was resized during the call: it has " +
                          std::to_string(length) + " elements now, " + std::to_string(h.length) +
                          " when the call was made (a length-tracking view follows its buffer's size; "
                          "a fixed-length view reads 0 once out of bounds)")
                 .Value();
    return nullptr;
  }
  return static_cast<float*>(data);
}

// Every held array re-checked, in argument order (the first changed one is named); their memory now
// in `data`, or false with `error` set.
bool recheck_all(Napi::Env env, const char* call, const std::vector<Held>& held,
                 std::vector<float*>* data, Napi::Value* error) {
  data->clear();
  for (const Held& h : held) {
    float* d = recheck(env, call, h, error);
    if (!d) return false;
    data->push_back(d);
  }
  return true;
}

ConvParams params_arg(const Napi::CallbackInfo& info, size_t i) {
  const View params = typed_arg(info, i, "params", napi_int32_array, "Int32Array");
  const auto* raw = reinterpret_cast<const int32_t*>(params.data);
  ConvParams p;
  const std::string err = fastconv::parse_params(raw, static_cast<int64_t>(params.length), &p);
  if (!err.empty()) throw_range(info.Env(), err);
  return p;
}

int algo_arg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsNumber())
    throw_type(info.Env(), "algo: expected an integer algorithm code, got " + describe(v));
  const double a = v.As<Napi::Number>().DoubleValue();
  if (!(a >= 0 && a <= 1000) || std::floor(a) != a)
    throw_range(info.Env(), "algo: expected an integer algorithm code, got " + v.ToString().Utf8Value());
  return static_cast<int>(a);
}

// A grad-weight algorithm code (GradWeightAlgo) at argument i.
int grad_weight_algo_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const std::string expected =
      std::string(name) + ": expected " + fastconv::kGradWeightAlgoList + ", got ";
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw_type(info.Env(), expected + describe(v));
  const double a = v.As<Napi::Number>().DoubleValue();
  if (!(a >= 0 && a < fastconv::kGradWeightAlgoCount) || std::floor(a) != a)
    throw_range(info.Env(), expected + v.ToString().Utf8Value());
  return static_cast<int>(a);
}

// A layer's store of transformed weights, handed to JavaScript as a tagged External. The shared_ptr
// lets an async call keep the store alive if the layer is collected mid-call.
using PackedHandle = std::shared_ptr<fastconv::PackedWeights>;
constexpr napi_type_tag kPackedTag = {0x6661737463306e76ULL, 0x7061636b65643031ULL};

// The store at argument i, or null when the argument is absent, null or undefined.
PackedHandle packed_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  Napi::Value v = info[i];
  if (!v.IsExternal() || !v.As<Napi::External<PackedHandle>>().CheckTypeTag(&kPackedTag))
    throw_type(info.Env(), "packed: expected a handle from packedWeights(), got " + describe(v));
  return *v.As<Napi::External<PackedHandle>>().Data();
}

// Everything one convolution call needs, validated.
struct Call {
  ConvParams p;
  int algo;
  const float* input;
  const float* weight;
  const float* bias;
  float* out;
  PackedHandle packed;
  uint64_t packed_epoch = 0;  // the store's epoch when the call was made
  // Async only: input, weight, [bias,] out, out last.
  std::vector<Held> refs;
  // Async calls run on private copies: a caller may transfer an ArrayBuffer to another thread while
  // the convolution runs, and its memory may then be freed under us (Node-API cannot pin it).
  // The result is copied into `out` on the JS thread, after checking that every argument is intact.
  std::vector<float> own_input, own_weight, own_bias, own_out;

  std::string run() const {
    return fastconv::run_conv(p, algo, input, weight, bias, out, packed.get(), packed_epoch);
  }
  // Async only, on the JS thread: `data` holds the arrays' memory as recheck_all just found it.
  void copy_back(const std::vector<float*>& data) const {
    std::memcpy(data.back(), own_out.data(), own_out.size() * sizeof(float));
  }
};

Call parse_call(const Napi::CallbackInfo& info, bool keep_refs) {
  Napi::Env env = info.Env();
  if (info.Length() < 6)
    throw_type(
        env,
        "conv2d: expected 6 or 7 arguments (params, algo, input, weight, bias, out[, packed]), got " +
            std::to_string(info.Length()));
  Call c;
  c.p = params_arg(info, 0);
  c.algo = algo_arg(info, 1);
  // A shape the algorithm does not take is a bad argument (what supports() says), not a failed run.
  const std::string why = fastconv::algorithm_applies(c.p, c.algo);
  if (!why.empty()) throw_range(env, why);

  const View input = typed_arg(info, 2, "input", napi_float32_array, "Float32Array");
  const View weight = typed_arg(info, 3, "weight", napi_float32_array, "Float32Array");
  const bool has_bias = !info[4].IsNull() && !info[4].IsUndefined();
  View bias;
  if (has_bias) bias = typed_arg(info, 4, "bias", napi_float32_array, "Float32Array or null");
  const View out = typed_arg(info, 5, "out", napi_float32_array, "Float32Array");

  check_length(env, "input", input, c.p.input_size(), "N*C*H*W");
  check_length(env, "weight", weight, c.p.weight_size(), "K*(C/groups)*R*S");
  if (has_bias) check_length(env, "bias", bias, c.p.K, "K");
  check_length(env, "out", out, c.p.output_size(), "N*K*OH*OW");

  const Span o = span_of(out);
  if (overlaps(o, span_of(input)))
    throw_range(env, "out: expected memory separate from input, got an overlapping view");
  if (overlaps(o, span_of(weight)))
    throw_range(env, "out: expected memory separate from weight, got an overlapping view");
  if (has_bias && overlaps(o, span_of(bias)))
    throw_range(env, "out: expected memory separate from bias, got an overlapping view");

  c.input = float_data(input);
  c.weight = float_data(weight);
  c.bias = has_bias ? float_data(bias) : nullptr;
  c.out = float_data(out);
  c.packed = packed_arg(info, 6);
  if (c.packed) c.packed_epoch = c.packed->epoch();
  if (keep_refs) {
    c.own_input.assign(c.input, c.input + c.p.input_size());
    c.own_weight.assign(c.weight, c.weight + c.p.weight_size());
    if (has_bias) c.own_bias.assign(c.bias, c.bias + c.p.K);
    c.own_out.resize(static_cast<size_t>(c.p.output_size()));
    c.input = c.own_input.data();
    c.weight = c.own_weight.data();
    c.bias = has_bias ? c.own_bias.data() : nullptr;
    c.out = c.own_out.data();
    c.refs.push_back(hold(input, "input"));
    c.refs.push_back(hold(weight, "weight"));
    if (has_bias) c.refs.push_back(hold(bias, "bias"));
    c.refs.push_back(hold(out, "out"));
  }
  return c;
}

// supports(params, algo): null when the algorithm can run this problem here, else why not.
Napi::Value Supports(const Napi::CallbackInfo& info) {
  const ConvParams p = params_arg(info, 0);
  const std::string why = fastconv::algorithm_applies(p, algo_arg(info, 1));
  return why.empty() ? info.Env().Null() : Napi::String::New(info.Env(), why);
}

// accepts(params): null when this engine can take the problem at all (its index and size limits,
// parse_params), else why not; the dispatcher routes such calls to another backend.
Napi::Value Accepts(const Napi::CallbackInfo& info) {
  const View params = typed_arg(info, 0, "params", napi_int32_array, "Int32Array");
  ConvParams p;
  const std::string err = fastconv::parse_params(reinterpret_cast<const int32_t*>(params.data),
                                                 static_cast<int64_t>(params.length), &p);
  return err.empty() ? info.Env().Null() : Napi::String::New(info.Env(), err);
}

// choose(params): { algorithm, reason, stable }, the algorithm 'auto' runs here (conv/choose.h). May
// time the FFT/GEMM calibration probe the first time a shape near the crossover asks, on this thread.
Napi::Value Choose(const Napi::CallbackInfo& info) {
  const ConvParams p = params_arg(info, 0);
  const fastconv::AlgorithmChoice c = fastconv::choose_algorithm(p);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("algorithm", fastconv::kAlgorithmNames[c.code]);
  o.Set("reason", c.reason);
  o.Set("stable", c.stable);
  return o;
}

// fftCalibration(): the FFT/GEMM crossover's calibration on the current ISA (measured now if it
// was not yet), with the constants it is derived from.
Napi::Value FftCalibration(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const fastconv::FftCalibration c = fastconv::fft_calibration();
  Napi::Object o = Napi::Object::New(env);
  o.Set("scale", c.scale);
  o.Set("fftMs", c.fft_ms > 0 ? Napi::Value(Napi::Number::New(env, c.fft_ms)) : env.Null());
  o.Set("im2colMs", c.im2col_ms > 0 ? Napi::Value(Napi::Number::New(env, c.im2col_ms)) : env.Null());
  o.Set("referenceRatio", fastconv::kReferenceFftRatio);
  Napi::Array limits = Napi::Array::New(env, 2);
  limits.Set(0u, fastconv::kFftScaleMin);
  limits.Set(1u, fastconv::kFftScaleMax);
  o.Set("limits", limits);
  o.Set("note", c.note);
  return o;
}

// gradWeightChoose(params, requested): { algorithm, kernelPays, reason } (conv/grad_weight.h).
Napi::Value GradWeightChoose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ConvParams p = params_arg(info, 0);
  const fastconv::GradWeightChoice c =
      fastconv::grad_weight_choose(p, grad_weight_algo_arg(info, 1, "requested"));
  Napi::Object o = Napi::Object::New(env);
  o.Set("algorithm", fastconv::kGradWeightAlgoNames[c.algo]);
  o.Set("kernelPays", c.kernel_pays);
  o.Set("reason", c.reason);
  return o;
}

// setKnob(code, value): a test-only forcing knob (conv/knobs.h); waits for a running convolution.
Napi::Value SetKnob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double v[2];
  for (size_t i = 0; i < 2; ++i) {
    const char* name = i == 0 ? "code" : "value";
    if (!info[i].IsNumber())
      throw_type(env, std::string(name) + ": expected an integer, got " + describe(info[i]));
    v[i] = info[i].As<Napi::Number>().DoubleValue();
    if (!(std::fabs(v[i]) < 1e9) || std::floor(v[i]) != v[i])
      throw_range(env,
                  std::string(name) + ": expected an integer, got " + info[i].ToString().Utf8Value());
  }
  const std::string why = fastconv::set_knob(static_cast<int>(v[0]), static_cast<int>(v[1]));
  if (!why.empty()) throw_range(env, why);
  return env.Undefined();
}

// winogradTile(params): the output tile edge (2 or 4) a Winograd call of params would use now,
// knobs included; 0 where Winograd does not apply.
Napi::Value WinogradTile(const Napi::CallbackInfo& info) {
  const ConvParams p = params_arg(info, 0);
  const int tile = fastconv::winograd_unsupported(p).empty() ? fastconv::winograd_tile(p) : 0;
  return Napi::Number::New(info.Env(), tile);
}

// threadsFor(params, algo): the threads a call would run on, from the same rule the call uses.
Napi::Value ThreadsFor(const Napi::CallbackInfo& info) {
  const ConvParams p = params_arg(info, 0);
  const int algo = algo_arg(info, 1);
  const std::string why = fastconv::algorithm_applies(p, algo);
  if (!why.empty()) throw_range(info.Env(), "threadsFor: " + why);
  return Napi::Number::New(info.Env(), fastconv::algorithm_threads(p, algo));
}

Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  Call c = parse_call(info, false);
  const std::string err = c.run();
  if (!err.empty()) throw Napi::Error::New(info.Env(), err);
  return info.Env().Undefined();
}

// packedWeights(): a new, empty store for one layer's transformed weights; freed with the handle.
Napi::Value PackedWeightsNew(const Napi::CallbackInfo& info) {
  auto* handle = new PackedHandle(std::make_shared<fastconv::PackedWeights>());
  auto ext = Napi::External<PackedHandle>::New(info.Env(), handle,
                                               [](Napi::Env, PackedHandle* h) { delete h; });
  ext.TypeTag(&kPackedTag);
  return ext;
}

// releasePacked(handle): frees the store's buffers now (the layer's weights changed, or dispose()).
Napi::Value ReleasePacked(const Napi::CallbackInfo& info) {
  PackedHandle h = packed_arg(info, 0);
  if (!h)
    throw_type(info.Env(), "packed: expected a handle from packedWeights(), got " + describe(info[0]));
  fastconv::clear_packed(h.get());
  return info.Env().Undefined();
}

// packedBytes(handle): bytes of transformed weights the store holds.
Napi::Value PackedBytes(const Napi::CallbackInfo& info) {
  PackedHandle h = packed_arg(info, 0);
  if (!h)
    throw_type(info.Env(), "packed: expected a handle from packedWeights(), got " + describe(info[0]));
  return Napi::Number::New(info.Env(), double(h->bytes()));
}

// An async call (conv2dAsync, gradWeightAsync) on its private copies: run() off the JS thread,
// then copy_back() into the caller's arrays and settle the promise.
template <class CallT>
class AsyncCall : public Napi::AsyncWorker {
 public:
  AsyncCall(Napi::Env env, const char* name, const char* resource, CallT call)
      : Napi::AsyncWorker(env, resource), name_(name), call_(std::move(call)), deferred_(env) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    const std::string err = call_.run();
    if (!err.empty()) SetError(err);
  }

  // Both completions run on the JS thread, but also while a worker_thread that started the call is
  // being terminated: then every Node-API call fails, and a Napi::Error escaping here would reach
  // std::terminate and abort the whole process. Nobody is left to settle the promise for.
  void OnOK() override {
    try {
      Napi::Env env = Env();
      // A buffer resized or transferred away mid-call cannot be prevented through Node-API, but it
      // must neither look like success nor take a write past its end.
      std::vector<float*> data;
      Napi::Value error;
      if (!recheck_all(env, name_, call_.refs, &data, &error)) {
        deferred_.Reject(error);
        return;
      }
      call_.copy_back(data);
      deferred_.Resolve(env.Undefined());
    } catch (const Napi::Error&) {
    }
  }

  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(Napi::Error::New(Env(), e.Message()).Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  const char* name_;
  CallT call_;
  Napi::Promise::Deferred deferred_;
};

// Parses with private copies and queues the call; bad arguments reject the promise.
template <class CallT>
Napi::Value queue_async(const Napi::CallbackInfo& info, const char* name, const char* resource,
                        CallT (*parse)(const Napi::CallbackInfo&, bool)) {
  Napi::Env env = info.Env();
  CallT call;
  try {
    call = parse(info, true);
  } catch (const Napi::Error& e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  } catch (const std::bad_alloc&) {
    // The private copies of a huge call: node-addon-api turns only Napi::Error into a JS exception,
    // so this would otherwise reach std::terminate.
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(Napi::RangeError::New(
                 env, std::string(name) + ": out of memory for the call's private copies of its arrays")
                 .Value());
    return d.Promise();
  }
  auto* worker = new AsyncCall<CallT>(env, name, resource, std::move(call));  // deletes itself when done
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value Conv2dAsync(const Napi::CallbackInfo& info) {
  return queue_async<Call>(info, "conv2dAsync", "fastconv.conv2dAsync", parse_call);
}

// ---- gradWeight(params, input, gradOutput, out, gradBiasOut?, algo?) and its async variant ----

// One validated grad-weight call. Async calls run on private copies, as conv2dAsync does.
struct GradWeightCall {
  ConvParams p{};
  const float* input = nullptr;
  const float* grad_out = nullptr;
  float* out = nullptr;
  float* bias_out = nullptr;  // null: grad-bias not requested
  int algo = 0;               // fastconv::GradWeightAlgo
  // Async only: input, gradOutput, [gradBiasOut,] out: out last.
  std::vector<Held> refs;
  std::vector<float> own_input, own_grad_out, own_out, own_bias_out;

  std::string run() const { return fastconv::run_grad_weight(p, input, grad_out, out, bias_out, algo); }
  // Async only, on the JS thread: `data` holds the arrays' memory as recheck_all just found it; out is
  // the last, gradBiasOut (when asked for) the third.
  void copy_back(const std::vector<float*>& data) const {
    std::memcpy(data.back(), own_out.data(), own_out.size() * sizeof(float));
    if (bias_out) std::memcpy(data[2], own_bias_out.data(), own_bias_out.size() * sizeof(float));
  }
};

GradWeightCall parse_grad_weight_call(const Napi::CallbackInfo& info, bool keep_refs) {
  Napi::Env env = info.Env();
  if (info.Length() < 4)
    throw_type(env,
               "gradWeight: expected 4 to 6 arguments (params, input, gradOutput, out, gradBiasOut?, "
               "algo?), got " +
                   std::to_string(info.Length()));
  GradWeightCall c;
  c.p = params_arg(info, 0);
  const View input = typed_arg(info, 1, "input", napi_float32_array, "Float32Array");
  const View grad_out = typed_arg(info, 2, "gradOutput", napi_float32_array, "Float32Array");
  const View out = typed_arg(info, 3, "out", napi_float32_array, "Float32Array");
  const bool has_bias = info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined();
  View bias_out;
  if (has_bias) bias_out = typed_arg(info, 4, "gradBiasOut", napi_float32_array, "Float32Array or null");
  if (info.Length() > 5 && !info[5].IsUndefined()) c.algo = grad_weight_algo_arg(info, 5, "algo");
  check_length(env, "input", input, c.p.input_size(), "N*C*H*W");
  check_length(env, "gradOutput", grad_out, c.p.output_size(), "N*K*OH*OW");
  check_length(env, "out", out, c.p.weight_size(), "K*(C/groups)*R*S");
  if (has_bias) check_length(env, "gradBiasOut", bias_out, c.p.K, "K");
  const Span o = span_of(out);
  if (overlaps(o, span_of(input)))
    throw_range(env, "out: expected memory separate from input, got an overlapping view");
  if (overlaps(o, span_of(grad_out)))
    throw_range(env, "out: expected memory separate from gradOutput, got an overlapping view");
  if (has_bias) {
    const Span b = span_of(bias_out);
    if (overlaps(b, span_of(input)) || overlaps(b, span_of(grad_out)) || overlaps(b, o))
      throw_range(env,
                  "gradBiasOut: expected memory separate from input, gradOutput and out, got an "
                  "overlapping view");
  }
  c.input = float_data(input);
  c.grad_out = float_data(grad_out);
  c.out = float_data(out);
  c.bias_out = has_bias ? float_data(bias_out) : nullptr;
  if (keep_refs) {
    c.own_input.assign(c.input, c.input + c.p.input_size());
    c.own_grad_out.assign(c.grad_out, c.grad_out + c.p.output_size());
    c.own_out.resize(static_cast<size_t>(c.p.weight_size()));
    if (has_bias) c.own_bias_out.resize(static_cast<size_t>(c.p.K));
    c.input = c.own_input.data();
    c.grad_out = c.own_grad_out.data();
    c.out = c.own_out.data();
    c.bias_out = has_bias ? c.own_bias_out.data() : nullptr;
    c.refs.push_back(hold(input, "input"));
    c.refs.push_back(hold(grad_out, "gradOutput"));
    if (has_bias) c.refs.push_back(hold(bias_out, "gradBiasOut"));
    c.refs.push_back(hold(out, "out"));
  }
  return c;
}

Napi::Value GradWeight(const Napi::CallbackInfo& info) {
  GradWeightCall c = parse_grad_weight_call(info, false);
  const std::string err = c.run();
  if (!err.empty()) throw Napi::Error::New(info.Env(), err);
  return info.Env().Undefined();
}

Napi::Value GradWeightAsync(const Napi::CallbackInfo& info) {
  return queue_async<GradWeightCall>(info, "gradWeightAsync", "fastconv.gradWeightAsync",
                                     parse_grad_weight_call);
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const fastconv::CpuFeatures& f = fastconv::cpu_features();
  const fastconv::Isa isa = fastconv::current_isa();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", fastconv::isa_name(isa));
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("avx512", f.avx512);
  cpu.Set("avx2", f.avx2);
  cpu.Set("fma", f.fma);
  cpu.Set("neon", f.neon);
  o.Set("cpu", cpu);
  o.Set("threads", fastconv::get_num_threads());
  const auto names = fastconv::implemented_algorithms();
  Napi::Array algos = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) algos.Set(static_cast<uint32_t>(i), names[i]);
  o.Set("algorithms", algos);
  Napi::Object kernels = Napi::Object::New(env);
  kernels.Set("gemm", fastconv::gemm_config(isa).name);
  kernels.Set("depthwise", fastconv::depthwise_config(isa).name);
  o.Set("kernels", kernels);
  return o;
}

// fmaPeak(ms): the GFLOP/s the current ISA's FMA loop reaches on this thread now (see fma_peak.h),
// for efficiency figures measured in the same run as the kernels they judge.
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw_type(env, "ms: expected a number of milliseconds in [1, 10000], got " + describe(info[0]));
  const double ms = info[0].As<Napi::Number>().DoubleValue();
  if (!(ms >= 1 && ms <= 10000))
    throw_range(env, "ms: expected a number of milliseconds in [1, 10000], got " +
                         info[0].ToString().Utf8Value());
  const fastconv::Isa isa = fastconv::current_isa();
  Napi::Object o = Napi::Object::New(env);
  o.Set("gflops", fastconv::measure_fma_peak(isa, ms));
  o.Set("isa", fastconv::isa_name(isa));
  o.Set("kernel", fastconv::fma_peak_config(isa).name);
  return o;
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw_type(env, "isa: expected one of 'avx512', 'avx2', 'neon', 'scalar', got " + describe(info[0]));
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  fastconv::Isa isa;
  if (!fastconv::isa_from_name(name.c_str(), &isa))
    throw_range(env, "isa: expected one of 'avx512', 'avx2', 'neon', 'scalar', got '" + name + "'");
  if (!fastconv::isa_supported(isa))
    throw_range(env, "isa: expected an ISA this CPU supports (at most '" +
                         std::string(fastconv::isa_name(fastconv::best_isa())) + "'), got '" + name +
                         "'");
  fastconv::set_current_isa(isa);
  return env.Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw_type(env, "threads: expected an integer in [1, 256], got " + describe(info[0]));
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= 256) || std::floor(n) != n)
    throw_range(env, "threads: expected an integer in [1, 256], got " + info[0].ToString().Utf8Value());
  fastconv::set_num_threads(static_cast<int>(n));
  return env.Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fastconv::get_num_threads());
}

void ReleaseScratch(void*) {
  // Runs at environment teardown; the lock waits for a convolution still using the buffers.
  std::lock_guard<std::mutex> lock(fastconv::ThreadPool::get().exec_mutex());
  fastconv::release_all_scratch();
  fastconv::fft_release_buffers();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2d, "conv2d"));
  exports.Set("conv2dAsync", Napi::Function::New(env, Conv2dAsync, "conv2dAsync"));
  exports.Set("gradWeight", Napi::Function::New(env, GradWeight, "gradWeight"));
  exports.Set("gradWeightAsync", Napi::Function::New(env, GradWeightAsync, "gradWeightAsync"));
  exports.Set("supports", Napi::Function::New(env, Supports, "supports"));
  exports.Set("accepts", Napi::Function::New(env, Accepts, "accepts"));
  exports.Set("threadsFor", Napi::Function::New(env, ThreadsFor, "threadsFor"));
  exports.Set("choose", Napi::Function::New(env, Choose, "choose"));
  exports.Set("fftCalibration", Napi::Function::New(env, FftCalibration, "fftCalibration"));
  exports.Set("gradWeightChoose", Napi::Function::New(env, GradWeightChoose, "gradWeightChoose"));
  exports.Set("setKnob", Napi::Function::New(env, SetKnob, "setKnob"));
  exports.Set("winogradTile", Napi::Function::New(env, WinogradTile, "winogradTile"));
  exports.Set("packedWeights", Napi::Function::New(env, PackedWeightsNew, "packedWeights"));
  exports.Set("releasePacked", Napi::Function::New(env, ReleasePacked, "releasePacked"));
  exports.Set("packedBytes", Napi::Function::New(env, PackedBytes, "packedBytes"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak, "fmaPeak"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  napi_add_env_cleanup_hook(env, ReleaseScratch, nullptr);
  return exports;
}

}  // namespace

NODE_API_MODULE(fastconv, Init)
