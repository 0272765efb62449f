// Negative controls: a student's backward pass with one classic bug must fail, naming exactly
// the parameters the bug changes and no others. The set a bug changes is found by comparing
// the buggy student's output with the correct student's, independently of LibTorch.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "gradverify/check/compare.h"
#include "gradverify/check/report.h"
#include "gradverify/problem/manual_mlp.h"
#include "gradverify/torch/reference.h"
#include "support/problems.h"
#include "support/student_backward.h"

namespace gradverify {
namespace {

using testing::StudentBug;

// The parameters whose buggy gradient differs from the correct one. A difference must be
// clear-cut, far outside or far inside the tolerance, or the control itself is ambiguous.
std::set<std::string> parameters_changed(const Problem& problem, const SubmittedGradients& buggy,
                                         const SubmittedGradients& correct, const Tolerances& tol) {
  std::set<std::string> changed;
  for (const auto& name : parameter_names(problem.spec)) {
    const auto it = buggy.find(name);
    const Tensor& good = *correct.at(name).tensor;
    if (it == buggy.end() || !it->second.tensor || it->second.tensor->values.size() != good.values.size() ||
        it->second.tensor->shape.size() != good.shape.size() || it->second.tensor->shape != good.shape) {
      changed.insert(name);
      continue;
    }
    double scale = 0, worst = 0;
    for (double b : good.values) scale = std::max(scale, std::fabs(b));
    for (size_t i = 0; i < good.values.size(); ++i) {
      const double a = it->second.tensor->values[i], b = good.values[i];
      const double allowed = tol.atol_for_scale(scale) + tol.rtol * std::fabs(b);
      const double ratio = std::isfinite(a) ? std::fabs(a - b) / allowed : INFINITY;
      worst = std::max(worst, ratio);
    }
    EXPECT_TRUE(worst < 1e-2 || worst > 1e2) << name << ": ambiguous control, off by " << worst << " tolerances";
    if (worst > 1) changed.insert(name);
  }
  return changed;
}

std::set<std::string> failed_parameters(const CheckReport& report) {
  std::set<std::string> failed;
  for (const auto& c : report.parameters)
    if (!c.passed) failed.insert(c.name);
  return failed;
}

struct ProblemCase {
  std::string name;
  Problem (*make)(Dtype);
};

Problem lab_xor(Dtype d) { return testing::lab_problem(0, d); }
Problem lab_random(Dtype d) {
  using A = Activation;
  return testing::make_problem({2, 4, 3, 2, 1}, {A::relu, A::relu, A::relu, A::sigmoid}, Loss::mse, d, "random:8", 9);
}
Problem tanh_bce(Dtype d) {
  using A = Activation;
  return testing::make_problem({3, 5, 4, 1}, {A::tanh, A::relu, A::sigmoid}, Loss::bce, d, "random:6", 5);
}
Problem relu_logits(Dtype d) {
  using A = Activation;
  return testing::make_problem({4, 6, 6, 2}, {A::relu, A::sigmoid, A::identity}, Loss::bce_with_logits, d, "random:5", 2);
}

// One test per bug, run over every problem and dtype inside it (one LibTorch start-up each).
class NegativeControl : public ::testing::TestWithParam<StudentBug> {};

TEST_P(NegativeControl, FailsExactlyTheParametersTheBugChanges) {
  const StudentBug bug = GetParam();
  int problems_changed = 0;
  for (const ProblemCase& problem_case : {ProblemCase{"lab_xor", lab_xor}, ProblemCase{"lab_random", lab_random},
                                          ProblemCase{"tanh_bce", tanh_bce}, ProblemCase{"relu_logits", relu_logits}}) {
    for (const Dtype dtype : {Dtype::float64, Dtype::float32}) {
      SCOPED_TRACE(problem_case.name + " " + to_string(dtype));
      const Problem problem = problem_case.make(dtype);
      const Tolerances tol = default_tolerances(dtype);
      const SubmittedGradients correct = testing::student_backward(problem, StudentBug::none);
      SubmittedGradients buggy = testing::student_backward(problem, bug);
      for (const auto& name : intermediate_names(problem.spec)) buggy.erase(name);  // parameters only, as most files

      const CheckReport report = check_against_libtorch(problem, {buggy, "student", std::nullopt, {}});
      const std::set<std::string> expected = parameters_changed(problem, buggy, correct, tol);

      EXPECT_EQ(failed_parameters(report), expected) << format_report_table(report);
      EXPECT_EQ(report.passed(), expected.empty());
      if (bug == StudentBug::none) {
        EXPECT_TRUE(expected.empty()) << "the correct student must pass";
      }
      problems_changed += expected.empty() ? 0 : 1;
    }
  }
  // Some bugs only show on some nets (the factor 2 on MSE, x D with D > 1), but a control
  // that never changes anything would prove nothing.
  if (bug != StudentBug::none) {
    EXPECT_GT(problems_changed, 0) << "the bug changed no gradient on any problem";
  }
}

INSTANTIATE_TEST_SUITE_P(Catalog, NegativeControl, ::testing::ValuesIn(testing::all_student_bugs()),
                         [](const auto& test_info) { return std::string(testing::to_string(test_info.param)); });

TEST(NegativeControl, ReluDerivativeOneAtZeroIsCaughtOnXorWhereZIsExactlyZero) {
  // XOR's (0,0) sample with zero biases gives z = 0 exactly in every layer: the bug passes
  // gradient where torch passes none, so the biases (not the weights: that sample's inputs
  // are 0) must fail.
  const Problem problem = testing::lab_problem(0);
  const CheckReport report = check_against_libtorch(
      problem, {testing::student_backward(problem, StudentBug::relu_grad_one_at_zero), "student", std::nullopt, {}});
  const auto failed = failed_parameters(report);
  EXPECT_FALSE(failed.empty()) << format_report_table(report);
  for (const auto& name : failed) EXPECT_EQ(name[0], 'b') << format_report_table(report);
}

TEST(NegativeControl, ManualGradientsWithOneTensorDoubledFailOnThatTensorAlone) {
  // The manual side goes through the same comparison: double its dW1 (the classic lost
  // factor 1/2) and the report must name W1 and nothing else.
  const Problem problem = testing::lab_problem(0);
  ManualResult manual = run_manual_mlp(problem);
  for (auto& v : manual.gradients["W1"].values) v *= 2;
  const CheckReport report =
      check_against_libtorch(problem, manual_mlp_under_test(manual));
  EXPECT_EQ(failed_parameters(report), (std::set<std::string>{"W1"})) << format_report_table(report);
}

}  // namespace
}  // namespace gradverify
