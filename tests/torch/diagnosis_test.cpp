// The diagnosis over the student bug catalog, on random nets drawn here and nowhere else:
// each bug that changes the gradients must fail on exactly the parameters it changes, carry
// its own hint (a wrong hint is worse than none), and have its first divergence where it was
// planted, naming the step its hint names. A correct backward pass, in every layout the
// protocol accepts, must never get a failure or a hint; an answer missing, misnamed or
// malformed must never get a diagnosis of its maths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <regex>
#include <set>

#include "gradverify/check/answer_reading.h"
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
    case StudentBug::relu_mask_on_upstream: return "relu_mask_on_upstream";
    case StudentBug::derivative_formula_on_z: return "derivative_formula_on_z";
    case StudentBug::derivative_of_output_hidden_only: return "derivative_of_output";
    case StudentBug::logits_extra_sigmoid_derivative: return "logits_extra_sigmoid_derivative";
    case StudentBug::batch_mean_twice: return "batch_mean_twice";
    case StudentBug::update_returned: return "update_returned";
    case StudentBug::dh_untransposed: return "input_gradient_untransposed";
    case StudentBug::mse_half_summed: return "mse_half_summed";
    // The next lab's bugs are named as the mistakes they plant.
    case StudentBug::softmax_onehot_not_subtracted:
    case StudentBug::softmax_jacobian_after_fused:
    case StudentBug::softmax_without_max_shift:
    case StudentBug::weight_decay_forgotten:
    case StudentBug::cross_entropy_mean_over_classes:
    case StudentBug::weight_decay_on_biases:
    case StudentBug::weight_decay_doubled:
    case StudentBug::weight_decay_halved:
    case StudentBug::leaky_slope_forgotten: return testing::to_string(bug);
    case StudentBug::float32_arithmetic: return "precision";
    case StudentBug::none:
    case StudentBug::missing_array: return "";
  }
  return "";
}

