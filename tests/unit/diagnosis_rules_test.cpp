// The diagnosis's rules, torch-free: the manual MLP's gradients stand in for LibTorch's.
// A hint must only ever name a mistake whose numbers are there: noise, or two mistakes at
// once, get no mistake's name. A passing check gets no diagnosis at all.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "gradverify/check/check.h"
#include "gradverify/check/mistakes.h"
#include "gradverify/check/report.h"
#include "gradverify/grading/rubric.h"
#include "gradverify/net/op.h"
#include "gradverify/problem/manual_mlp.h"
#include "support/problems.h"
#include "support/student_backward.h"

namespace gradverify {
namespace {

using A = Activation;
using testing::StudentBug;

Problem tanh_net(Dtype dtype = Dtype::float64) {
  return testing::make_problem({3, 5, 4, 2}, {A::tanh, A::relu, A::sigmoid}, Loss::mse, dtype, "random:6", 4);
}

CheckReport diagnosed(const Problem& p, const SubmittedGradients& submitted) {
  const ManualResult reference = run_manual_mlp(p);
  return check_gradients(p, {submitted, "test", std::nullopt, {}}, {reference.loss, reference.gradients, {}});
}

bool names_a_mistake(const TensorComparison& c) {
  for (const auto& kind : c.hint_kinds)
    if (kind != "constant_factor" && kind != "nonfinite" && kind != "all_zero" && kind != "transposed" &&
        kind != "bias_per_sample")
      return true;
  return false;
}

TEST(DiagnosisRules, NoisyGradientsGetNoHint) {
  for (const Dtype dtype : {Dtype::float64, Dtype::float32})
    for (uint32_t seed = 0; seed < 10; ++seed) {
      const Problem p = tanh_net(dtype);
      SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
      std::mt19937 rng(seed);
      std::normal_distribution<double> noise(1.0, 0.1);
      for (double& v : g["W2"].tensor->values) v *= noise(rng);
      const CheckReport r = diagnosed(p, g);
      ASSERT_FALSE(r.passed());
      for (const auto& c : r.parameters) {
        EXPECT_TRUE(c.hint.empty()) << c.name << ": " << c.hint;
        if (c.name == "W2") {
          ASSERT_TRUE(c.signature.has_value());
          EXPECT_GT(c.signature->cosine, 0.9);
          EXPECT_LT(c.signature->cosine, 1.0);
          EXPECT_FALSE(c.signature->transposed);
        }
      }
    }
}

TEST(DiagnosisRules, TwoMistakesAtOnceNameNeitherMistake) {
  // Sign flipped and biases averaged: no single replay gives these numbers, so no mistake is
  // named. What is plainly there may still be said: each tensor is an exact multiple.
  const Problem p = tanh_net();
  SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
  for (auto& [name, s] : g)
    for (double& v : s.tensor->values) v *= name[0] == 'b' ? -1.0 / 6 : -1.0;
  const CheckReport r = diagnosed(p, g);
  for (const auto& c : r.parameters) {
    EXPECT_FALSE(names_a_mistake(c)) << c.name << ": " << c.hint;
    if (c.reference_max_abs > 0) {
      EXPECT_EQ(c.hint_kinds, std::vector<std::string>{"constant_factor"}) << c.name << ": " << c.hint;
      EXPECT_NEAR(c.signature->scale, c.name[0] == 'b' ? -1.0 / 6 : -1.0, 1e-12);
      EXPECT_NEAR(c.signature->cosine, -1.0, 1e-12);
    }
  }
}

TEST(DiagnosisRules, APassingCheckGetsNoDiagnosis) {
  const Problem p = tanh_net();
  CheckReport r = diagnosed(p, as_submitted(run_manual_mlp(p).gradients));
  ASSERT_TRUE(r.passed());
  EXPECT_FALSE(r.first_divergence.has_value());
  for (const auto& c : r.parameters) {
    EXPECT_TRUE(c.hint.empty());
    EXPECT_FALSE(c.signature.has_value());
  }
  EXPECT_EQ(format_report_table(r).find("what this looks like"), std::string::npos);
  const auto doc = nlohmann::json::parse(format_report_json(r));
  EXPECT_TRUE(doc.at("first_divergence").is_null());
  EXPECT_FALSE(doc.at("parameters")[0].contains("hint"));
}

TEST(DiagnosisRules, FirstDivergenceInWords) {
  // ReLU derivative forgotten in layer 2 of 3, intermediates given: pinned to one step.
  const Problem p = tanh_net();
  const CheckReport r = diagnosed(p, testing::student_backward(p, StudentBug::activation_derivative_forgotten, 2));
  ASSERT_TRUE(r.first_divergence.has_value()) << format_report_table(r);
  const FirstDivergence& d = *r.first_divergence;
  EXPECT_EQ(d.layer, 2);
  EXPECT_EQ(d.last_match, "h2");
  EXPECT_EQ(d.mismatched, std::vector<std::string>{"z2"});
  EXPECT_EQ(d.suspects, std::vector<std::string>{"layer 2's relu backward"});
  EXPECT_EQ(d.message, "dL/dh2 matches, dL/dz2 does not: layer 2's relu backward is wrong");

  // The same, parameters only: matching dW3 and db3 vouch for dL/dz3, and the walk alone
  // leaves two steps; the replay that matches names one, in the same voice as the hint.
  SubmittedGradients params_only = testing::student_backward(p, StudentBug::activation_derivative_forgotten, 2);
  for (const auto& name : intermediate_names(p.spec)) params_only.erase(name);
  const CheckReport q = diagnosed(p, params_only);
  ASSERT_TRUE(q.first_divergence.has_value());
  EXPECT_EQ(q.first_divergence->last_match, "z3");
  EXPECT_EQ(q.first_divergence->mismatched, (std::vector<std::string>{"W2", "b2"}));
  EXPECT_EQ(q.first_divergence->message,
            "dW3 and db3 match (so dL/dz3 is right), dW2 and db2 do not: layer 2's relu backward is wrong");
  EXPECT_EQ(q.parameters[2].hint_kinds, std::vector<std::string>{"activation_derivative_forgotten"});

  // Noise in dW2 and db2 matches no replay: the walk's two steps stand.
  SubmittedGradients noisy = as_submitted(run_manual_mlp(p).gradients);
  for (const auto& name : intermediate_names(p.spec)) noisy.erase(name);
  for (const auto* name : {"W2", "b2"})
    for (double& v : noisy[name].tensor->values) v = v * 1.3 + 0.01;
  const CheckReport n = diagnosed(p, noisy);
  ASSERT_TRUE(n.first_divergence.has_value());
  EXPECT_EQ(n.first_divergence->message,
            "dW3 and db3 match (so dL/dz3 is right), dW2 and db2 do not: the mistake is in layer 3's backward to "
            "its input (dz3·W3ᵀ) or layer 2's relu backward");
}

TEST(DiagnosisRules, ALocalisationNeverNamesAStepOtherThanTheHintsMistake) {
  // ReLU'(0) = 1 in layer 2, parameters only, with z2[:, 0] exactly 0. The walk alone leaves
  // layer 3's backward to its input and layer 2's relu backward; the replay that matches
  // names the relu backward, and the localisation names it and nothing else.
  Problem p = testing::make_problem({3, 4, 3, 1}, {A::tanh, A::relu, A::identity}, Loss::mse, Dtype::float64,
                                    "random:6", 5);
  for (int64_t i = 0; i < 4; ++i) p.params.at("W2").values[static_cast<size_t>(i * 3)] = 0;  // z2[:, 0] = b2[0]
  for (double& v : p.params.at("b2").values) v = 0;
  SubmittedGradients g = testing::student_backward(p, StudentBug::relu_grad_one_at_zero, 2);
  for (const auto& name : intermediate_names(p.spec)) g.erase(name);
  const CheckReport r = diagnosed(p, g);
  ASSERT_FALSE(r.passed()) << format_report_table(r);
  ASSERT_TRUE(r.first_divergence.has_value());
  EXPECT_EQ(r.first_divergence->suspects, std::vector<std::string>{"layer 2's relu backward"})
      << r.first_divergence->message;
  for (const auto& c : r.parameters) {
    if (!c.passed) {
      EXPECT_EQ(c.hint_kinds, std::vector<std::string>{"relu_grad_one_at_zero"}) << c.name;
    }
  }
}

TEST(DiagnosisRules, MistakesThatGiveTheSameNumbersAreSaidToBeIndistinguishable) {
  // N = D = 3: the loss summed over the batch and averaged over the batch only are both x3.
  const Problem p = testing::make_problem({2, 4, 3}, {A::tanh, A::identity}, Loss::bce_with_logits, Dtype::float64,
                                          "random:3", 2);
  const CheckReport r = diagnosed(p, testing::student_backward(p, StudentBug::loss_summed_over_batch));
  ASSERT_FALSE(r.passed());
  const TensorComparison& w1 = r.parameters[0];
  EXPECT_EQ(w1.hint_kinds, (std::vector<std::string>{"loss_summed", "loss_mean_over_batch_only"}));
  EXPECT_EQ(w1.hint.rfind("two mistakes give exactly these numbers on this problem, so the check can't tell", 0), 0u)
      << w1.hint;
  ASSERT_TRUE(r.first_divergence.has_value());
  EXPECT_EQ(r.first_divergence->suspects, std::vector<std::string>{"the loss backward (bce_with_logits)"});
}

TEST(DiagnosisRules, AnAllZeroGradientIsNotSaidToBeNeverWritten) {
  // micrograd's = for += can leave a 0 that was written: the numbers can't tell the two apart.
  const Problem p = tanh_net();
  SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
  for (double& v : g["W1"].tensor->values) v = 0;
  const CheckReport r = diagnosed(p, g);
  ASSERT_EQ(r.parameters[0].hint_kinds, std::vector<std::string>{"all_zero"});
  EXPECT_EQ(r.parameters[0].hint.find("the gradient was never written"), std::string::npos) << r.parameters[0].hint;
  EXPECT_NE(r.parameters[0].hint.find("every entry of dW1 is 0 although LibTorch's are not"), std::string::npos);
}

TEST(DiagnosisRules, ATransposedIntermediateIsToldItsOwnShapeNotDWs) {
  // z2 alone column-per-sample while the others are rows: judged as given, and its hint
  // speaks of dz's layout, one row per sample.
  const Problem p = tanh_net();  // batch 6, widths 5, 4, 2
  SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
  g["z2"].tensor = transposed(*g["z2"].tensor);
  const CheckReport r = diagnosed(p, g);
  const auto z = std::find_if(r.intermediates.begin(), r.intermediates.end(), [](const auto& c) { return c.name == "z2"; });
  ASSERT_NE(z, r.intermediates.end());
  EXPECT_EQ(z->hint_kinds, std::vector<std::string>{"transposed"});
  EXPECT_EQ(z->hint, "dL/dz2 is LibTorch's transposed: dL/dz2 has one row per sample, [batch, width] = [6,4]");
}

TEST(DiagnosisRules, TheUpdateHintVouchesForIntermediatesOnlyWhenTheyWereGiven) {
  // Nielsen's η = 3 and nnfs's step -lr·dweights are named too, not only lr < 1.
  const Problem p = tanh_net();
  for (const double lr : {0.05, 3.0, -0.05}) {
    SCOPED_TRACE(lr);
    SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
    for (const auto& name : parameter_names(p.spec))
      for (double& v : g[name].tensor->values) v *= lr;
    const CheckReport with = diagnosed(p, g);
    ASSERT_FALSE(with.passed());
    EXPECT_EQ(with.parameters[0].hint_kinds, std::vector<std::string>{"update_returned"}) << with.parameters[0].hint;
    EXPECT_NE(with.parameters[0].hint.find("while dL/dz and dL/dh are right"), std::string::npos);
    for (const auto& name : intermediate_names(p.spec)) g.erase(name);
    const CheckReport without = diagnosed(p, g);
    const auto& kinds = without.parameters[0].hint_kinds;
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "update_returned"), kinds.end()) << without.parameters[0].hint;
    EXPECT_EQ(without.parameters[0].hint.find("dL/dz and dL/dh are right"), std::string::npos)
        << "nothing vouched for them: " << without.parameters[0].hint;
  }
}

