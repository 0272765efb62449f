#pragma once
// Tolerances of the comparison; the pass condition they enter is stated in compare.h.
#include <cmath>

#include "gradverify/net/mlp_spec.h"

namespace gradverify {

struct Tolerances {
  double rtol = 0;        // relative to each element's reference value
  double atol_abs = 0;    // absolute floor: below it a whole tensor is noise (see vacuous)
  double atol_scale = 0;  // relative to the tensor's largest reference value

  double atol_for_scale(double max_abs_reference) const { return atol_abs + atol_scale * max_abs_reference; }
  // The pass condition on one element, given the tensor's atol: both finite and
  // |a - b| <= atol + rtol·|b|. Written as a positive test on finite values, so that NaN, for
  // which every comparison is false, can't pass by falling through a `diff > allowed` test.
  bool element_passes(double actual, double reference, double atol) const {
    return std::isfinite(actual) && std::isfinite(reference) &&
           std::fabs(actual - reference) <= atol + rtol * std::fabs(reference);
  }
};

// Defaults per dtype. Both sides compute in the same dtype but sum in different orders
// (hand loops vs. BLAS), so they differ by rounding; any real bug (x2, x-1, xN, a missed
// term) changes values at the scale of the gradient itself.
//  - float64: rtol 1e-7, atol 1e-12 + 1e-9 max|b|. Rounding is ~1e-16 of the terms; this
//    leaves five orders of magnitude of headroom over the largest difference measured.
//  - float32: rtol 1e-4, atol 1e-7 + 1e-4 max|b|. Rounding is ~6e-8 of the terms and grows
//    with the length of each sum; 16x headroom over the measured 6e-6 of max|b|.
Tolerances default_tolerances(Dtype dtype);

}  // namespace gradverify
