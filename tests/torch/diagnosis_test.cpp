// The diagnosis over the student bug catalog, on random nets drawn here and nowhere else:
// each bug that changes the gradients must fail on exactly the parameters it changes, carry
// its own hint (a wrong hint is worse than none), and have its first divergence where it was
// planted. A correct backward pass must never get a failure or a hint.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "gradverify/check/compare.h"
#include "gradverify/check/diagnosis.h"
#include "gradverify/check/report.h"
#include "gradverify/problem/data.h"
#include "gradverify/problem/init.h"
#include "gradverify/torch/reference.h"
#include "support/problems.h"
#include "support/student_backward.h"

namespace gradverify {
namespace {

using testing::StudentBug;
using A = Activation;

constexpr int kNets = 100;  // per dtype

// A net no other test uses: depth, widths, activations, loss, batch and data from the seed.
// Every other net has all-zero input rows, so with zero initial biases some z are exactly 0
// and ReLU'(0) matters.
Problem unseen_net(uint32_t seed, Dtype dtype) {
  std::mt19937 rng(20261124 + seed);
  const auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Problem p;
  const int L = pick(1, 4);
  p.spec.layers.push_back(pick(1, 6));
  for (int k = 1; k < L; ++k) p.spec.layers.push_back(pick(1, 9));
  p.spec.layers.push_back(pick(1, 3));
  const A all[] = {A::relu, A::sigmoid, A::tanh, A::identity};
  for (int k = 1; k < L; ++k) p.spec.activations.push_back(all[pick(0, 3)]);
  p.spec.loss = static_cast<Loss>(pick(0, 2));
  p.spec.activations.push_back(p.spec.loss == Loss::bce               ? A::sigmoid
                               : p.spec.loss == Loss::bce_with_logits ? (pick(0, 1) ? A::identity : A::tanh)
                                                                      : all[pick(0, 3)]);
  p.spec.dtype = dtype;
  set_random_data(p, pick(1, 9), seed);
  if (seed % 2 == 0)
    for (int64_t n = 0; n < p.batch(); n += 2)
      for (int64_t i = 0; i < p.spec.layers[0]; ++i) p.X.values[static_cast<size_t>(n * p.spec.layers[0] + i)] = 0;
  p.params = init_params(p.spec, Init::he, seed);
  validate_problem(p, "unseen_net");
  return p;
}

// The hint kind each bug must carry when it changes anything; empty for none and for a
// missing array, whose message ("missing") already says it all.
std::string expected_kind(StudentBug bug, const Problem& p) {
  switch (bug) {
    case StudentBug::loss_summed_over_batch: return "loss_summed";
    case StudentBug::loss_summed_over_all: return p.spec.layers.back() == 1 ? "loss_summed" : "loss_summed_over_all";
    case StudentBug::loss_mean_over_batch_only: return "loss_mean_over_batch_only";
    case StudentBug::sign_flipped: return "loss_sign_flipped";
    case StudentBug::mse_factor_two_missing: return "mse_factor_two_missing";
    case StudentBug::mse_factor_two_doubled: return "mse_factor_two_doubled";
    case StudentBug::bias_averaged: return "bias_averaged";
    case StudentBug::bias_row_not_summed: return "bias_first_row";
    case StudentBug::bias_full_batch: return "bias_per_sample";
    case StudentBug::relu_grad_one_at_zero: return "relu_grad_one_at_zero";
    case StudentBug::derivative_of_output:
    case StudentBug::sigmoid_derivative_of_output: return "derivative_of_output";
    case StudentBug::activation_derivative_forgotten: return "activation_derivative_forgotten";
    case StudentBug::bce_extra_sigmoid_derivative: return "bce_extra_sigmoid_derivative";
    case StudentBug::gradient_left_zero: return "all_zero";
    case StudentBug::nan_entry: return "nonfinite";
    case StudentBug::transposed_weight: return "transposed";
    case StudentBug::none:
    case StudentBug::missing_array: return "";
  }
  return "";
}

bool is_loss_bug(StudentBug bug) {
  return bug == StudentBug::loss_summed_over_batch || bug == StudentBug::loss_summed_over_all ||
         bug == StudentBug::loss_mean_over_batch_only || bug == StudentBug::sign_flipped ||
         bug == StudentBug::mse_factor_two_missing || bug == StudentBug::mse_factor_two_doubled ||
         bug == StudentBug::bce_extra_sigmoid_derivative;
}
bool is_activation_bug(StudentBug bug) {
  return bug == StudentBug::relu_grad_one_at_zero || bug == StudentBug::derivative_of_output ||
         bug == StudentBug::sigmoid_derivative_of_output || bug == StudentBug::activation_derivative_forgotten;
}
bool is_bias_bug(StudentBug bug) {
  return bug == StudentBug::bias_averaged || bug == StudentBug::bias_row_not_summed ||
         bug == StudentBug::bias_full_batch;
}

// What the bug changes, found from the students alone: the correct one against the buggy
// one, both independent of LibTorch and of the diagnosis.
std::set<std::string> changed_tensors(const SubmittedGradients& buggy, const SubmittedGradients& correct,
                                      const Tolerances& tol) {
  std::set<std::string> changed;
  for (const auto& [name, good] : correct) {
    const auto it = buggy.find(name);
    if (it == buggy.end() || !compare_tensor(name, it->second, *good.tensor, tol).passed) changed.insert(name);
  }
  return changed;
}

std::set<std::string> failed_tensors(const CheckReport& report) {
  std::set<std::string> failed;
  for (const auto* group : {&report.parameters, &report.intermediates})
    for (const auto& c : *group)
      if (!c.passed) failed.insert(c.name);
  return failed;
}

struct Tally {
  int cases = 0, changed = 0, caught_exactly = 0, hinted = 0, wrong_hints = 0, divergence_right = 0,
      divergence_checked = 0;
};

class DiagnosisCatalog : public ::testing::TestWithParam<StudentBug> {};

TEST_P(DiagnosisCatalog, CaughtHintedAndLocalisedOnUnseenNets) {
  const StudentBug bug = GetParam();
  Tally t;
  for (const Dtype dtype : {Dtype::float64, Dtype::float32})
    for (uint32_t seed = 0; seed < kNets; ++seed) {
      const Problem problem = unseen_net(seed, dtype);
      const int64_t L = problem.spec.num_layers();
      const int64_t layer = static_cast<int64_t>(seed) % (L + 1);  // 0: every layer it fits
      const Tolerances tol = default_tolerances(dtype);
      const ReferenceResult reference = compute_reference(problem);
      const SubmittedGradients correct = testing::student_backward(problem, StudentBug::none);
      const SubmittedGradients buggy_full = testing::student_backward(problem, bug, layer);

      // Twice: with the intermediates (dz_k, dh_k), and with the parameters alone.
      for (const bool with_intermediates : {true, false}) {
        SubmittedGradients buggy = buggy_full;
        if (!with_intermediates)
          for (const auto& name : intermediate_names(problem.spec)) buggy.erase(name);
        SCOPED_TRACE(::testing::Message() << to_string(dtype) << " net " << seed << " "
                                          << layers_to_string(problem.spec.layers) << " layer " << layer
                                          << (with_intermediates ? " with intermediates" : " parameters only"));
        const CheckReport report = check_gradients(problem, {buggy, "student", std::nullopt, {}}, reference);
        std::set<std::string> changed = changed_tensors(buggy, correct, tol);
        if (!with_intermediates)
          for (const auto& name : intermediate_names(problem.spec)) changed.erase(name);
        ++t.cases;

        if (changed.empty()) {  // the bug changes nothing on this net: nothing to fail or hint
          EXPECT_TRUE(report.passed()) << format_report_table(report);
          EXPECT_FALSE(report.first_divergence.has_value());
          continue;
        }
        ++t.changed;
        const std::set<std::string> failed = failed_tensors(report);
        EXPECT_EQ(failed, changed) << format_report_table(report);
        t.caught_exactly += failed == changed ? 1 : 0;

        // The hint: its kind, on every failing tensor, or none at all.
        const std::string kind = expected_kind(bug, problem);
        bool hinted = true, wrong = false;
        for (const auto* group : {&report.parameters, &report.intermediates})
          for (const auto& c : *group) {
            if (c.passed) {
              EXPECT_TRUE(c.hint.empty()) << c.name;
              continue;
            }
            const bool names_it = std::find(c.hint_kinds.begin(), c.hint_kinds.end(), kind) != c.hint_kinds.end();
            hinted = hinted && names_it;
            wrong = wrong || (!c.hint_kinds.empty() && !names_it);
          }
        if (!kind.empty()) t.hinted += hinted ? 1 : 0;
        t.wrong_hints += wrong ? 1 : 0;
        EXPECT_FALSE(wrong) << "a hint that names another mistake\n" << format_report_table(report);

        // The first divergence: at the planted layer, and with intermediates at the planted step.
        ASSERT_TRUE(report.first_divergence.has_value()) << format_report_table(report);
        const FirstDivergence& d = *report.first_divergence;
        int64_t planted = is_loss_bug(bug) ? L : layer;
        if (planted == 0)  // planted everywhere: it shows first in the highest layer it changed
          for (const auto& name : changed) planted = std::max<int64_t>(planted, std::stoll(name.substr(1)));
        if (bug == StudentBug::missing_array) planted = 2;
        ++t.divergence_checked;
        bool right = d.layer == planted;
        if (with_intermediates) {
          const std::string first = d.mismatched.empty() ? "" : d.mismatched.front();
          const auto k = std::to_string(planted);
          if (is_loss_bug(bug) && bug != StudentBug::bce_extra_sigmoid_derivative)
            right = right && first == "h" + k && d.last_match.empty();
          else if (bug == StudentBug::bce_extra_sigmoid_derivative || is_activation_bug(bug))
            right = right && first == "z" + k && d.last_match == "h" + k;
          else if (is_bias_bug(bug))
            right = right && d.mismatched == std::vector<std::string>{"b" + k} && d.last_match == "z" + k;
          else  // the weight bugs: zeros, NaN, transposed, missing
            right = right && d.mismatched == std::vector<std::string>{"W" + k} && d.last_match == "z" + k;
        }
        t.divergence_right += right ? 1 : 0;
        EXPECT_TRUE(right) << "planted in layer " << planted << "; " << d.message << "\n" << format_report_table(report);
      }
    }
  if (bug == StudentBug::none) {
    EXPECT_EQ(t.changed, 0);
  } else {
    EXPECT_GT(t.changed, 0) << "the bug changed nothing on any net: this control proves nothing";
    if (bug != StudentBug::missing_array) {
      EXPECT_GE(t.hinted, 0.9 * t.changed);  // the bar
    }
  }
  EXPECT_EQ(t.wrong_hints, 0);
  // One line per bug, for the rates table in the README.
  std::printf("RATE %-32s changed %3d of %3d; caught exactly %3d; hinted %3d; wrong hints %d; divergence right %3d of %3d\n",
              testing::to_string(bug), t.changed, t.cases, t.caught_exactly, t.hinted, t.wrong_hints,
              t.divergence_right, t.divergence_checked);
}

INSTANTIATE_TEST_SUITE_P(Catalog, DiagnosisCatalog, ::testing::ValuesIn(testing::all_student_bugs()),
                         [](const auto& test_info) { return std::string(testing::to_string(test_info.param)); });

}  // namespace
}  // namespace gradverify