TEST(DiagnosisRules, PerExampleIntermediatesBesideRightParametersAreAConventionNotAMistake) {
  // Andrew Ng's dZ = A - Y: every dz and dh N times LibTorch's, every dW and db right.
  const Problem p = tanh_net();
  SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
  for (const auto& name : intermediate_names(p.spec))
    for (double& v : g[name].tensor->values) v *= static_cast<double>(p.batch());
  const CheckReport r = diagnosed(p, g);
  EXPECT_TRUE(r.passed()) << format_report_table(r);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("dz and dh came per example, N = 6 times LibTorch's"), std::string::npos) << r.notes[0];
  // The control: with a dW wrong too it is no convention, and the intermediates fail.
  g["W1"].tensor->values[0] += 1;
  const CheckReport q = diagnosed(p, g);
  EXPECT_EQ(q.failed_count(), 1 + static_cast<int64_t>(intermediate_names(p.spec).size()));
}

TEST(DiagnosisRules, AMistakeInEveryReluLayerIsSaidToBeInEveryReluLayer) {
  // The XOR net's relu, relu, relu, sigmoid: "every layer" would include the sigmoid.
  const Problem p = testing::lab_problem(3);
  const CheckReport r = diagnosed(p, testing::student_backward(p, StudentBug::relu_mask_on_upstream, 0));
  ASSERT_FALSE(r.passed());
  for (const auto& c : r.parameters) {
    if (!c.passed) {
      EXPECT_NE(c.hint.find("in every relu layer"), std::string::npos) << c.name << ": " << c.hint;
    }
  }
}

