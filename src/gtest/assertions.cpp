#include "gradverify/gtest.h"

#include "gradverify/check/report.h"
#include "gradverify/torch/op_check_report.h"
#include "gradverify/torch/reference.h"

namespace gradverify {

::testing::AssertionResult GradientsMatchLibTorch(const Problem& problem, const TensorMap& gradients) {
  const CheckReport report =
      check_against_libtorch(problem, {as_submitted(gradients), "hand-written gradients", std::nullopt, {}});
  if (report.verdict() == Verdict::pass) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the gradients do not match LibTorch autograd\n" << format_report_table(report);
}

namespace {

::testing::AssertionResult op_result(const OpCheckReport& report) {
  const Verdict verdict = report.verdict();
  // A vacuous check proves nothing, so it fails unless the op says why that is expected.
  if (verdict == Verdict::pass || (verdict == Verdict::vacuous && !report.vacuous_allowed_because.empty()))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << report.table();
}

}  // namespace

::testing::AssertionResult OpMatchesLibTorch(const HandWrittenOp& op, std::optional<uint32_t> seed) {
  return op_result(check_op(op, seed));
}

::testing::AssertionResult OpMatchesLibTorch(const OpDescription& op, std::optional<uint32_t> seed) {
  return op_result(check_op(op, seed));
}

}  // namespace gradverify
