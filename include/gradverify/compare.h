#pragma once
// Forwarding header, kept for gradverify 0.2 only: include "gradverify/check/compare.h" instead.
// Since 0.2 the headers live in folders that match the targets (README, Layout).
#include "gradverify/check/check.h"  // CheckReport, which compare.h held before 0.2
#include "gradverify/check/compare.h"

namespace gradverify {

// 0.1's way to build a report by hand, kept for 0.2 only: it compares, but does not
// diagnose, note ignored entries or take finite differences. check_gradients does all of it.
[[deprecated("use check_gradients (gradverify/check/check.h); build_report goes in 0.3")]]
CheckReport build_report(const Problem& problem, const TensorMap& reference_gradients, double reference_loss,
                         const SubmittedGradients& actual, std::optional<double> actual_loss,
                         const std::string& actual_source, const Tolerances& tol);

}  // namespace gradverify
