#pragma once
// Checking any hand-written op against LibTorch: the op's report, torch-free. The op itself,
// with its LibTorch expression, is described in torch/op_check.h.
//
// For each of `draws` random upstream gradients u (dL/d(output)), the hand-written backward
// must equal autograd's vector-Jacobian product uᵀJ for every differentiated input, under
// check's pass condition (compare.h), with the op's dtype's tolerances. As a second opinion
// needing no autograd, central differences of <u, forward(x)> are taken for every input
// element (step cbrt(eps)·max(1,|x|), eps of the op's dtype, and in float32 the perturbed
// inputs stay float32 values) and compared with the hand-written backward.
//
// The verdict is check's: fail when the forward or any gradient differs; vacuous when nothing
// differs but some comparison proves nothing (exactly zero on both sides, or a reference within
// atol_abs: gelu at -30, a ReLU on negative inputs); pass otherwise. Finite differences are a
// second opinion and never change it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradverify/check/check.h"

namespace gradverify {

struct OpDescription;  // torch/op_description.h: torch-free
struct HandWrittenOp;  // torch/op_check.h: an OpDescription with its LibTorch forward

struct OpCheckReport {
  std::string op;
  Dtype dtype = Dtype::float64;
  std::vector<TensorComparison> forward;         // each hand-written output against LibTorch's
  std::vector<TensorComparison> gradients;       // per draw and input: "dx (u #1)", ...
  std::vector<TensorComparison> finite_differences;  // per input, for the first draw: every element,
                                                     // or a sample and random directions (op_check.h)
  bool finite_differences_count = false;             // they are part of the verdict
  bool has_libtorch = true;                          // false: no torch_forward, the differences alone judge
  Tolerances finite_difference_tolerances;           // what they are judged by
  std::string vacuous_allowed_because;           // the op's HandWrittenOp::vacuous_allowed_because
  bool passed() const;                           // nothing differs: forward and every gradient pass
                                                 // (and finite differences, when they count)
  Verdict verdict() const;                       // pass, fail or vacuous, as above
  bool finite_differences_agree() const;
  std::string table() const;                     // one line per comparison, draw by draw, then the hints
};

// Checks the op with op.seed and op.draws, or the seed and draws given here (a test that sweeps
// seeds, say). Throws InputError, naming the op, for an op described wrongly.
OpCheckReport check_op(const HandWrittenOp& op, std::optional<uint32_t> seed = std::nullopt,
                       std::optional<int> draws = std::nullopt);
// The same for an op described without LibTorch, whose LibTorch forward is found by its
// torch_forward_name (torch_forward_registry.h); an unknown name is an InputError.
OpCheckReport check_op(const OpDescription& op, std::optional<uint32_t> seed = std::nullopt,
                       std::optional<int> draws = std::nullopt);

}  // namespace gradverify
