#include "gradverify/gtest.h"

#include "gradverify/check/report.h"
#include "gradverify/errors.h"
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

// An op described wrongly fails the assertion with the reason, where the test is, rather than
// escaping it as an exception gtest can only report as "thrown in the test body".
template <typename Op>
::testing::AssertionResult checked(const Op& op, std::optional<uint32_t> seed) {
  try {
    return op_result(check_op(op, seed));
  } catch (const InputError& e) {
    return ::testing::AssertionFailure() << "gradverify: the op can't be checked: " << e.what();
  }
}

}  // namespace

::testing::AssertionResult OpMatchesLibTorch(const HandWrittenOp& op, std::optional<uint32_t> seed) {
  return checked(op, seed);
}

::testing::AssertionResult OpMatchesLibTorch(const OpDescription& op, std::optional<uint32_t> seed) {
  return checked(op, seed);
}

}  // namespace gradverify
