#pragma once
// Finite differences: a second opinion on the gradients that needs no autograd at all.
//
// The loss is evaluated in float64 (whatever the problem's dtype) at shifted parameters:
//
//     D(h) = (L(θ + h·e) - L(θ - h·e)) / 2h        e: one element, or a random unit direction
//     h    = cbrt(eps of the problem's dtype) · max(1, |θ_i|)   (6.1e-6 float64, 4.9e-3 float32)
//
// cbrt(eps) balances truncation (∝ h²) against rounding (∝ eps/h); taking eps from the dtype
// makes the step one a float32 net resolves. Agreement of D with a gradient g is judged as
//
//     |D(h) - g| <= 4·|D(h) - D(2h)| + noise + (the check's tolerance for g)
//
// where |D(h) - D(2h)| ≈ 3× the truncation error of D(h) (Richardson), and noise = 64·eps64·
// max(|L|, 1)/h is the loss's rounding carried through the difference.
//
// Near a ReLU kink a difference quotient says nothing: an element is "near a kink" when any
// ReLU unit of any sample changes side of 0 between the unshifted and a shifted forward pass
// (up to 2h). Such elements are counted and reported, never judged. A disagreement between
// finite differences and LibTorch elsewhere is a finding about the problem (a BCE log clamp,
// a saturated unit), not about the code under test.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradverify/check/tolerances.h"
#include "gradverify/problem/problem.h"

namespace gradverify {

enum class FiniteDifferenceMode {
  off,
  elements,   // every parameter element: 4 forward passes each, for small nets
  direction,  // one random unit direction through all parameters: 4 forward passes (more
              // if a ReLU kink lies within the step, which then shrinks)
  automatic,  // elements when that takes under about a second, otherwise direction
};
std::optional<FiniteDifferenceMode> parse_finite_difference_mode(const std::string& name);
const char* to_string(FiniteDifferenceMode mode);

// Per parameter tensor, in elements mode.
struct ElementDifferences {
  std::string name;                  // W1, b1, ...
  int64_t elements = 0;              // elements differenced
  int64_t near_kink = 0;             // within 2h of a ReLU kink: counted, not judged
  int64_t reference_disagreements = 0;  // judged elements where D and LibTorch disagree
  int64_t actual_disagreements = 0;     // judged elements where D and the code under test disagree
  double max_abs_diff_reference = 0;    // max |D - LibTorch| over judged elements
  std::vector<int64_t> worst_index;     // where D and LibTorch disagree most (empty if nowhere)
  double worst_finite_difference = 0;
  double worst_reference = 0;
};

// In direction mode: the directional derivative along u against each gradient projected on u.
struct DirectionalDifference {
  double step = 0;               // h as used: shrunk from the dtype's step while it crossed a kink
  double finite_difference = 0;  // D(h) along u
  double reference = 0;          // <LibTorch's gradient, u>
  std::optional<double> actual;  // <the gradient under test, u>, when it is complete and finite
  double tolerance = 0;          // the bound |D - g| must meet (for the reference)
  bool near_kink = false;        // the shifted passes crossed a ReLU kink: not judged
  bool reference_agrees = false;
  std::optional<bool> actual_agrees;
};

struct FiniteDifferenceReport {
  FiniteDifferenceMode mode = FiniteDifferenceMode::off;  // elements or direction, as run
  double relative_step = 0;                               // cbrt(eps) of the dtype
  uint32_t seed = 0;                                      // of the random direction
  std::vector<ElementDifferences> elements;               // elements mode
  std::optional<DirectionalDifference> direction;         // direction mode
  double seconds = 0;  // wall time of the finite differences: a time, so it varies run to run

  int64_t near_kink() const;
  int64_t reference_disagreements() const;
  int64_t actual_disagreements() const;
};

// Multiply-adds the elements mode needs, for the estimate behind the automatic choice and
// the refusal of slow runs: each element costs 4 forward passes from its layer on.
double element_mode_work(const Problem& problem);
// Multiply-adds per second assumed when estimating (a plain-loop float64 forward pass on
// this class of machine, measured at 1-3e9; the estimate stays on the safe side).
constexpr double kFiniteDifferenceRate = 5e8;
// Elements mode refuses nets whose estimate exceeds a minute, unless forced.
constexpr double kMaxElementSeconds = 60;

// The mode to run: automatic resolved by element_mode_work, others as asked. Throws
// InputError for elements mode above kMaxElementSeconds unless force, so that a caller can
// refuse before doing any other work.
FiniteDifferenceMode resolve_finite_difference_mode(const Problem& problem, FiniteDifferenceMode requested, bool force);

// Runs the finite differences. `reference` holds LibTorch's gradients; `actual`, when
// given, the gradients under test (as far as they are tensors), compared too. The mode goes
// through resolve_finite_difference_mode.
FiniteDifferenceReport run_finite_differences(const Problem& problem, const TensorMap& reference,
                                              const TensorMap* actual, const Tolerances& tol,
                                              FiniteDifferenceMode mode, uint32_t seed, bool force = false);

}  // namespace gradverify