bool is_loss_bug(StudentBug bug) {
  return bug == StudentBug::loss_summed_over_batch || bug == StudentBug::loss_summed_over_all ||
         bug == StudentBug::loss_mean_over_batch_only || bug == StudentBug::sign_flipped ||
         bug == StudentBug::mse_factor_two_missing || bug == StudentBug::mse_factor_two_doubled ||
         bug == StudentBug::bce_extra_sigmoid_derivative || bug == StudentBug::logits_extra_sigmoid_derivative ||
         bug == StudentBug::mse_half_summed;
}
bool is_activation_bug(StudentBug bug) {
  return bug == StudentBug::relu_grad_one_at_zero || bug == StudentBug::derivative_of_output ||
         bug == StudentBug::sigmoid_derivative_of_output || bug == StudentBug::activation_derivative_forgotten ||
         bug == StudentBug::relu_mask_on_upstream || bug == StudentBug::derivative_formula_on_z ||
         bug == StudentBug::derivative_of_output_hidden_only;
}
// Bugs that plant where they can whatever `layer` says: the first divergence is then in the
// highest layer they changed.
bool ignores_layer(StudentBug bug) {
  return is_loss_bug(bug) || bug == StudentBug::derivative_of_output_hidden_only || bug == StudentBug::update_returned;
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

// The words the first divergence uses for the step a replayed mistake sits in.
bool step_fits(const std::string& suspect, const std::string& kind) {
  static const std::regex activation_backward("layer [0-9]+'s (relu|sigmoid|tanh|identity) backward$");
  if (kind == "bias_averaged" || kind == "bias_first_row") return suspect.find("bias gradient") != std::string::npos;
  if (kind == "batch_mean_twice") return suspect.find("'s step from dz") != std::string::npos;
  if (kind == "update_returned") return suspect == "the step that returns the parameter gradients";
  if (kind == "input_gradient_untransposed") return suspect.find("backward to its input") != std::string::npos;
  if (kind == "relu_grad_one_at_zero" || kind == "relu_mask_on_upstream" || kind == "derivative_of_output" ||
      kind == "derivative_formula_on_z" || kind == "activation_derivative_forgotten" ||
      kind == "bce_extra_sigmoid_derivative")
    return std::regex_search(suspect, activation_backward);
  return suspect.rfind("the loss backward", 0) == 0;  // the loss's mistakes
}

// Whether the localisation contradicts a replayed hint: it names a step no hinted mistake sits
// in, or a layer other than the one the hint names.
bool contradicts(const FirstDivergence& d, const TensorComparison& hinted) {
  for (const auto& suspect : d.suspects) {
    const bool fits = std::any_of(hinted.hint_kinds.begin(), hinted.hint_kinds.end(),
                                  [&](const std::string& kind) { return step_fits(suspect, kind); });
    if (!fits) return true;
  }
  static const std::regex named_layer(" in layer ([0-9]+) \\(");
  std::smatch m;
  if (hinted.hint_kinds.size() == 1 && std::regex_search(hinted.hint, m, named_layer)) {
    const int64_t k = std::stoll(m[1]);
    const int64_t seen_at = hinted.hint_kinds[0] == "input_gradient_untransposed" ? k - 1 : k;  // it changes dh_{k-1}
    if (seen_at != d.layer) return true;
  }
  return false;
}

bool is_replay_kind(const std::string& kind) {
  return kind != "nonfinite" && kind != "all_zero" && kind != "transposed" && kind != "bias_per_sample" &&
         kind != "constant_factor";
}

enum class BiasLayout { vector, row, column };
const char* to_string(BiasLayout b) { return b == BiasLayout::vector ? "[n]" : b == BiasLayout::row ? "[1,n]" : "[n,1]"; }

// The correct answer as a student's code lays it out: biases as vectors, rows or columns, and
// the intermediates per sample in rows (the protocol's), in columns (Nielsen's), or left out.
SubmittedGradients laid_out(SubmittedGradients answer, const Problem& p, BiasLayout bias, int intermediates) {
  for (int64_t k = 1; k <= p.spec.num_layers(); ++k) {
    auto bias_it = answer.find(bias_name(k));
    if (bias_it != answer.end() && bias_it->second.tensor && bias_it->second.tensor->shape.size() == 1) {
      Tensor& b = *bias_it->second.tensor;
      const int64_t n = b.shape[0];
      if (bias == BiasLayout::row) b.shape = {1, n};
      if (bias == BiasLayout::column) b.shape = {n, 1};
    }
    for (const auto& name : {preactivation_name(k), activation_name(k)}) {
      if (intermediates == 2) {
        answer.erase(name);
        continue;
      }
      if (intermediates == 0 || !answer.count(name) || !answer[name].tensor) continue;
      Tensor& t = *answer[name].tensor;
      t = transposed(t);
    }
  }
  return answer;
}

struct Tally {
  int cases = 0, changed = 0, caught_exactly = 0, hinted = 0, wrong_hints = 0, divergence_right = 0,
      divergence_checked = 0, contradictions = 0, layout_differences = 0;
};

// The next lab's mistakes, on unseen softmax nets with weight decay (the biases nonzero, as after
// some training): each fails exactly the tensors it changes, every one with its own hint kind.
class NextLabMistake : public ::testing::TestWithParam<StudentBug> {};

TEST_P(NextLabMistake, FailsExactlyWhatItChangesWithItsOwnHintKind) {
  const StudentBug bug = GetParam();
  int changed_cases = 0;
  for (const Dtype dtype : {Dtype::float64, Dtype::float32})
    for (uint32_t seed = 0; seed < 12; ++seed) {
      std::mt19937 rng(7100 + seed);
      const auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
      const A hidden[] = {A::leaky_relu, A::tanh, A::leaky_relu};
      std::vector<int64_t> layers{pick(2, 6), pick(3, 8)};
      std::vector<A> activations{A::leaky_relu};  // at least one, for leaky_slope_forgotten
      if (seed % 2) layers.push_back(pick(3, 7)), activations.push_back(hidden[pick(0, 2)]);
      layers.push_back(pick(2, 6));
      activations.push_back(A::identity);
      Problem p = testing::make_problem(layers, activations, Loss::cross_entropy, dtype, "random:" + std::to_string(pick(2, 9)),
                                        seed);
      p.spec.weight_decay = std::vector<double>{0.1, 0.01, 0.05}[seed % 3];
      p.spec.negative_slope = std::vector<double>{0.01, 0.2, 0.1}[seed % 3];
      for (int64_t k = 1; k <= p.spec.num_layers(); ++k) {
        auto& b = p.params[bias_name(k)].values;
        for (double& v : b) v = round_to(dtype, 0.2 * std::uniform_real_distribution<double>(-1, 1)(rng));
      }
      // Inputs and output weights in the hundreds give logits where an unshifted exp overflows
      // (~88 in float32, ~709 in float64), through a tanh layer too; elsewhere that mistake
      // changes nothing.
      if (bug == StudentBug::softmax_without_max_shift) {
        for (double& x : p.X.values) x = round_to(dtype, x * 300);
        for (double& w : p.params[weight_name(p.spec.num_layers())].values) w = round_to(dtype, w * 300);
      }
      SCOPED_TRACE(::testing::Message() << to_string(dtype) << " seed " << seed << " " << layers_to_string(layers));
      const SubmittedGradients buggy = testing::student_backward(p, bug);
      const std::set<std::string> changed =
          changed_tensors(buggy, testing::student_backward(p, StudentBug::none), default_tolerances(dtype));
      const CheckReport report = check_gradients(p, {buggy, "student", std::nullopt, {}}, compute_reference(p));
      EXPECT_EQ(failed_tensors(report), changed) << format_report_table(report);
      if (changed.empty()) continue;
      ++changed_cases;
      for (const auto* group : {&report.parameters, &report.intermediates})
        for (const auto& c : *group) {
          if (c.passed) continue;
          EXPECT_EQ(c.hint_kinds, std::vector<std::string>{expected_kind(bug, p)}) << c.name << ": " << c.hint;
        }
    }
  EXPECT_GE(changed_cases, 20) << "the mistake changed too few of the 24 nets to test it";
}

INSTANTIATE_TEST_SUITE_P(All, NextLabMistake,
                         ::testing::Values(StudentBug::loss_summed_over_batch,  // the mean left out
                                           StudentBug::softmax_onehot_not_subtracted,
                                           StudentBug::softmax_jacobian_after_fused,
                                           StudentBug::softmax_without_max_shift, StudentBug::weight_decay_on_biases,
                                           StudentBug::weight_decay_doubled, StudentBug::weight_decay_halved,
                                           StudentBug::weight_decay_forgotten,
                                           StudentBug::cross_entropy_mean_over_classes,
                                           StudentBug::leaky_slope_forgotten),
                         [](const auto& test_info) { return std::string(testing::to_string(test_info.param)); });

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
        if (with_intermediates) {
          // Laid out as Nielsen's code would (column biases, column-per-sample dz and dh), the
          // same mistake gets the same verdicts, hints and localisation, square nets included.
          const CheckReport columns = check_gradients(
              problem, {laid_out(buggy, problem, BiasLayout::column, 1), "student", std::nullopt, {}}, reference);
          bool same = failed_tensors(columns) == failed_tensors(report) &&
                      columns.first_divergence.has_value() == report.first_divergence.has_value() &&
                      (!report.first_divergence || columns.first_divergence->message == report.first_divergence->message);
          for (size_t i = 0; i < report.parameters.size(); ++i)
            same = same && columns.parameters[i].hint_kinds == report.parameters[i].hint_kinds;
          t.layout_differences += same ? 0 : 1;
          EXPECT_TRUE(same) << "in rows:\n" << format_report_table(report) << "in columns:\n" << format_report_table(columns);
        }
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
        const TensorComparison* replay_hinted = nullptr;
        for (const auto* group : {&report.parameters, &report.intermediates})
          for (const auto& c : *group) {
            if (c.passed) {
              EXPECT_TRUE(c.hint.empty()) << c.name;
              continue;
            }
            const bool names_it = std::find(c.hint_kinds.begin(), c.hint_kinds.end(), kind) != c.hint_kinds.end();
            hinted = hinted && names_it;
            wrong = wrong || (!c.hint_kinds.empty() && !names_it);
            if (!c.hint_kinds.empty() && is_replay_kind(c.hint_kinds[0])) replay_hinted = &c;
          }
        if (!kind.empty()) t.hinted += hinted ? 1 : 0;
        t.wrong_hints += wrong ? 1 : 0;
        EXPECT_FALSE(wrong) << "a hint that names another mistake\n" << format_report_table(report);

        if (bug == StudentBug::missing_array) {  // missing is not wrong maths: nothing to localise
          EXPECT_FALSE(report.first_divergence.has_value()) << format_report_table(report);
          continue;
        }
        // The first divergence: at the planted layer, and with intermediates at the planted step.
        ASSERT_TRUE(report.first_divergence.has_value()) << format_report_table(report);
        const FirstDivergence& d = *report.first_divergence;
        const bool contradiction = replay_hinted && contradicts(d, *replay_hinted);
        t.contradictions += contradiction ? 1 : 0;
        EXPECT_FALSE(contradiction) << d.message << "\n" << format_report_table(report);
        int64_t planted = is_loss_bug(bug) ? L : layer;
        if (bug == StudentBug::dh_untransposed || (ignores_layer(bug) && !is_loss_bug(bug))) planted = 0;
        if (planted == 0)  // planted everywhere: it shows first in the highest layer it changed
          for (const auto& name : changed) planted = std::max<int64_t>(planted, std::stoll(name.substr(1)));
        // The step a replay names is in the layer the mistake was planted in (dz·W in layer k
        // changes dh_{k-1}, so it shows a layer below its own step).
        if (replay_hinted) {
          static const std::regex named_layer("layer ([0-9]+)'s");
          for (const auto& suspect : d.suspects) {
            std::smatch m;
            if (!std::regex_search(suspect, m, named_layer)) continue;
            const int64_t expected = bug == StudentBug::dh_untransposed ? planted + 1 : planted;
            const bool off = std::stoll(m[1]) != expected;
            t.contradictions += off ? 1 : 0;
            EXPECT_FALSE(off) << suspect << " for a mistake planted in layer " << expected;
          }
        }
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
          else if (bug == StudentBug::batch_mean_twice || bug == StudentBug::update_returned)  // dW_k may be 0 and unchanged
            right = right && !d.mismatched.empty() && d.mismatched.back() == "b" + k && d.last_match == "z" + k;
          else if (bug == StudentBug::dh_untransposed)
            right = right && first == "h" + k && d.last_match == "z" + std::to_string(planted + 1);
          else  // the weight bugs: zeros, NaN, transposed
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
      EXPECT_GE(t.hinted, 0.95 * t.changed);  // the issue's bar
    }
  }
  EXPECT_EQ(t.wrong_hints, 0);
  EXPECT_EQ(t.contradictions, 0);
  EXPECT_EQ(t.layout_differences, 0);
  // One line per bug, for the rates table in the README.
  std::printf("RATE %-34s changed %3d of %3d; caught exactly %3d; named %3d; misnamed %d; contradictions %d; "
              "divergence right %3d of %3d; columns differ %d\n",
              testing::to_string(bug), t.changed, t.cases, t.caught_exactly, t.hinted, t.wrong_hints, t.contradictions,
              t.divergence_right, t.divergence_checked, t.layout_differences);
}

