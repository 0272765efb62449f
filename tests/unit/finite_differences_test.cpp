// Finite differences, torch-free: the manual MLP's gradients stand in for LibTorch's here
// (torch_agreement_test shows they agree to rounding). FD must agree with right gradients,
// set kinks aside, and disagree with wrong ones, including where autograd itself is off.
#include <gtest/gtest.h>

#include <cmath>

#include "gradverify/check/finite_differences.h"
#include "gradverify/errors.h"
#include "gradverify/problem/data.h"
#include "gradverify/problem/init.h"
#include "gradverify/problem/manual_mlp.h"
#include "support/problems.h"

namespace gradverify {
namespace {

using A = Activation;

FiniteDifferenceReport run(const Problem& p, const TensorMap& reference, const TensorMap* actual,
                           FiniteDifferenceMode mode) {
  return run_finite_differences(p, reference, actual, default_tolerances(p.spec.dtype), mode, 7);
}

struct SmoothCase {
  std::vector<int64_t> layers;
  std::vector<A> activations;
  Loss loss;
};

class SmoothNets : public ::testing::TestWithParam<Dtype> {};

TEST_P(SmoothNets, AgreeWithRightGradientsEverywhereAndNoKinks) {
  const Dtype dtype = GetParam();
  const SmoothCase cases[] = {
      {{2, 4, 3, 1}, {A::tanh, A::tanh, A::sigmoid}, Loss::mse},
      {{3, 5, 2}, {A::sigmoid, A::identity}, Loss::bce_with_logits},
      {{4, 6, 6, 1}, {A::tanh, A::sigmoid, A::sigmoid}, Loss::bce},
      {{5, 3}, {A::identity}, Loss::mse},
      {{1, 16, 16, 2}, {A::tanh, A::tanh, A::identity}, Loss::mse},
  };
  for (const auto& c : cases)
    for (uint32_t seed = 0; seed < 6; ++seed) {
      const Problem p = testing::make_problem(c.layers, c.activations, c.loss, dtype, "random:7", seed);
      SCOPED_TRACE(layers_to_string(p.spec.layers) + " seed " + std::to_string(seed));
      const TensorMap g = run_manual_mlp(p).gradients;
      const FiniteDifferenceReport fd = run(p, g, &g, FiniteDifferenceMode::elements);
      EXPECT_EQ(fd.mode, FiniteDifferenceMode::elements);
      EXPECT_EQ(fd.near_kink(), 0);
      EXPECT_EQ(fd.reference_disagreements(), 0);
      EXPECT_EQ(fd.actual_disagreements(), 0);
      int64_t elements = 0;
      for (const auto& e : fd.elements) elements += e.elements;
      EXPECT_EQ(elements, p.spec.parameter_count());

      const FiniteDifferenceReport dir = run(p, g, &g, FiniteDifferenceMode::direction);
      ASSERT_TRUE(dir.direction.has_value());
      EXPECT_TRUE(dir.direction->reference_agrees) << dir.direction->finite_difference << " vs " << dir.direction->reference;
      EXPECT_TRUE(dir.direction->actual_agrees.value_or(false));
    }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SmoothNets, ::testing::Values(Dtype::float64, Dtype::float32),
                         [](const auto& test_info) { return std::string(to_string(test_info.param)); });

TEST(FiniteDifferences, StepComesFromTheDtype) {
  const Problem p64 = testing::lab_problem(0, Dtype::float64), p32 = testing::lab_problem(0, Dtype::float32);
  const TensorMap g64 = run_manual_mlp(p64).gradients, g32 = run_manual_mlp(p32).gradients;
  EXPECT_NEAR(run(p64, g64, nullptr, FiniteDifferenceMode::elements).relative_step, 6.06e-6, 1e-8);
  EXPECT_NEAR(run(p32, g32, nullptr, FiniteDifferenceMode::elements).relative_step, 4.92e-3, 1e-5);
}

TEST(FiniteDifferences, XorKinksAreCountedNotJudged) {
  // The lab's XOR: the (0,0) sample with zero biases puts z exactly at 0, a ReLU kink, so
  // shifting a bias moves units across it. Those elements must be set aside, not failed.
  const Problem p = testing::lab_problem(0);
  const TensorMap g = run_manual_mlp(p).gradients;
  const FiniteDifferenceReport fd = run(p, g, &g, FiniteDifferenceMode::elements);
  EXPECT_GT(fd.near_kink(), 0);
  EXPECT_EQ(fd.reference_disagreements(), 0);
  for (const auto& e : fd.elements)
    if (e.name[0] == 'W' && e.name != "W1") {
      EXPECT_LT(e.near_kink, e.elements) << e.name;
    }
}

TEST(FiniteDifferences, DisagreeWithWrongGradients) {
  // Negative control: the same FD against a negated reference and a doubled "actual".
  const Problem p = testing::make_problem({3, 4, 2}, {A::tanh, A::identity}, Loss::mse, Dtype::float64, "random:5", 3);
  const TensorMap g = run_manual_mlp(p).gradients;
  TensorMap negated = g, doubled = g;
  for (auto& [name, t] : negated)
    for (double& v : t.values) v = -v;
  for (auto& [name, t] : doubled)
    for (double& v : t.values) v *= 2;
  const FiniteDifferenceReport fd = run(p, negated, &doubled, FiniteDifferenceMode::elements);
  EXPECT_EQ(fd.reference_disagreements(), p.spec.parameter_count());
  EXPECT_EQ(fd.actual_disagreements(), p.spec.parameter_count());
  for (const auto& e : fd.elements) EXPECT_FALSE(e.worst_index.empty()) << e.name;

  const FiniteDifferenceReport dir = run(p, g, &negated, FiniteDifferenceMode::direction);
  EXPECT_TRUE(dir.direction->reference_agrees);
  EXPECT_FALSE(dir.direction->actual_agrees.value());
}

TEST(FiniteDifferences, DirectionLeavesOutIncompleteActualGradients) {
  const Problem p = testing::make_problem({3, 4, 2}, {A::tanh, A::identity}, Loss::mse, Dtype::float64, "random:5", 3);
  const TensorMap g = run_manual_mlp(p).gradients;
  TensorMap partial = g;
  partial.erase("W2");
  const FiniteDifferenceReport dir = run(p, g, &partial, FiniteDifferenceMode::direction);
  EXPECT_FALSE(dir.direction->actual.has_value());
  EXPECT_FALSE(dir.direction->actual_agrees.has_value());
}

TEST(FiniteDifferences, FindTheBceFloorWhereAutogradItselfIsOff) {
  // p = sigmoid(-30) = 9.4e-14 with y = 1: torch's BCE backward floors p(1-p) at 1e-12, so
  // its dL/dz is -0.094 where the loss -log p (exact at this p) has slope -1. FD must report
  // a finding about the problem: LibTorch (and the manual MLP, which copies torch) disagree.
  Problem p;
  p.spec = MlpSpec{{1, 1}, {A::sigmoid}, Loss::bce, Dtype::float64};
  p.params = {{"W1", Tensor{{1, 1}, {-30.0}}}, {"b1", Tensor{{1}, {0.0}}}};
  p.X = Tensor{{1, 1}, {1.0}};
  p.y = Tensor{{1, 1}, {1.0}};
  p.data_description = "one saturated sample";
  validate_problem(p, "test");
  const TensorMap g = run_manual_mlp(p).gradients;
  ASSERT_NEAR(g.at("W1").values[0], -0.0936, 0.001);
  const FiniteDifferenceReport fd = run(p, g, nullptr, FiniteDifferenceMode::elements);
  EXPECT_EQ(fd.reference_disagreements(), 2);  // W1 and b1
  for (const auto& e : fd.elements) EXPECT_NEAR(e.worst_finite_difference, -1.0, 1e-6) << e.name;
}

TEST(FiniteDifferences, AutomaticModeChoosesBySizeAndElementsRefusesSlowRuns) {
  const Problem small = testing::lab_problem(0);
  EXPECT_EQ(resolve_finite_difference_mode(small, FiniteDifferenceMode::automatic, false), FiniteDifferenceMode::elements);
  Problem big;
  big.spec = MlpSpec{{1000, 998, 1}, {A::relu, A::sigmoid}, Loss::mse, Dtype::float64};
  set_random_data(big, 64, 1);
  EXPECT_EQ(resolve_finite_difference_mode(big, FiniteDifferenceMode::automatic, false), FiniteDifferenceMode::direction);
  EXPECT_GT(element_mode_work(big) / kFiniteDifferenceRate, kMaxElementSeconds);
  try {
    resolve_finite_difference_mode(big, FiniteDifferenceMode::elements, false);
    ADD_FAILURE() << "expected a refusal";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("minutes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("direction"), std::string::npos) << e.what();
  }
  EXPECT_EQ(resolve_finite_difference_mode(big, FiniteDifferenceMode::elements, true), FiniteDifferenceMode::elements);
}

TEST(FiniteDifferences, DirectionChecksAMillionParameterNet) {
  // Correctness only; the time is measured by `gradverify check` and reported, not asserted.
  Problem p;
  p.spec = MlpSpec{{1000, 998, 1}, {A::relu, A::sigmoid}, Loss::mse, Dtype::float32};
  set_random_data(p, 16, 2);
  p.params = init_params(p.spec, Init::he, 2);
  ASSERT_GE(p.spec.parameter_count(), 999997);
  const TensorMap g = run_manual_mlp(p).gradients;
  TensorMap wrong = g;
  for (double& v : wrong["W1"].values) v = -v;
  const FiniteDifferenceReport fd = run(p, g, &wrong, FiniteDifferenceMode::automatic);
  ASSERT_EQ(fd.mode, FiniteDifferenceMode::direction);
  EXPECT_FALSE(fd.direction->near_kink) << "the step should have shrunk below the kinks";
  EXPECT_TRUE(fd.direction->reference_agrees);
  EXPECT_FALSE(fd.direction->actual_agrees.value());
}

}  // namespace
}  // namespace gradverify
