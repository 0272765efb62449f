// The manual MLP against its LibTorch twin over a sweep of architectures x activations x
// losses x dtypes, several seeds each: every parameter and intermediate must agree.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <tuple>

#include "gradverify/check/compare.h"
#include "gradverify/check/report.h"
#include "gradverify/problem/manual_mlp.h"
#include "gradverify/torch/reference.h"
#include "support/problems.h"

namespace gradverify {
namespace {

using Arch = std::vector<int64_t>;

::testing::AssertionResult manual_matches_torch(const Problem& problem) {
  const ManualResult manual = run_manual_mlp(problem);
  const CheckReport report =
      check_against_libtorch(problem, manual_mlp_under_test(manual));
  if (!report.passed()) return ::testing::AssertionFailure() << "\n" << format_report_table(report);
  if (report.intermediates.size() != 2 * static_cast<size_t>(problem.spec.num_layers()))
    return ::testing::AssertionFailure() << "intermediates were not all compared";
  // A sweep of all-vacuous checks would prove nothing; some parameter must carry signal.
  if (report.vacuous_count() == static_cast<int64_t>(report.parameters.size() + report.intermediates.size()))
    return ::testing::AssertionFailure() << "every comparison was vacuous\n" << format_report_table(report);
  return ::testing::AssertionSuccess();
}

// One test per loss x dtype, sweeping architectures x activations x seeds inside it: each
// test process pays LibTorch's ~0.5 s start-up once, not once per combination.
class ManualMatchesTorch : public ::testing::TestWithParam<std::tuple<Loss, Dtype>> {};

TEST_P(ManualMatchesTorch, OnEveryGradientOfEveryNet) {
  const auto& [loss, dtype] = GetParam();
  for (const Arch& arch : {Arch{2, 4, 3, 2, 1}, Arch{3, 8, 2}, Arch{5, 16, 16, 16, 4}, Arch{1, 1}, Arch{6, 5, 3}}) {
    if (loss == Loss::cross_entropy && arch.back() < 2) continue;  // a softmax needs two classes
    for (Activation hidden :
         {Activation::relu, Activation::sigmoid, Activation::tanh, Activation::identity, Activation::leaky_relu}) {
      // Output activation as the loss wants it; under MSE the hidden activation is used there too.
      const Activation output = loss == Loss::bce ? Activation::sigmoid
                                : takes_logits(loss) ? Activation::identity : hidden;
      std::vector<Activation> activations(arch.size() - 2, hidden);
      activations.push_back(output);
      for (uint32_t seed : {1u, 2u, 3u}) {
        const std::string data = arch.front() == 2 && arch.back() == 1 && seed == 1 ? "xor" : "random:16";
        SCOPED_TRACE(layers_to_string(arch) + " " + to_string(hidden) + " seed " + std::to_string(seed) + " " + data);
        EXPECT_TRUE(manual_matches_torch(testing::make_problem(arch, activations, loss, dtype, data, seed)));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, ManualMatchesTorch,
                         ::testing::Combine(::testing::Values(Loss::mse, Loss::bce, Loss::bce_with_logits,
                                                              Loss::cross_entropy),
                                            ::testing::Values(Dtype::float64, Dtype::float32)),
                         [](const auto& test_info) {
                           return std::string(to_string(std::get<0>(test_info.param))) + "_" +
                                  to_string(std::get<1>(test_info.param));
                         });

TEST(ManualMatchesTorch, OnWideAndDeepNets) {
  // Long sums with cancellation. On the deep identity nets, float32 elements differ by up to
  // 4e-4 relative (checked by hand: `--atol-scale 0` fails seeds 1-4 under MSE); only the
  // scale-aware atol absorbs that rounding.
  using A = Activation;
  for (const Dtype dtype : {Dtype::float64, Dtype::float32}) {
    for (const Loss loss : {Loss::mse, Loss::bce, Loss::bce_with_logits, Loss::cross_entropy}) {
      const A out = loss == Loss::bce ? A::sigmoid : A::identity;
      for (const A hidden : {A::identity, A::tanh, A::relu}) {
        if (loss == Loss::cross_entropy) break;  // one output; its 10-class net is below
        for (uint32_t seed : {1u, 2u, 3u, 4u}) {
          SCOPED_TRACE(std::string(to_string(dtype)) + " " + to_string(loss) + " " + to_string(hidden) + " seed " +
                       std::to_string(seed));
          EXPECT_TRUE(manual_matches_torch(testing::make_problem({20, 100, 100, 100, 100, 1},
                                                                 {hidden, hidden, hidden, hidden, out}, loss, dtype,
                                                                 "random:64", seed)));
        }
      }
      EXPECT_TRUE(manual_matches_torch(testing::make_problem(
          {64, 256, 128, 10}, {A::relu, A::tanh, loss == Loss::bce ? A::sigmoid : A::identity}, loss, dtype,
          "random:32", 5)));
    }
  }
}

// The next lab's net: MNIST-shaped, softmax cross-entropy over 10 classes.
TEST(ManualMatchesTorch, OnTheMulticlassLabsNet) {
  using A = Activation;
  for (const Dtype dtype : {Dtype::float64, Dtype::float32})
    for (uint32_t seed : {1u, 2u}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + " seed " + std::to_string(seed));
      EXPECT_TRUE(manual_matches_torch(
          testing::make_problem({784, 64, 10}, {A::relu, A::identity}, Loss::cross_entropy, dtype, "random:32", seed)));
      Problem decayed =
          testing::make_problem({784, 64, 10}, {A::relu, A::identity}, Loss::cross_entropy, dtype, "random:32", seed);
      decayed.spec.weight_decay = 1e-3;
      EXPECT_TRUE(manual_matches_torch(decayed));
    }
}

// Leaky ReLU with a slope of its own, in the next lab's net, with and without weight decay.
TEST(ManualMatchesTorch, LeakyReluWithItsSlopeAgrees) {
  using A = Activation;
  for (const Dtype dtype : {Dtype::float64, Dtype::float32})
    for (const double slope : {0.01, 0.2, 0.5}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + " slope " + std::to_string(slope));
      Problem p = testing::make_problem({20, 16, 8, 5}, {A::leaky_relu, A::leaky_relu, A::identity}, Loss::cross_entropy,
                                        dtype, "random:12", 2);
      p.spec.negative_slope = slope;
      EXPECT_TRUE(manual_matches_torch(p));
      p.spec.weight_decay = 1e-3;
      EXPECT_TRUE(manual_matches_torch(p));
    }
}

// Logits of about +-1000 (huge last-layer weights): a softmax without the max shift gives
// inf/inf; the manual side must stay finite and agree with torch's, which shifts too.
TEST(ManualMatchesTorch, CrossEntropyWithLogitsOfAThousandStaysFiniteAndAgrees) {
  using A = Activation;
  for (const Dtype dtype : {Dtype::float64, Dtype::float32}) {
    Problem p = testing::make_problem({3, 4, 3}, {A::tanh, A::identity}, Loss::cross_entropy, dtype, "random:8", 6);
    for (auto& w : p.params["W2"].values) w *= 1e3;
    const ManualResult manual = run_manual_mlp(p);
    double largest = 0;
    for (const double v : compute_reference(p).prediction.values) largest = std::max(largest, std::fabs(v));
    EXPECT_GT(largest, 300) << "the logits are not large enough to test the shift";
    EXPECT_TRUE(std::isfinite(manual.loss));
    for (const auto& [name, g] : manual.gradients)
      for (const double v : g.values) EXPECT_TRUE(std::isfinite(v)) << name;
    EXPECT_TRUE(manual_matches_torch(p)) << to_string(dtype);
  }
}

// L2 weight decay, (λ/2)·Σ‖W‖² on the weights only, added by both sides; and the negative
// controls: each way of misplacing the term fails exactly the tensors it touches.
TEST(ManualMatchesTorch, WeightDecayAgreesAndEachMisplacedTermFailsExactlyWhatItTouches) {
  using A = Activation;
  for (const Dtype dtype : {Dtype::float64, Dtype::float32})
    for (const Loss loss : {Loss::cross_entropy, Loss::mse, Loss::bce_with_logits}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + " " + to_string(loss));
      Problem p = testing::make_problem({5, 8, 6, 4}, {A::relu, A::tanh, A::identity}, loss, dtype, "random:12", 3);
      p.spec.weight_decay = 0.05;
      // Biases as after some training: at their initial 0, decaying them would change nothing.
      for (int64_t k = 1; k <= p.spec.num_layers(); ++k) {
        auto& b = p.params[bias_name(k)].values;
        for (size_t j = 0; j < b.size(); ++j) b[j] = round_to(dtype, 0.3 - 0.1 * static_cast<double>(j));
      }
      EXPECT_TRUE(manual_matches_torch(p));
      const ManualResult manual = run_manual_mlp(p);
      const auto failed_after = [&](const std::function<void(TensorMap&)>& plant) {
        ManualResult wrong = manual;
        plant(wrong.gradients);
        std::set<std::string> failed;
        for (const auto& t : check_against_libtorch(p, manual_mlp_under_test(wrong)).parameters)
          if (!t.passed) failed.insert(t.name);
        return failed;
      };
      const auto each_layer = [&](const char* kind, double factor) {
        return [&p, kind, factor](TensorMap& g) {
          for (int64_t k = 1; k <= p.spec.num_layers(); ++k) {
            const std::string name = kind[0] == 'W' ? weight_name(k) : bias_name(k);
            const auto& value = p.params.at(name).values;
            for (size_t i = 0; i < value.size(); ++i) g[name].values[i] += factor * p.spec.weight_decay * value[i];
          }
        };
      };
      const std::set<std::string> weights{"W1", "W2", "W3"}, biases{"b1", "b2", "b3"};
      EXPECT_EQ(failed_after(each_layer("b", 1)), biases) << "decay applied to the biases too";
      EXPECT_EQ(failed_after(each_layer("W", 1)), weights) << "λ‖W‖²'s 2λW, not (λ/2)‖W‖²'s λW";
      EXPECT_EQ(failed_after(each_layer("W", -1)), weights) << "the decay term forgotten";
    }
}

TEST(ManualMatchesTorch, BceAtSaturationFollowsTorchsClamps) {
  // Huge weights push the sigmoid to exactly 0 and 1, where BCE's log clamp and the 1e-12
  // floor of its backward decide the numbers; the manual MLP must follow torch there too.
  using A = Activation;
  Problem p = testing::make_problem({3, 4, 1}, {A::tanh, A::sigmoid}, Loss::bce, Dtype::float64, "random:8", 4);
  for (auto& w : p.params["W2"].values) w *= 1e3;
  EXPECT_TRUE(manual_matches_torch(p));
}

TEST(SeedFortyTwo, TheLabsNetIsReportedVacuous) {
  // np.random.seed(42) in the notebook gives a net whose second ReLU layer is dead for every
  // XOR input: every parameter gradient is exactly 0 on both sides.
  const Problem problem = testing::lab_problem(42);
  const ReferenceResult reference = compute_reference(problem);
  const ManualResult manual = run_manual_mlp(problem);
  EXPECT_DOUBLE_EQ(manual.loss, 0.25);  // the notebook's "Initial loss: 0.250000"
  const CheckReport report = check_gradients(problem, manual_mlp_under_test(manual),
                                             reference);
  EXPECT_EQ(report.verdict(), Verdict::vacuous);
  for (const auto& c : report.parameters) EXPECT_TRUE(c.vacuous) << c.name;
  ASSERT_EQ(report.dead_relu_units.size(), 3u);
  EXPECT_EQ(report.dead_relu_units[1].dead, 3);  // layer 2: all 3 units dead
  EXPECT_NE(format_report_table(report).find("VACUOUS: nothing differs"), std::string::npos);
}

}  // namespace
}  // namespace gradverify
