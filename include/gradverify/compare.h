#pragma once
// The comparison of gradients under test ("actual", a) with LibTorch's ("reference", b).
//
// Pass condition, elementwise, in torch.allclose's form:
//
//     |a - b| <= atol + rtol * |b|      and both a and b finite
//     with atol = atol_abs + atol_scale * max_j |b_j|   (per tensor)
//
// The absolute term scales with the tensor because rounding error in a gradient element is
// proportional to the terms summed into it, i.e. to the tensor's scale, not to the element's
// own value: an element that cancels to near 0 carries the rounding of its large terms.
// (Measured over 240 random nets up to 100 wide, manual vs LibTorch differ by at most
// 7e-15 (float64) and 6e-6 (float32) of max|b|, yet by 4e-4 relative on small elements.)
// With atol_scale = 0 this is exactly torch.allclose.
//
// A tensor passes when every element does and its shape is the reference's. The finiteness
// test is explicit, so a NaN can never slip through a comparison that is false on NaN.
//
// A tensor whose elements are exactly zero on both sides passes but is marked vacuous: it
// agrees, but it proves nothing (a dead ReLU layer upstream, say). A reference that lies
// entirely within atol_abs is marked vacuous too: at that size the check can't tell g from -g.
// A report with any vacuous tensor and no failure has the verdict "vacuous", never "pass".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradverify/finite_differences.h"
#include "gradverify/mlp_spec.h"
#include "gradverify/problem.h"
#include "gradverify/tensor.h"
#include "gradverify/tolerances.h"

namespace gradverify {

// A gradient as it was submitted: a tensor, or why there is none usable. A missing or
// malformed entry is a failed parameter, never an input error.
struct SubmittedGradient {
  std::optional<Tensor> tensor;  // empty when missing or malformed
  std::string problem;           // why tensor is empty: "missing", "dW1[0][1] is null; ..."
};
using SubmittedGradients = std::map<std::string, SubmittedGradient>;  // keyed W1, b1, z1, ...

// How a failing gradient a relates to the reference b, as a whole.
struct GradientSignature {
  double scale = 0;         // s = <a,b>/<b,b>: the best-fit factor in a ~ s b
  double cosine = 0;        // <a,b>/(|a||b|): 1 when a is a positive multiple of b, -1 a negative one
  bool transposed = false;  // a equals b transposed, within tolerance (2-D tensors only)
};

struct TensorComparison {
  std::string name;            // W1, b1, ... or z1, h1, ...: the variable differentiated by
  Shape shape;                 // the reference's shape
  bool passed = false;         // the pass condition holds for every element
  bool vacuous = false;        // passed, but proves nothing (see above)
  bool missing = false;        // the actual gradient was absent or malformed
  bool shape_mismatch = false;  // the actual gradient has another shape
  int64_t elements = 0;        // elements compared (0 when missing or mis-shaped)
  int64_t mismatched = 0;      // elements failing the pass condition, non-finite ones included
  int64_t nonfinite = 0;       // elements where either side is NaN or +-Inf
  double max_abs_diff = 0;     // max |a - b|; NaN or Inf when an element is non-finite
  double max_rel_diff = 0;     // max |a - b| / |b|; Inf where b = 0 and a != 0
  double reference_max_abs = 0;  // max |b| over finite b: the tensor's scale
  double atol = 0;               // the absolute tolerance applied: atol_abs + atol_scale * scale
  // The element that fails the pass condition by the largest factor (or, when all pass, the
  // one closest to failing), with both values. Empty when nothing was compared.
  std::vector<int64_t> worst_index;
  double worst_actual = 0;
  double worst_reference = 0;
  std::string message;  // one line: why it failed or why it is vacuous; empty otherwise

  // Filled in by diagnose() (diagnosis.h) for a failing gradient.
  std::optional<GradientSignature> signature;  // empty when missing, mis-shaped or non-finite
  std::string hint;  // the mistake whose signature the numbers carry; empty when none is clear
  // The hint's kinds, for programs: a Mistake's name (mistakes.h), or one of nonfinite,
  // all_zero, transposed, bias_per_sample, constant_factor. Several when several mistakes
  // give the same numbers on this problem (N = 2 and the factor 2 of MSE, say).
  std::vector<std::string> hint_kinds;
};

// Compares one submitted gradient with its reference. For a 1-D reference of n entries
// (a bias), a [1, n] submission is accepted as the same shape, and a bare number stands for
// any one-element tensor.
TensorComparison compare_tensor(const std::string& name, const SubmittedGradient& actual, const Tensor& reference,
                                const Tolerances& tol);

// The first place, going backward from the loss, where the gradients stop matching.
struct FirstDivergence {
  int64_t layer = 0;                    // the layer of the first mismatching gradient (1-based)
  std::string last_match;               // the last gradient known right above it, e.g. "z4"; empty if none
  std::vector<std::string> mismatched;  // the mismatching gradients at that point, e.g. {"W3", "b3"}
  std::vector<std::string> suspects;    // the steps of the backward pass that can explain it
  std::string message;                  // all of the above in one sentence
};

enum class Verdict { pass, fail, vacuous };
const char* to_string(Verdict verdict);

struct CheckReport {
  // What was checked.
  MlpSpec spec;
  int64_t batch = 0;
  std::string data_description;
  std::string actual_source;  // "manual MLP (gradverify)" or the gradients file's path
  Tolerances tolerances;

  // The forward pass: the loss both sides computed. actual_loss is empty when the gradients
  // came from a file, which carries no loss.
  std::optional<double> actual_loss;
  double reference_loss = 0;
  bool loss_passed = true;  // the pass condition on the loss, when actual_loss is known
  Tensor reference_prediction;  // LibTorch's output h_L, when known: shown for small batches

  std::vector<TensorComparison> parameters;     // W1, b1, W2, b2, ...
  std::vector<TensorComparison> intermediates;  // z1, h1, ...: those the actual side provided
  std::vector<DeadUnits> dead_relu_units;       // per ReLU layer, over the batch
  std::vector<std::string> notes;               // e.g. unexpected entries that were ignored

  // Filled in by diagnose() when something fails: where, going backward from the loss, the
  // gradients first stop matching (see diagnosis.h).
  std::optional<FirstDivergence> first_divergence;
  // Filled in when finite differences ran: a second opinion that needs no autograd. It
  // never changes the verdict, which is the comparison with LibTorch.
  std::optional<FiniteDifferenceReport> finite_differences;

  bool passed() const;  // loss and every tensor pass
  Verdict verdict() const;
  int64_t failed_count() const;
  int64_t vacuous_count() const;
};

// Builds the report: every parameter of the spec is compared (an absent one fails as
// missing); an intermediate is compared only when the actual side provides it.
CheckReport build_report(const Problem& problem, const TensorMap& reference_gradients, double reference_loss,
                         const SubmittedGradients& actual, std::optional<double> actual_loss,
                         const std::string& actual_source, const Tolerances& tol);

// Wraps complete gradients (e.g. the manual MLP's) as submitted ones.
SubmittedGradients as_submitted(const TensorMap& gradients);
// The submitted gradients that are tensors, leaving out missing and malformed ones.
TensorMap present_tensors(const SubmittedGradients& submitted);

}  // namespace gradverify
