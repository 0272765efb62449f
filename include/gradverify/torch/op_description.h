#pragma once
// A hand-written op to check against LibTorch (op_check_report.h), described without LibTorch:
// this header is torch-free, so a file that describes the op and holds the code under test
// needs no <torch/torch.h>.
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gradverify/check/tolerances.h"
#include "gradverify/tensor.h"

namespace gradverify {

// The second opinion on an op: central differences of its hand-written forward, two forwards
// per element or direction differenced. An input of up to max_elements elements has every
// element differenced; a larger one a random sample of max_elements elements plus `directions`
// random directions through all of it, so a 64x768 layernorm costs 2 x (256 + 2) forwards per
// input rather than 2 x 49,152.
struct OpFiniteDifferences {
  int64_t max_elements = 256;
  int directions = 2;
  bool all_elements = false;  // every element, however many: for a suspect op, at a cost
  bool in_verdict = false;    // part of the verdict, at their own tolerances (the table states
                              // them): for an op whose LibTorch forward is only an approximation,
                              // and required to check one that has none (they alone judge it)
};

// A hand-written op, described without LibTorch: its inputs, its plain C++ forward and backward,
// and how it is to be checked. HandWrittenOp (op_check.h) adds the same forward in LibTorch;
// or the LibTorch forward is registered by name in a file of its own (torch_forward_registry.h),
// so that the code under test and <torch/torch.h> never share a file.
struct OpDescription {
  std::string name;
  // Every input, drawn from the generator: the differentiated ones and any constants (a
  // softmax's targets, say). All values are doubles in row-major order.
  std::function<TensorMap(std::mt19937&)> make_inputs;
  std::vector<std::string> differentiated;  // the inputs the backward returns gradients for
  // Inputs that are integers (token ids, class targets): held exactly (whole numbers up to
  // 2^53, never rounded to float32) and passed to torch_forward as kLong. They can't be
  // differentiated. Every other input not in `differentiated` is a constant of the dtype.
  std::set<std::string> integer_inputs;
  // The hand-written op: forward(inputs) is the output; backward(inputs, upstream) returns
  // dL/d(input) for each differentiated input, given upstream = dL/d(output).
  std::function<Tensor(const TensorMap& inputs)> forward;
  std::function<TensorMap(const TensorMap& inputs, const Tensor& upstream)> backward;
  // Instead of `backward`, for a kernel that adds into gradient buffers, as most real ones do
  // (llm.c's dinp[i] += ...): it adds dL/d(input) into gradients[name], one buffer per
  // differentiated input, shaped as that input. The check fills the buffers with random values
  // first and judges what was added, then runs it again on zeros: a kernel that overwrites
  // (= for +=) fails, and the hint says so.
  std::function<void(const TensorMap& inputs, const Tensor& upstream, TensorMap& gradients)> accumulating_backward;

  // An op with several outputs (layernorm's out, mean and rstd), or whose backward uses what
  // its forward saved: set these instead of forward, backward and torch_forward.
  // forward_outputs returns every output by name and may put into `saved` whatever its backward
  // needs, so that no forward is rerun there; backward_outputs gets `saved` back and an upstream
  // gradient per output (dL/d out_i), and returns dL/d(input). Each output is compared with
  // LibTorch's, and the backward with the vector-Jacobian product of Σ_i <u_i, out_i>.
  std::function<TensorMap(const TensorMap& inputs, TensorMap& saved)> forward_outputs;
  std::function<TensorMap(const TensorMap& inputs, const TensorMap& saved, const TensorMap& upstream)>
      backward_outputs;
  // Or, as llm.c's layernorm_backward does, add into the gradient buffers (accumulating_backward).
  std::function<void(const TensorMap& inputs, const TensorMap& saved, const TensorMap& upstream, TensorMap& gradients)>
      accumulating_backward_outputs;
  // float32: the inputs and upstream gradients are rounded to float32, LibTorch computes in
  // float32 and float32's tolerances judge. The hand-written side still gets and returns
  // doubles (float32-exact on the way in), so it may compute in float or in double.
  Dtype dtype = Dtype::float64;
  // The pass condition's tolerances (check.h); empty: the dtype's defaults, whose headroom
  // over rounding is measured. Set them for an op whose own arithmetic is looser.
  std::optional<Tolerances> tolerances;
  OpFiniteDifferences finite_differences;
  uint32_t seed = 1;  // of the inputs, the upstream gradients and the finite-difference sample
  int draws = 3;      // random upstream gradients the backward is checked with
  // Why a vacuous check is expected of this op, when it is (inputs chosen where the gradient
  // is exactly 0, say). Empty, the default: a vacuous check fails EXPECT_OP_MATCHES_LIBTORCH,
  // because it proves nothing about the backward.
  std::string vacuous_allowed_because;
  // The name a LibTorch forward was registered under (torch_forward_registry.h), for an op
  // described here alone. Empty, and no torch_forward in a HandWrittenOp: finite differences
  // alone judge the backward, at their own tolerances, which the table states.
  std::string torch_forward_name;
};

// For kernels written in float (llm.c's are): an input's values as floats, exact for a float32
// op, whose inputs are float32 values already, and a float result back as a Tensor.
inline std::vector<float> to_floats(const Tensor& tensor) { return {tensor.values.begin(), tensor.values.end()}; }
inline Tensor from_floats(const Shape& shape, const std::vector<float>& values) {
  return Tensor{shape, std::vector<double>(values.begin(), values.end())};
}

}  // namespace gradverify
