#include "gradverify/check/check.h"

#include <cmath>

#include "gradverify/check/answer_reading.h"
#include "gradverify/check/diagnosis.h"
#include "gradverify/net/kernels.h"
#include "gradverify/problem/manual_mlp.h"

namespace gradverify {
namespace {

std::vector<std::string> keys_of(const std::vector<std::string>& names) {
  std::vector<std::string> keys;
  for (const auto& name : names) keys.push_back(gradient_key(name));
  return keys;
}

}  // namespace

// Declared, deprecated, in the forwarding gradverify/compare.h only; check_gradients uses it.
// Every parameter of the spec is compared (an absent one fails as missing); an intermediate
// only when the side under test provides it.
CheckReport build_report(const Problem& problem, const TensorMap& reference_gradients, double reference_loss,
                         const SubmittedGradients& actual, std::optional<double> actual_loss,
                         const std::string& actual_source, const Tolerances& tol) {
  CheckReport r;
  r.spec = problem.spec;
  r.batch = problem.batch();
  r.data_description = problem.data_description;
  r.actual_source = actual_source;
  r.tolerances = tol;
  r.reference_loss = reference_loss;
  r.actual_loss = actual_loss;
  if (problem.spec.weight_decay > 0)
    for (int64_t k = 1; k <= problem.spec.num_layers(); ++k) {
      const Tensor& W = problem.params.at(weight_name(k));
      r.weight_penalty += kernels::l2_penalty_forward(W.values.data(), W.numel(), problem.spec.weight_decay);
    }
  if (actual_loss) {
    r.loss_passed = tol.element_passes(*actual_loss, reference_loss, tol.atol_for_scale(std::fabs(reference_loss)));
  }
  const SubmittedGradient absent{std::nullopt, "not in " + actual_source, false};
  for (const auto& name : parameter_names(problem.spec)) {
    const auto it = actual.find(name);
    r.parameters.push_back(compare_tensor(name, it == actual.end() ? absent : it->second, reference_gradients.at(name), tol));
  }
  for (const auto& name : intermediate_names(problem.spec)) {
    const auto it = actual.find(name);
    if (it != actual.end()) r.intermediates.push_back(compare_tensor(name, it->second, reference_gradients.at(name), tol));
  }
  r.dead_relu_units = dead_relu_units(problem);
  return r;
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass: return "pass";
    case Verdict::fail: return "fail";
    case Verdict::vacuous: return "vacuous";
  }
  return "?";
}

bool CheckReport::passed() const { return loss_passed && failed_count() == 0; }

int64_t CheckReport::failed_count() const {
  int64_t n = 0;
  for (const auto* group : {&parameters, &intermediates})
    for (const auto& c : *group) n += c.passed ? 0 : 1;
  return n;
}

int64_t CheckReport::vacuous_count() const {
  int64_t n = 0;
  for (const auto* group : {&parameters, &intermediates})
    for (const auto& c : *group) n += c.vacuous ? 1 : 0;
  return n;
}

Verdict CheckReport::verdict() const {
  if (!passed()) return Verdict::fail;
  return vacuous_count() > 0 ? Verdict::vacuous : Verdict::pass;
}

GradientsUnderTest manual_mlp_under_test(const ManualResult& manual) {
  return {as_submitted(manual.gradients), "manual MLP", manual.loss, {}};
}

CheckReport check_gradients(const Problem& problem, const GradientsUnderTest& under_test,
                            const ReferenceResult& reference, const GradientCheckOptions& options) {
  const Tolerances tol = options.tolerances.value_or(default_tolerances(problem.spec.dtype));
  // Refused before any work when per-element differences would take too long.
  const FiniteDifferenceMode fd_mode =
      resolve_finite_difference_mode(problem, options.finite_differences, options.force_finite_differences);

  const AnswerReading answer =
      read_answer_layouts(under_test.gradients, problem, reference.gradients, tol);
  CheckReport report = build_report(problem, reference.gradients, reference.loss, answer.gradients, under_test.loss,
                                    under_test.source, tol);
  diagnose(report, problem, answer.gradients, reference.gradients);
  report.notes.insert(report.notes.end(), answer.notes.begin(), answer.notes.end());
  std::vector<std::string> present;
  for (const auto& [name, gradient] : answer.gradients) present.push_back(gradient_key(name));
  const std::string keys_note =
      unknown_keys_note(under_test.ignored_keys,
                        {keys_of(parameter_names(problem.spec)), keys_of(intermediate_names(problem.spec))}, present,
                        under_test.source);
  if (!keys_note.empty()) report.notes.push_back(keys_note);
  report.reference_prediction = reference.prediction;
  if (fd_mode != FiniteDifferenceMode::off) {
    const TensorMap actual = present_tensors(answer.gradients);
    report.finite_differences = run_finite_differences(problem, reference.gradients, &actual, tol, fd_mode,
                                                       options.seed, options.force_finite_differences);
  }
  return report;
}

std::vector<TensorComparison> check_op_gradients(const OpCase& op_case, const SubmittedGradients& answer,
                                                 const TensorMap& reference, const Tolerances& tolerances) {
  std::vector<TensorComparison> tensors;
  for (const auto& name : op_answer_names(op_case.op)) {
    const auto it = answer.find(name);
    const SubmittedGradient submitted =
        it != answer.end() ? it->second : SubmittedGradient{std::nullopt, "not in your answer", false};
    tensors.push_back(compare_tensor(name, submitted, reference.at(name), tolerances));
  }
  diagnose_op(tensors, op_case, answer, reference, tolerances);
  return tensors;
}

}  // namespace gradverify
