#pragma once
// Checking any hand-written op against LibTorch: the op's report, torch-free. The op is
// described in torch/op_description.h (torch-free) or torch/op_check.h (with its LibTorch
// forward).
//
// For each of `draws` random upstream gradients u (dL/d(output), one per output), the
// hand-written backward must equal autograd's vector-Jacobian product uᵀJ for every
// differentiated input, under check's pass condition (check.h), with op.tolerances or the
// op's dtype's. Needing no autograd, central differences of Σ<u_i, out_i(x)> are taken (step
// cbrt(eps)·max(1,|x|), eps of the op's dtype; in float32 the perturbed inputs stay float32
// values) for every element of a small input, or a sample and random directions of a large one
// (op.finite_differences), and compared at their own tolerances with the hand-written backward.
//
// The verdict is check's: fail when the forward or any gradient differs; vacuous when nothing
// differs but some comparison proves nothing (exactly zero on both sides, or a reference within
// atol_abs: gelu at -30, a ReLU on negative inputs); pass otherwise. Finite differences are a
// second opinion unless op.finite_differences.in_verdict, and alone decide an op without a
// LibTorch forward (there op.tolerances plays no part).
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
  bool finite_differences_in_verdict = false;             // they are part of the verdict
  bool has_libtorch = true;                          // false: no torch_forward, the differences alone judge
  Tolerances finite_difference_tolerances;           // what they are judged by
  std::string vacuous_allowed_because;           // the op's OpDescription::vacuous_allowed_because
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