INSTANTIATE_TEST_SUITE_P(Catalog, DiagnosisCatalog, ::testing::ValuesIn(testing::all_student_bugs()),
                         [](const auto& test_info) { return std::string(testing::to_string(test_info.param)); });

// ---- layouts that carry the same numbers -------------------------------------------------------

TEST(DiagnosisLayouts, EveryAcceptedLayoutOfACorrectAnswerPassesWithNoHint) {
  int answers = 0, clean = 0;
  for (const Dtype dtype : {Dtype::float64, Dtype::float32})
    for (uint32_t seed = 0; seed < kNets; ++seed) {
      const Problem problem = unseen_net(seed, dtype);
      const ReferenceResult reference = compute_reference(problem);
      const SubmittedGradients correct = testing::student_backward(problem, StudentBug::none);
      for (const BiasLayout bias : {BiasLayout::vector, BiasLayout::row, BiasLayout::column})
        for (const int intermediates : {0, 1, 2}) {
          SCOPED_TRACE(::testing::Message() << to_string(dtype) << " net " << seed << " "
                                            << layers_to_string(problem.spec.layers) << " bias " << to_string(bias)
                                            << (intermediates == 0   ? " rows"
                                                : intermediates == 1 ? " columns"
                                                                     : " no intermediates"));
          const CheckReport report = check_gradients(
              problem, {laid_out(correct, problem, bias, intermediates), "student", std::nullopt, {}}, reference);
          const std::string table = format_report_table(report);
          bool ok = report.verdict() != Verdict::fail && !report.first_divergence &&
                    table.find("FAIL") == std::string::npos && table.find("hint") == std::string::npos;
          // Column-per-sample is said once, and only when a shape could tell.
          const auto said = std::count_if(report.notes.begin(), report.notes.end(), [](const std::string& n) {
            return n.find("column-per-sample") != std::string::npos;
          });
          bool some_shape_tells = false;
          for (int64_t k = 1; k <= problem.spec.num_layers(); ++k)
            some_shape_tells = some_shape_tells || problem.spec.fan_out(k) != problem.batch();
          ok = ok && said == (intermediates == 1 && some_shape_tells ? 1 : intermediates == 1 ? said : 0);
          ++answers;
          clean += ok ? 1 : 0;
          EXPECT_TRUE(ok) << table;
        }
    }
  std::printf("LAYOUTS correct answers in every accepted layout: %d of %d pass with no hint\n", clean, answers);
}

