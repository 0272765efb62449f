#include "gradverify/check/compare.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>

namespace gradverify {

Tolerances default_tolerances(Dtype dtype) {
  return dtype == Dtype::float32 ? Tolerances{1e-4, 1e-7, 1e-4} : Tolerances{1e-7, 1e-12, 1e-9};
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool same_shape(const Shape& actual, const Shape& reference) {
  if (actual == reference) return true;
  // A bare number for a one-element tensor (Python's float(db4)) is unambiguous.
  if (actual.empty()) return shape_numel(reference) == 1;
  // A bias may come as [1, n] (numpy's keepdims=True) or as an [n, 1] column for a reference
  // of [n]: the same numbers in the same order (answer_reading.h).
  return reference.size() == 1 && actual.size() == 2 &&
         ((actual[0] == 1 && actual[1] == reference[0]) || (actual[0] == reference[0] && actual[1] == 1));
}

std::string fmt_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

TensorComparison compare_tensor(const std::string& name, const SubmittedGradient& actual, const Tensor& reference,
                                const Tolerances& tol) {
  TensorComparison c;
  c.name = name;
  c.shape = reference.shape;
  for (double b : reference.values)
    if (std::isfinite(b)) c.reference_max_abs = std::max(c.reference_max_abs, std::fabs(b));
  c.atol = tol.atol_for_scale(c.reference_max_abs);

  if (!actual.tensor) {
    c.missing = true;
    c.malformed = actual.malformed;
    c.max_abs_diff = c.max_rel_diff = kInf;
    c.message = actual.problem.empty() ? "missing" : actual.problem;
    return c;
  }
  const Tensor& a = *actual.tensor;
  if (!same_shape(a.shape, reference.shape)) {
    c.shape_mismatch = true;
    c.max_abs_diff = c.max_rel_diff = kInf;
    c.message = "shape " + shape_to_string(a.shape) + ", expected " + shape_to_string(reference.shape);
    if (a.shape.size() == 2 && reference.shape.size() == 2 && a.shape[0] == reference.shape[1] &&
        a.shape[1] == reference.shape[0])
      c.message += " (transposed?)";
    return c;
  }

  c.elements = reference.numel();
  bool all_zero = true;
  double worst_ratio = -1;  // |a - b| / (atol + rtol |b|): > 1 fails; the largest is the worst
  int64_t worst = -1;
  for (int64_t i = 0; i < c.elements; ++i) {
    const double ai = a.values[static_cast<size_t>(i)], bi = reference.values[static_cast<size_t>(i)];
    const bool finite = std::isfinite(ai) && std::isfinite(bi);
    const double diff = std::fabs(ai - bi);  // NaN or Inf when either side is
    const double allowed = c.atol + tol.rtol * std::fabs(bi);
    const bool ok = tol.element_passes(ai, bi, c.atol);
    const double ratio = finite ? diff / allowed : kInf;
    all_zero = all_zero && ai == 0.0 && bi == 0.0;
    if (!finite) ++c.nonfinite;
    if (!ok) ++c.mismatched;
    if (std::isnan(diff)) c.max_abs_diff = std::numeric_limits<double>::quiet_NaN();
    else if (!std::isnan(c.max_abs_diff)) c.max_abs_diff = std::max(c.max_abs_diff, diff);
    const double rel = !finite ? diff : (diff == 0 ? 0.0 : (bi == 0 ? kInf : diff / std::fabs(bi)));
    if (std::isnan(rel)) c.max_rel_diff = std::numeric_limits<double>::quiet_NaN();
    else if (!std::isnan(c.max_rel_diff)) c.max_rel_diff = std::max(c.max_rel_diff, rel);
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  if (worst >= 0) {
    c.worst_index = unravel_index(reference.shape, worst);
    c.worst_actual = a.values[static_cast<size_t>(worst)];
    c.worst_reference = reference.values[static_cast<size_t>(worst)];
  }
  c.passed = c.mismatched == 0;
  if (!c.passed) {
    c.message = std::to_string(c.mismatched) + " of " + std::to_string(c.elements) + " elements differ";
    if (c.nonfinite) c.message += ", " + std::to_string(c.nonfinite) + " of them NaN or Inf";
    c.message += "; worst at " + shape_to_string(c.worst_index) + ": " + fmt_number(c.worst_actual) + " vs " +
                 fmt_number(c.worst_reference);
  } else if (all_zero) {
    c.vacuous = true;
    c.message = "vacuous: every element is exactly 0 on both sides, so this check proves nothing";
  } else if (c.reference_max_abs <= tol.atol_abs) {
    c.vacuous = true;
    c.message = "vacuous: the reference is at most " + fmt_number(c.reference_max_abs) + ", within the absolute " +
                "tolerance " + fmt_number(tol.atol_abs) + ", so this check can't tell a right gradient from a wrong one";
  }
  return c;
}

}  // namespace gradverify
