// Training in lockstep with torch::optim: the hand-written SGD and Adam must track LibTorch's
// to rounding for every step, learn XOR, and a reference that differs by a hair must be
// caught, at the step and in the parameter where it parts.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "gradverify/torch/lockstep.h"
#include "support/problems.h"

namespace gradverify {
namespace {

using A = Activation;

OptimizerConfig optimizer(OptimizerKind kind) {
  OptimizerConfig c;
  c.kind = kind;
  c.lr = kind == OptimizerKind::adam ? 0.05 : 0.5;
  return c;
}

class Lockstep : public ::testing::TestWithParam<std::tuple<OptimizerKind, Dtype>> {};

TEST_P(Lockstep, LearnsXorWithDriftAtRoundingLevel) {
  const auto [kind, dtype] = GetParam();
  const Problem xor_net = testing::lab_problem(1, dtype);  // seed 1: the lab's net learns from it
  const LockstepResult run = train_lockstep(xor_net, optimizer(kind), optimizer(kind), 2000);
  EXPECT_TRUE(run.in_lockstep()) << "departed at step " << run.departure_step.value_or(0) << " in "
                                 << run.departure.parameter;
  ASSERT_EQ(run.curve.size(), 2000u);
  EXPECT_LT(loss_at(xor_net, run.manual_params), 0.01);
  EXPECT_LT(loss_at(xor_net, run.reference_params), 0.01);
  EXPECT_LT(run.curve.back().manual_loss, run.curve.front().manual_loss / 100);
  EXPECT_LE(run.largest.value, run.tolerance * 10);  // max|θ| stays below 10 here

  // Other nets, shorter: every activation and loss.
  for (const auto& [layers, acts, loss] :
       {std::tuple{std::vector<int64_t>{3, 6, 4, 1}, std::vector<A>{A::tanh, A::sigmoid, A::sigmoid}, Loss::bce},
        std::tuple{std::vector<int64_t>{4, 5, 2}, std::vector<A>{A::relu, A::identity}, Loss::bce_with_logits},
        std::tuple{std::vector<int64_t>{2, 8, 3}, std::vector<A>{A::sigmoid, A::tanh}, Loss::mse}}) {
    const Problem p = testing::make_problem(layers, acts, loss, dtype, "random:12", 3);
    SCOPED_TRACE(layers_to_string(layers));
    OptimizerConfig c = optimizer(kind);
    c.lr = 0.05;
    const LockstepResult r = train_lockstep(p, c, c, 300);
    EXPECT_TRUE(r.in_lockstep()) << "departed at step " << r.departure_step.value_or(0);
    EXPECT_LT(r.curve.back().manual_loss, r.curve.front().manual_loss);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Optimizers, Lockstep,
    ::testing::Combine(::testing::Values(OptimizerKind::sgd, OptimizerKind::adam),
                       ::testing::Values(Dtype::float64, Dtype::float32)),
    [](const auto& test_info) {
      return std::string(to_string(std::get<0>(test_info.param))) + "_" + to_string(std::get<1>(test_info.param));
    });

TEST(LockstepNegativeControl, AnOptimizerOffByAHairIsCaughtWhereItParts) {
  // The reference trains with a slightly different rule: the lockstep check must notice
  // within a few steps and name a parameter, in both dtypes and for each setting.
  for (const Dtype dtype : {Dtype::float64, Dtype::float32}) {
    const Problem p = testing::lab_problem(1, dtype);
    struct Variant {
      const char* name;
      OptimizerConfig manual, reference;
    };
    OptimizerConfig sgd = optimizer(OptimizerKind::sgd), adam = optimizer(OptimizerKind::adam);
    OptimizerConfig sgd_lr = sgd, sgd_momentum = sgd, adam_beta2 = adam, adam_eps = adam;
    sgd_lr.lr *= 1.001;
    sgd_momentum.momentum = 0.89;
    adam_beta2.beta2 = 0.99;
    adam_eps.eps = 1e-3;
    for (const Variant& v : {Variant{"sgd lr x1.001", sgd, sgd_lr}, Variant{"sgd momentum 0.89", sgd, sgd_momentum},
                             Variant{"adam beta2 0.99", adam, adam_beta2}, Variant{"adam eps 1e-3", adam, adam_eps}}) {
      SCOPED_TRACE(std::string(v.name) + " " + to_string(dtype));
      const LockstepResult r = train_lockstep(p, v.manual, v.reference, 200);
      EXPECT_FALSE(r.in_lockstep());
      ASSERT_TRUE(r.departure_step.has_value());
      EXPECT_LE(*r.departure_step, 20);
      EXPECT_FALSE(r.departure.parameter.empty());
      EXPECT_GT(r.departure.value, r.tolerance);
    }
  }
}

TEST(LockstepNegativeControl, ALossThatBlowsUpStopsTraining) {
  const Problem p = testing::make_problem({3, 4, 1}, {A::identity, A::identity}, Loss::mse, Dtype::float64, "random:8", 2);
  OptimizerConfig c = optimizer(OptimizerKind::sgd);
  c.lr = 1e3;
  const LockstepResult r = train_lockstep(p, c, c, 500);
  ASSERT_TRUE(r.diverged_at.has_value());
  EXPECT_LT(*r.diverged_at, 500);
  EXPECT_EQ(r.curve.size(), static_cast<size_t>(*r.diverged_at));
  EXPECT_FALSE(r.in_lockstep());
}

}  // namespace
}  // namespace gradverify