TEST(DiagnosisLayouts, AColumnPerSampleAnswerWithABugIsStillDiagnosed) {
  // Judged transposed back, the intermediates pin the step as rows would.
  int checked = 0;
  for (uint32_t seed = 0; seed < kNets; ++seed) {
    const Problem problem = unseen_net(seed, Dtype::float64);
    const SubmittedGradients buggy = testing::student_backward(problem, StudentBug::sign_flipped);
    const CheckReport rows = check_gradients(problem, {buggy, "student", std::nullopt, {}}, compute_reference(problem));
    const CheckReport columns = check_gradients(
        problem, {laid_out(buggy, problem, BiasLayout::column, 1), "student", std::nullopt, {}}, compute_reference(problem));
    if (rows.passed()) continue;
    ++checked;
    ASSERT_TRUE(columns.first_divergence.has_value()) << format_report_table(columns);
    EXPECT_EQ(columns.first_divergence->message, rows.first_divergence->message);
    EXPECT_EQ(columns.failed_count(), rows.failed_count());
  }
  EXPECT_GT(checked, kNets / 2);
}

// ---- missing, misnamed and malformed --------------------------------------------------------

// Whether a report diagnoses any maths: a first divergence, or a hint, or dead units.
bool diagnoses_maths(const CheckReport& r) {
  if (r.first_divergence) return true;
  for (const auto* group : {&r.parameters, &r.intermediates})
    for (const auto& c : *group)
      if (!c.hint.empty() || !c.hint_kinds.empty()) return true;
  return false;
}