TEST(DiagnosisRules, AnAnswerOfIntermediatesOnlyIsToldWhatIsMissing) {
  const Problem p = tanh_net();
  SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
  for (const auto& name : parameter_names(p.spec)) g.erase(name);
  const CheckReport r = diagnosed(p, g);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0].rfind("none of dW1, db1, dW2, db2, dW3, db3 is in test; it has only dh1, ", 0), 0u) << r.notes[0];
  EXPECT_EQ(diagnosed(p, {}).notes, std::vector<std::string>{"test is empty: expected dW1, db1, dW2, db2, dW3, db3, and "
                                                              "optionally dz1, dh1, dz2, dh2, ... (6 in all)"});
}

TEST(DiagnosisRules, ReportsCarryTheDiagnosis) {
  const Problem p = tanh_net();
  const CheckReport r = diagnosed(p, testing::student_backward(p, StudentBug::sign_flipped));
  const std::string table = format_report_table(r);
  EXPECT_NE(table.find("what this looks like:"), std::string::npos) << table;
  EXPECT_NE(table.find("first divergence: dL/dh3 is already wrong"), std::string::npos) << table;
  EXPECT_NE(table.find("hint (W1, b1, W2, b2, W3, b3, z1, h1, z2, h2, z3, h3): a sign is flipped"), std::string::npos)
      << table;
  const auto doc = nlohmann::json::parse(format_report_json(r));
  EXPECT_EQ(doc.at("first_divergence").at("layer"), 3);
  EXPECT_EQ(doc.at("first_divergence").at("mismatched"), nlohmann::json::array({"h3"}));
  EXPECT_TRUE(doc.at("first_divergence").at("last_match").is_null());
  const auto& w1 = doc.at("parameters")[0];
  EXPECT_EQ(w1.at("hint_kinds"), nlohmann::json::array({"loss_sign_flipped"}));
  EXPECT_DOUBLE_EQ(w1.at("signature").at("scale").get<double>(), -1.0);
}

