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
// A whole check (check.h) with any vacuous tensor and no failure is "vacuous", never "pass".
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gradverify/check/tolerances.h"
#include "gradverify/problem/submitted_gradients.h"
#include "gradverify/tensor.h"

namespace gradverify {

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
  bool malformed = false;      // of those, there but not readable as numbers
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
// (a bias), a [1, n] row or an [n, 1] column is accepted as the same shape, and a bare number
// stands for any one-element tensor.
TensorComparison compare_tensor(const std::string& name, const SubmittedGradient& actual, const Tensor& reference,
                                const Tolerances& tol);

}  // namespace gradverify