TEST(DiagnosisMissing, MissingMisnamedAndMalformedAnswersGetNoDiagnosisOfTheirMaths) {
  for (const Dtype dtype : {Dtype::float64, Dtype::float32})
    for (uint32_t seed = 0; seed < kNets; ++seed) {
      const Problem problem = unseen_net(seed, dtype);
      SCOPED_TRACE(::testing::Message() << to_string(dtype) << " net " << seed << " "
                                        << layers_to_string(problem.spec.layers));
      const ReferenceResult reference = compute_reference(problem);
      const SubmittedGradients correct = testing::student_backward(problem, StudentBug::none);
      const auto check = [&](const SubmittedGradients& answer, std::vector<std::string> ignored = {}) {
        return check_gradients(problem, {answer, "your answer", std::nullopt, std::move(ignored)}, reference);
      };

      // Every key misnamed, as W1 for dW1: one line that says so, and nothing else.
      std::vector<std::string> misnamed;
      for (const auto& name : parameter_names(problem.spec)) misnamed.push_back(name);
      const CheckReport none = check({}, misnamed);
      EXPECT_FALSE(diagnoses_maths(none)) << format_report_table(none);
      ASSERT_EQ(none.notes.size(), 1u);
      EXPECT_EQ(none.notes[0].rfind("none of dW1, db1", 0), 0u) << none.notes[0];
      EXPECT_NE(none.notes[0].find("did you mean dW1, db1"), std::string::npos) << none.notes[0];
      const std::string none_table = format_report_table(none);
      EXPECT_EQ(none_table.find("dead ReLU"), std::string::npos) << none_table;
      EXPECT_NE(none_table.find("FAIL (missing)"), std::string::npos);

      // One parameter left out, one not numbers: named as such, and nothing else.
      const std::string lost = parameter_names(problem.spec)[seed % parameter_names(problem.spec).size()];
      SubmittedGradients partial = correct;
      partial.erase(lost);
      const CheckReport missing = check(partial);
      EXPECT_FALSE(diagnoses_maths(missing)) << format_report_table(missing);
      EXPECT_NE(format_report_table(missing).find("FAIL: d" + lost + " is not in your answer"), std::string::npos)
          << format_report_table(missing);
      SubmittedGradients broken = correct;
      broken[lost] = SubmittedGradient{std::nullopt, "d" + lost + "[0]: expected a number, got null", true};
      const CheckReport malformed = check(broken);
      EXPECT_FALSE(diagnoses_maths(malformed)) << format_report_table(malformed);
      EXPECT_NE(format_report_table(malformed).find("FAIL (malformed)"), std::string::npos);

      // A real mistake beside a missing tensor is still named, on the tensors that are there.
      SubmittedGradients buggy = testing::student_backward(problem, StudentBug::sign_flipped);
      buggy.erase(lost);
      const CheckReport mixed = check(buggy);
      for (const auto& c : mixed.parameters) {
        if (c.name == lost) {
          EXPECT_TRUE(c.hint.empty()) << c.hint;
        } else if (!c.passed) {
          EXPECT_EQ(c.hint_kinds, std::vector<std::string>{"loss_sign_flipped"}) << c.name;
        }
      }
      if (!mixed.passed()) {
        ASSERT_TRUE(mixed.first_divergence.has_value()) << format_report_table(mixed);
        for (const auto& name : mixed.first_divergence->mismatched) EXPECT_NE(name, lost);
      }
    }
}

}  // namespace
}  // namespace gradverify
