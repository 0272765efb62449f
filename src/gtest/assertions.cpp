#include "gradverify/gtest.h"

#include "gradverify/compare.h"
#include "gradverify/diagnosis.h"
#include "gradverify/reference.h"
#include "gradverify/report.h"

namespace gradverify {

::testing::AssertionResult GradientsMatchLibTorch(const Problem& problem, const TensorMap& gradients) {
  const ReferenceResult reference = compute_reference(problem);
  const SubmittedGradients submitted = as_submitted(gradients);
  CheckReport report = build_report(problem, reference.gradients, reference.loss, submitted, std::nullopt,
                                    "hand-written gradients", default_tolerances(problem.spec.dtype));
  diagnose(report, problem, submitted, reference.gradients);
  if (report.verdict() == Verdict::pass) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the gradients do not match LibTorch autograd\n" << format_report_table(report);
}

::testing::AssertionResult OpMatchesLibTorch(const HandWrittenOp& op, uint32_t seed) {
  const OpCheckReport report = check_op(op, seed);
  if (report.passed()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << report.table();
}

}  // namespace gradverify
