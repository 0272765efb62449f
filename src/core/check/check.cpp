#include "gradverify/check/check.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>

#include "gradverify/check/diagnosis.h"
#include "gradverify/problem/manual_mlp.h"

namespace gradverify {
namespace {

std::string ignored_key_note(const std::string& key, const std::string& source) {
  return "ignored '" + key + "' in " + source + ": it names no gradient of this net (expected dW1, db1, ..., dz1, dh1, ...)";
}

// A hint from one op tensor's numbers: the mistakes an op's backward is known for.
std::string op_hint(const OpCase& op_case, const Tolerances& tol, const TensorComparison& c,
                    const SubmittedGradient& actual, const Tensor& reference) {
  if (!actual.tensor || c.passed) return "";
  const Tensor& a = *actual.tensor;
  for (double v : a.values)
    if (!std::isfinite(v)) return "some entries are NaN or Inf: a log(0), a division by 0, or an entry never written";
  if (c.shape_mismatch) {
    if (a.shape.size() == 2 && reference.shape.size() == 2 && a.shape[0] == reference.shape[1] &&
        a.shape[1] == reference.shape[0])
      return "the shape is transposed: " + c.name + " has the shape of the variable it differentiates, " +
             shape_to_string(reference.shape);
    if (c.name == "db" && a.shape.size() == 2 && reference.shape.size() == 1)
      return "db has one row per sample: it must be summed over the batch, dz.sum(axis=0)";
    return "";
  }
  bool all_zero = true;
  for (double v : a.values) all_zero = all_zero && v == 0;
  if (all_zero) return "every entry is 0: the gradient was never computed";
  const auto matches = [&](const std::function<double(size_t)>& wrong) {
    Tensor t = reference;
    for (size_t i = 0; i < t.values.size(); ++i) t.values[i] = wrong(i);
    return compare_tensor("", actual, t, tol).passed;
  };
  const auto& in = op_case.inputs;
  if (op_case.op == Op::relu) {
    const auto &z = in.at("z").values, &dh = in.at("dh").values;
    if (matches([&](size_t i) { return z[i] >= 0 ? dh[i] : 0.0; }))
      return "differs only where z = 0: ReLU'(0) must be 0 (torch's convention), use z > 0, not z >= 0";
  }
  if (op_case.op == Op::sigmoid) {
    const auto &z = in.at("z").values, &dh = in.at("dh").values;
    const auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
    if (matches([&](size_t i) { const double s = sig(sig(z[i])); return dh[i] * s * (1 - s); }))
      return "sigmoid's derivative was taken at sigmoid(z) instead of z: σ'(z) = σ(z)(1 − σ(z))";
  }
  if (op_case.op == Op::relu || op_case.op == Op::sigmoid || op_case.op == Op::tanh) {
    const auto& dh = in.at("dh").values;
    if (matches([&](size_t i) { return dh[i]; })) return "dz equals dh: the activation's derivative was left out";
  }
  double ab = 0, bb = 0;
  for (size_t i = 0; i < a.values.size(); ++i) ab += a.values[i] * reference.values[i], bb += reference.values[i] * reference.values[i];
  const double scale = bb > 0 ? ab / bb : 0;
  if (std::fabs(scale) < 1e-9 || !matches([&](size_t i) { return scale * reference.values[i]; })) return "";
  const double batch = static_cast<double>(reference.shape.empty() ? 1 : reference.shape[0]);
  const double count = static_cast<double>(reference.values.size());
  const auto near = [&](double x) { return std::fabs(scale - x) <= 1e-6 * std::fabs(x); };
  if (near(-1)) return "the sign is flipped: every entry is −1 times LibTorch's";
  if (near(2) || near(0.5)) return fmt::format("every entry is {:g} times LibTorch's: the factor 2 of the squared error", scale);
  if (op_loss(op_case.op)) {
    if (near(count)) return "every entry is N·D times LibTorch's: the loss was summed, not averaged over all elements";
    if (near(count / batch) && count != batch) return "averaged over the batch only: the mean runs over every element";
  }
  if (c.name == "db" && near(1 / batch)) return "db was averaged over the batch: it must be summed";
  return fmt::format("every entry is {:.6g} times LibTorch's: a constant factor is wrong", scale);
}

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
  if (actual_loss) {
    const double a = *actual_loss, b = reference_loss;
    r.loss_passed = std::isfinite(a) && std::isfinite(b) &&
                    std::fabs(a - b) <= tol.atol_for_scale(std::fabs(b)) + tol.rtol * std::fabs(b);
  }
  const SubmittedGradient absent{};
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

}  // namespace

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

CheckReport check_gradients(const Problem& problem, const GradientsUnderTest& under_test,
                            const ReferenceResult& reference, const GradientCheckOptions& options) {
  const Tolerances tol = options.tolerances.value_or(default_tolerances(problem.spec.dtype));
  // Refused before any work when per-element differences would take too long.
  const FiniteDifferenceMode fd_mode =
      resolve_finite_difference_mode(problem, options.finite_differences, options.force_finite_differences);

  CheckReport report = build_report(problem, reference.gradients, reference.loss, under_test.gradients,
                                    under_test.loss, under_test.source, tol);
  diagnose(report, problem, under_test.gradients, reference.gradients);
  for (const auto& key : under_test.ignored_keys) report.notes.push_back(ignored_key_note(key, under_test.source));
  report.reference_prediction = reference.prediction;
  if (fd_mode != FiniteDifferenceMode::off) {
    const TensorMap actual = present_tensors(under_test.gradients);
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
        it != answer.end() ? it->second : SubmittedGradient{std::nullopt, "missing: the answer has no \"" + name + "\""};
    TensorComparison c = compare_tensor(name, submitted, reference.at(name), tolerances);
    c.hint = op_hint(op_case, tolerances, c, submitted, reference.at(name));
    tensors.push_back(std::move(c));
  }
  return tensors;
}

}  // namespace gradverify