TEST(DiagnosisRules, MistakesApplyOnlyWhereTheyCanBeMade) {
  const Problem mse = tanh_net();  // D = 2, batch 6, relu in layer 2 only
  const Problem bce = testing::make_problem({2, 3, 1}, {A::tanh, A::sigmoid}, Loss::bce, Dtype::float64, "random:1", 0);
  const auto applies = [](const Problem& p, Mistake m, int64_t layer) {
    return mistake_applies(p.spec, p.batch(), MistakeSite{m, layer, std::nullopt});
  };
  EXPECT_TRUE(applies(mse, Mistake::mse_factor_two_missing, 0));
  EXPECT_FALSE(applies(bce, Mistake::mse_factor_two_missing, 0));
  EXPECT_TRUE(applies(mse, Mistake::loss_mean_over_batch_only, 0));
  EXPECT_FALSE(applies(bce, Mistake::loss_mean_over_batch_only, 0));  // D = 1: x1 changes nothing
  EXPECT_FALSE(applies(bce, Mistake::loss_summed, 0));                // batch of 1
  EXPECT_FALSE(applies(bce, Mistake::bias_averaged, 1));
  EXPECT_TRUE(applies(bce, Mistake::bce_extra_sigmoid_derivative, 0));
  EXPECT_FALSE(applies(mse, Mistake::bce_extra_sigmoid_derivative, 0));
  EXPECT_TRUE(applies(mse, Mistake::relu_grad_one_at_zero, 2));
  EXPECT_FALSE(applies(mse, Mistake::relu_grad_one_at_zero, 1));
  EXPECT_FALSE(applies(mse, Mistake::loss_sign_flipped, 1));  // loss mistakes are not per layer
  EXPECT_FALSE(applies(mse, Mistake::derivative_of_output, 2));
  EXPECT_TRUE(applies(mse, Mistake::derivative_of_output, 3));
  // A mistake that fits one layer only is not offered "in every layer" as well.
  for (const MistakeSite& site : applicable_sites(mse.spec, mse.batch())) {
    if (site.mistake == Mistake::relu_grad_one_at_zero) {
      EXPECT_EQ(site.layer, 2);
    }
  }
}

TEST(DiagnosisRules, AHelperWrongForOneActivationIsNamedForThatActivation) {
  // The lab's sigmoid_derivative(h) in both sigmoid layers, tanh's derivative right: neither
  // "every layer" nor any one layer reproduces it, "every sigmoid layer" does. (Found by the
  // outside-in numpy matrix.)
  const Problem p = testing::make_problem({3, 4, 5, 2}, {A::sigmoid, A::tanh, A::sigmoid}, Loss::mse, Dtype::float64,
                                          "random:5", 11);
  const CheckReport r = diagnosed(p, testing::student_backward(p, StudentBug::sigmoid_derivative_of_output));
  ASSERT_FALSE(r.passed());
  for (const auto& c : r.parameters) {
    if (c.passed) continue;
    EXPECT_EQ(c.hint_kinds, std::vector<std::string>{"derivative_of_output"}) << c.name;
    EXPECT_NE(c.hint.find("in every sigmoid layer: σ'(z) = h(1 - h)"), std::string::npos) << c.hint;
  }
}

TEST(DiagnosisRules, AOneElementTensorIsNeverCalledAConstantMultiple) {
  // Any number is a multiple of any other: a 1-element db must not get constant_factor.
  const Problem p = testing::make_problem({3, 1, 4}, {A::tanh, A::identity}, Loss::mse, Dtype::float64, "random:4", 2);
  SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
  g["b1"].tensor->values[0] *= 1.7;
  const CheckReport r = diagnosed(p, g);
  ASSERT_FALSE(r.parameters[1].passed);
  EXPECT_TRUE(r.parameters[1].hint.empty()) << r.parameters[1].hint;
}

TEST(DiagnosisRules, NetsTooLargeToReplaySayWhyThereIsNoMistakeHint) {
  Problem p = testing::make_problem({1500, 1500, 1}, {A::tanh, A::identity}, Loss::mse, Dtype::float32, "random:64", 1);
  SubmittedGradients g = as_submitted(run_manual_mlp(p).gradients);
  for (auto& [name, s] : g)
    for (double& v : s.tensor->values) v = -v;
  const CheckReport r = diagnosed(p, g);
  ASSERT_FALSE(r.passed());
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("too large to replay"), std::string::npos);
  EXPECT_EQ(r.parameters[0].hint_kinds, std::vector<std::string>{"constant_factor"});  // still said per tensor
}

// ---- the catalogue as the docs print it -----------------------------------------------------------

// One example of each mistake's hint, made by planting it in a student's backward pass: the
// line README.md and docs/grading.md print for it, so what they show is what a student reads.
struct CatalogueExample {
  std::string kind;
  StudentBug bug;
  int64_t layer;
  Problem problem;
};

std::vector<CatalogueExample> catalogue_examples() {
  // N = 6 and D = 3 make every loss factor distinct: xN = 6, xD = 3, xN·D = 18, xN·D/2 = 9.
  const auto mse = [](A second) {
    return testing::make_problem({3, 5, 4, 3}, {A::tanh, second, A::identity}, Loss::mse, Dtype::float64, "random:6", 1);
  };
  Problem zeros = mse(A::relu);  // inputs of 0 with zero biases: z exactly 0 where ReLU'(0) matters
  for (int64_t i = 0; i < 3; ++i) zeros.X.values[static_cast<size_t>(i)] = 0;
  const Problem bce = testing::make_problem({3, 5, 1}, {A::tanh, A::sigmoid}, Loss::bce, Dtype::float64, "random:6", 1);
  const Problem logits =
      testing::make_problem({3, 5, 1}, {A::tanh, A::identity}, Loss::bce_with_logits, Dtype::float64, "random:6", 1);
  const Problem sigmoids =
      testing::make_problem({3, 5, 4, 1}, {A::sigmoid, A::sigmoid, A::sigmoid}, Loss::bce, Dtype::float64, "random:6", 1);
  const Problem square =
      testing::make_problem({3, 4, 4, 3}, {A::tanh, A::relu, A::identity}, Loss::mse, Dtype::float64, "random:6", 1);
  const Problem softmax =
      testing::make_problem({3, 5, 4}, {A::tanh, A::identity}, Loss::cross_entropy, Dtype::float64, "random:6", 1);
  Problem leaky =
      testing::make_problem({3, 5, 4}, {A::leaky_relu, A::identity}, Loss::cross_entropy, Dtype::float64, "random:6", 1);
  leaky.spec.negative_slope = 0.1;
  Problem huge = testing::make_problem({3, 5, 4}, {A::relu, A::identity}, Loss::cross_entropy, Dtype::float64,
                                       "random:6", 1);
  for (double& x : huge.X.values) x *= 1e4;  // logits in the thousands: an unshifted exp overflows
  Problem decayed = softmax;  // biases as after some training: at 0, decaying them changes nothing
  decayed.spec.weight_decay = 0.05;
  for (int64_t k = 1; k <= decayed.spec.num_layers(); ++k) {
    auto& b = decayed.params[bias_name(k)].values;
    for (size_t j = 0; j < b.size(); ++j) b[j] = 0.3 - 0.1 * static_cast<double>(j);
  }
  return {
      {"loss_summed", StudentBug::loss_summed_over_batch, 0, mse(A::relu)},
      {"loss_summed_over_all", StudentBug::loss_summed_over_all, 0, mse(A::relu)},
      {"loss_mean_over_batch_only", StudentBug::loss_mean_over_batch_only, 0, mse(A::relu)},
      {"loss_sign_flipped", StudentBug::sign_flipped, 0, mse(A::relu)},
      {"mse_factor_two_missing", StudentBug::mse_factor_two_missing, 0, mse(A::relu)},
      {"mse_factor_two_doubled", StudentBug::mse_factor_two_doubled, 0, mse(A::relu)},
      {"mse_half_summed", StudentBug::mse_half_summed, 0, mse(A::relu)},
      {"bce_extra_sigmoid_derivative", StudentBug::bce_extra_sigmoid_derivative, 0, bce},
      {"logits_extra_sigmoid_derivative", StudentBug::logits_extra_sigmoid_derivative, 0, logits},
      {"bias_averaged", StudentBug::bias_averaged, 2, mse(A::relu)},
      {"bias_first_row", StudentBug::bias_row_not_summed, 2, mse(A::relu)},
      {"bias_per_sample", StudentBug::bias_full_batch, 2, mse(A::relu)},
      {"batch_mean_twice", StudentBug::batch_mean_twice, 0, mse(A::relu)},
      {"update_returned", StudentBug::update_returned, 0, mse(A::relu)},
      {"relu_grad_one_at_zero", StudentBug::relu_grad_one_at_zero, 2, zeros},
      {"relu_mask_on_upstream", StudentBug::relu_mask_on_upstream, 2, mse(A::relu)},
      {"derivative_of_output", StudentBug::derivative_of_output, 2, mse(A::sigmoid)},
      {"derivative_of_output", StudentBug::derivative_of_output_hidden_only, 0, sigmoids},
      {"derivative_formula_on_z", StudentBug::derivative_formula_on_z, 1, mse(A::relu)},
      {"activation_derivative_forgotten", StudentBug::activation_derivative_forgotten, 2, mse(A::relu)},
      {"input_gradient_untransposed", StudentBug::dh_untransposed, 2, square},
      {"all_zero", StudentBug::gradient_left_zero, 1, mse(A::relu)},
      {"nonfinite", StudentBug::nan_entry, 1, mse(A::relu)},
      {"transposed", StudentBug::transposed_weight, 1, mse(A::relu)},
      {"softmax_onehot_not_subtracted", StudentBug::softmax_onehot_not_subtracted, 0, softmax},
      {"softmax_jacobian_after_fused", StudentBug::softmax_jacobian_after_fused, 0, softmax},
      {"softmax_without_max_shift", StudentBug::softmax_without_max_shift, 0, huge},
      {"weight_decay_on_biases", StudentBug::weight_decay_on_biases, 0, decayed},
      {"weight_decay_doubled", StudentBug::weight_decay_doubled, 0, decayed},
      {"weight_decay_halved", StudentBug::weight_decay_halved, 0, decayed},
      {"leaky_slope_forgotten", StudentBug::leaky_slope_forgotten, 0, leaky},
      {"weight_decay_forgotten", StudentBug::weight_decay_forgotten, 0, decayed},
      {"cross_entropy_mean_over_classes", StudentBug::cross_entropy_mean_over_classes, 0, softmax},
      {"precision", StudentBug::float32_arithmetic, 0, mse(A::tanh)},
  };
}

std::string read_source(const std::string& path) {
  std::ifstream in(std::string(GRADVERIFY_SOURCE_DIR) + "/" + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(DiagnosisCatalogue, EachMistakesExampleLineIsTheOneTheDocsPrint) {
  const std::string readme = read_source("README.md"), grading = read_source("docs/grading.md");
  ASSERT_FALSE(readme.empty());
  ASSERT_FALSE(grading.empty());
  std::set<std::string> kinds;
  for (const auto& example : catalogue_examples()) {
    SCOPED_TRACE(example.kind + " from " + testing::to_string(example.bug));
    const CheckReport r = diagnosed(example.problem, testing::student_backward(example.problem, example.bug, example.layer));
    const TensorComparison* failing = nullptr;
    for (const auto* group : {&r.parameters, &r.intermediates})
      for (const auto& c : *group)
        if (!c.passed && !failing) failing = &c;
    ASSERT_NE(failing, nullptr) << "the bug changed nothing here";
    EXPECT_EQ(failing->hint_kinds, std::vector<std::string>{example.kind}) << failing->hint;
    kinds.insert(example.kind);
    const std::string line = "`" + example.kind + "` | " + failing->hint + " |";
    EXPECT_NE(readme.find(line), std::string::npos) << "README.md lacks\n" << line;
    EXPECT_NE(grading.find(line), std::string::npos) << "docs/grading.md lacks\n" << line;
  }
  // Every mistake of the catalogue has its example.
  for (int m = 0; m <= static_cast<int>(kLastMistake); ++m)
    EXPECT_TRUE(kinds.count(to_string(static_cast<Mistake>(m)))) << to_string(static_cast<Mistake>(m));
}

// ---- single ops: the same engine ------------------------------------------------------------

bool names(const TensorComparison& c, Mistake m) {
  return std::find(c.hint_kinds.begin(), c.hint_kinds.end(), to_string(m)) != c.hint_kinds.end();
}

class OpHints : public ::testing::TestWithParam<std::tuple<Op, Dtype>> {};

TEST_P(OpHints, EachReplayedMistakeIsNamedTheRightAnswerAndNoiseAreNot) {
  const auto [op, dtype] = GetParam();
  const Tolerances tol = default_tolerances(dtype);
  int named = 0;
  for (const uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(::testing::Message() << to_string(op) << " " << to_string(dtype) << " seed " << seed);
    const OpCase c = generate_op_case(op, 4, 3, 2, dtype, seed);
    const TensorMap reference = manual_op_gradients(c);
    for (const auto& t : check_op_gradients(c, as_submitted(reference), reference, tol)) {
      EXPECT_TRUE(t.passed) << t.name;
      EXPECT_TRUE(t.hint.empty() && t.hint_kinds.empty()) << t.name << ": " << t.hint;
    }
    for (const Mistake m : op_mistakes(c)) {
      const auto tensors = check_op_gradients(c, as_submitted(replay_op_mistake(c, m)), reference, tol);
      const bool changed = std::any_of(tensors.begin(), tensors.end(), [](const auto& t) { return !t.passed; });
      if (!changed) continue;  // ReLU'(0) on a case with no z exactly 0, say
      ++named;
      for (const auto& t : tensors) {
        if (!t.passed) {
          EXPECT_TRUE(names(t, m)) << to_string(m) << " in " << t.name << ": " << t.hint;
        }
      }
    }
    // Noise on one element is no mistake of the catalogue.
    TensorMap noisy = reference;
    Tensor& first = noisy.begin()->second;
    first.values[0] = first.values[0] * 1.5 + 0.25;
    for (const auto& t : check_op_gradients(c, as_submitted(noisy), reference, tol)) {
      if (t.passed) continue;
      for (const Mistake m : op_mistakes(c)) EXPECT_FALSE(names(t, m)) << t.name << ": " << t.hint;
    }
  }
  if (!op_mistakes(generate_op_case(op, 4, 3, 2, dtype, 1)).empty()) {
    EXPECT_GT(named, 0) << "no mistake was ever named";
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpHints,
                         ::testing::Combine(::testing::ValuesIn(all_ops()),
                                            ::testing::Values(Dtype::float64, Dtype::float32)),
                         [](const auto& test_info) {
                           return std::string(to_string(std::get<0>(test_info.param))) + "_" +
                                  to_string(std::get<1>(test_info.param));
                         });

TEST(OpHintRules, ABceGradientTwiceTooLargeIsNotCalledTheSquaredErrorsFactorTwo) {
  // The squared error's 2 exists only in mse: a BCE dpred x2 (batch 4, so not x N) is a
  // constant factor, nothing more.
  for (const Op op : {Op::bce, Op::bce_with_logits}) {
    const OpCase c = generate_op_case(op, 4, 3, 2, Dtype::float64, 5);
    const TensorMap reference = manual_op_gradients(c);
    TensorMap doubled = reference;
    for (double& v : doubled.at("dpred").values) v *= 2;
    const auto t = check_op_gradients(c, as_submitted(doubled), reference, default_tolerances(Dtype::float64));
    ASSERT_FALSE(t[0].passed);
    EXPECT_EQ(t[0].hint_kinds, std::vector<std::string>{"constant_factor"}) << t[0].hint;
  }
}

TEST(OpHintRules, ABiasLeftPerSampleAndATransposedWeightAreNamedForLinear) {
  const OpCase c = generate_op_case(Op::linear, 4, 3, 2, Dtype::float64, 6);
  const TensorMap reference = manual_op_gradients(c);
  SubmittedGradients answer = as_submitted(reference);
  answer["db"].tensor = c.inputs.at("dz");  // [4, 2]: not summed over the batch
  answer["dW"].tensor = transposed(reference.at("dW"));  // [3, 2] -> [2, 3]
  const auto t = check_op_gradients(c, answer, reference, default_tolerances(Dtype::float64));
  EXPECT_EQ(t[0].hint_kinds, std::vector<std::string>{"transposed"}) << t[0].hint;
  EXPECT_NE(t[0].hint.find("dW = xᵀ·dz has shape [in, out] = [3,2]"), std::string::npos) << t[0].hint;
  EXPECT_EQ(t[1].hint_kinds, std::vector<std::string>{"bias_per_sample"}) << t[1].hint;
  EXPECT_TRUE(t[2].passed);
  // The table shows both under one layout with the net's columns.
  const std::string table = format_comparison_table(t);
  EXPECT_NE(table.find("under test"), std::string::npos) << table;
  EXPECT_NE(table.find("hint (db): db has one row per sample"), std::string::npos) << table;
}

TEST(OpHintRules, AnUntouchedBufferIsNotCalledAMistakeWhoseReplayIsTooSmallToTellFromZero) {
  // float32 linear with dz of 1e-7: db = 4e-7 is above atol_abs, but db averaged over the
  // batch, 1e-7, is within it of zero. A db never written must be called that, not "averaged".
  OpCase c = generate_op_case(Op::linear, 4, 3, 2, Dtype::float32, 7);
  for (double& v : c.inputs.at("dz").values) v = round_to(Dtype::float32, 1e-7);
  const TensorMap reference = manual_op_gradients(c);
  SubmittedGradients answer = as_submitted(reference);
  for (double& v : answer["db"].tensor->values) v = 0;
  const auto t = check_op_gradients(c, answer, reference, default_tolerances(Dtype::float32));
  ASSERT_FALSE(t[1].passed);
  EXPECT_EQ(t[1].hint_kinds, std::vector<std::string>{"all_zero"}) << t[1].hint;
  // The control: the same db really averaged, on a dz large enough to tell, is named.
  const OpCase d = generate_op_case(Op::linear, 4, 3, 2, Dtype::float32, 7);
  const auto u = check_op_gradients(d, as_submitted(replay_op_mistake(d, Mistake::bias_averaged)),
                                    manual_op_gradients(d), default_tolerances(Dtype::float32));
  EXPECT_EQ(u[1].hint_kinds, std::vector<std::string>{"bias_averaged"}) << u[1].hint;
}

TEST(OpHintRules, OpFeedbackCountsTheDifferingElementsAndNamesWhatIsMissing) {
  const OpCase c = generate_op_case(Op::linear, 4, 3, 2, Dtype::float64, 6);
  const TensorMap reference = manual_op_gradients(c);
  SubmittedGradients answer = as_submitted(reference);
  answer.erase("dx");
  answer["dW"].tensor->values[1] += 1;
  const std::string table = format_comparison_table(check_op_gradients(c, answer, reference, default_tolerances(Dtype::float64)));
  EXPECT_NE(table.find("FAIL: 1 of 3 gradients differs from LibTorch: dW (1 of 6 elements); dx is not in your answer"),
            std::string::npos)
      << table;
}

// A student's op answer with one mistake, written here from the op's inputs alone, apart from
// the replays (mistakes.cpp) that must recognise it.
TensorMap planted_in_op(const OpCase& c, Mistake m) {
  TensorMap out = manual_op_gradients(c);
  const auto& in = c.inputs;
  const auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  for (size_t i = 0; out.count("dz") && i < out.at("dz").values.size(); ++i) {
    const double z = in.at("z").values[i], dh = in.at("dh").values[i];
    double& dz = out.at("dz").values[i];
    if (m == Mistake::relu_mask_on_upstream) dz = dh > 0 ? dh : 0;
    if (m == Mistake::derivative_formula_on_z) dz = c.op == Op::tanh ? dh * (1 - z * z) : dh * z * (1 - z);
  }
  if (c.op == Op::linear) {
    const Tensor &dz = in.at("dz"), &W = in.at("W");
    const int64_t N = dz.shape[0], n = W.shape[0], o = W.shape[1];
    if (m == Mistake::input_gradient_untransposed)  // dx = dz·W, W square
      for (int64_t r = 0; r < N; ++r)
        for (int64_t a = 0; a < n; ++a) {
          double sum = 0;
          for (int64_t j = 0; j < o; ++j) sum += dz.values[static_cast<size_t>(r * o + j)] * W.values[static_cast<size_t>(j * n + a)];
          out.at("dx").values[static_cast<size_t>(r * n + a)] = sum;
        }
    if (m == Mistake::batch_mean_twice)
      for (const char* name : {"dW", "db"})
        for (double& v : out.at(name).values) v /= static_cast<double>(N);
  }
  if (out.count("dpred")) {
    const Tensor &pred = in.at("pred"), &y = in.at("y");
    for (size_t i = 0; i < pred.values.size(); ++i) {
      double& d = out.at("dpred").values[i];
      if (m == Mistake::logits_extra_sigmoid_derivative) d *= sigmoid(pred.values[i]) * (1 - sigmoid(pred.values[i]));
      if (m == Mistake::mse_half_summed) d = pred.values[i] - y.values[i];  // d/dŷ of ½‖ŷ - y‖², summed
    }
  }
  for (auto& [name, t] : out)
    for (double& v : t.values) v = round_to(c.dtype, v);
  return out;
}

TEST(OpHintRules, TheNewCatalogueMistakesAreNamedOnOps) {
  // Each where the op can show it: the mask on dh for ReLU, the z formula for tanh and
  // sigmoid, the extra σ' for BCE with logits, dz·W for a square linear, the batch mean twice,
  // ½‖ŷ - y‖² summed.
  const std::vector<std::pair<OpCase, Mistake>> cases = {
      {generate_op_case(Op::relu, 4, 3, 3, Dtype::float64, 2), Mistake::relu_mask_on_upstream},
      {generate_op_case(Op::tanh, 4, 3, 3, Dtype::float64, 2), Mistake::derivative_formula_on_z},
      {generate_op_case(Op::sigmoid, 4, 3, 3, Dtype::float32, 2), Mistake::derivative_formula_on_z},
      {generate_op_case(Op::bce_with_logits, 4, 3, 3, Dtype::float64, 2), Mistake::logits_extra_sigmoid_derivative},
      {generate_op_case(Op::linear, 4, 3, 3, Dtype::float64, 2), Mistake::input_gradient_untransposed},
      {generate_op_case(Op::linear, 4, 3, 2, Dtype::float64, 2), Mistake::batch_mean_twice},
      {generate_op_case(Op::mse, 4, 3, 3, Dtype::float64, 2), Mistake::mse_half_summed},
  };
  for (const auto& [c, m] : cases) {
    SCOPED_TRACE(std::string(to_string(c.op)) + ": " + to_string(m));
    const TensorMap reference = manual_op_gradients(c);
    const auto tensors = check_op_gradients(c, as_submitted(planted_in_op(c, m)), reference, default_tolerances(c.dtype));
    int failing = 0;
    for (const auto& t : tensors) {
      if (t.passed) continue;
      ++failing;
      EXPECT_TRUE(names(t, m)) << t.name << ": " << t.hint;
    }
    EXPECT_GT(failing, 0);
  }
}

TEST(OpHintRules, OneNumberNamesNoMistake) {
  // A batch of one with one output: -1 times LibTorch's dpred is also every factor's multiple,
  // so neither a replay nor the constant-factor rule may name anything.
  for (const Op op : {Op::mse, Op::bce, Op::bce_with_logits}) {
    const OpCase c = generate_op_case(op, 1, 1, 1, Dtype::float64, 3);
    const TensorMap reference = manual_op_gradients(c);
    TensorMap flipped = reference;
    for (double& v : flipped.at("dpred").values) v = -v;
    const auto t = check_op_gradients(c, as_submitted(flipped), reference, default_tolerances(Dtype::float64));
    ASSERT_FALSE(t[0].passed) << to_string(op);
    EXPECT_TRUE(t[0].hint_kinds.empty()) << to_string(op) << ": " << t[0].hint;
  }
  // The control: with two numbers the flipped sign is named.
  const OpCase c = generate_op_case(Op::mse, 2, 1, 1, Dtype::float64, 3);
  TensorMap flipped = manual_op_gradients(c);
  for (double& v : flipped.at("dpred").values) v = -v;
  const auto t = check_op_gradients(c, as_submitted(flipped), manual_op_gradients(c), default_tolerances(Dtype::float64));
  EXPECT_EQ(t[0].hint_kinds, std::vector<std::string>{"loss_sign_flipped"}) << t[0].hint;
}

}  // namespace
}  // namespace gradverify
