#include "lab_commands.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "gradverify/check/compare.h"
#include "gradverify/errors.h"
#include "gradverify/net/kernels.h"
#include "gradverify/net/mlp.h"
#include "gradverify/problem/problem.h"
#include "gradverify/torch/reference.h"
#include "net_options.h"
#include "output.h"
#include "torch_backend.h"
#include "usage.h"

namespace gradverify::cli {
namespace {

// ---- what the lab's commands share: the dtype, the report's form, and the checks' verdicts --

void add_report_options(CLI::App* cmd, std::string& dtype, std::string& format, std::string& output_path) {
  cmd->add_option("--dtype", dtype, "float64 or float32, for both sides")
      ->capture_default_str()
      ->check(one_of({"float64", "float32"}));
  cmd->add_option("--format", format, "table or json")->capture_default_str()->check(one_of({"table", "json"}));
  cmd->add_option("--output,-o", output_path, "Write the report to this file instead of stdout");
}

std::string verdict_word(const TensorComparison& c) { return !c.passed ? "FAIL" : c.vacuous ? "VACUOUS" : "ok"; }

// Tensor comparisons, then the check of a loss's value (which has no per-element table). As a
// whole check: any failure fails it, and otherwise any vacuous tensor (all zeros on both sides
// proves nothing) makes it vacuous, never a pass.
struct LabChecks {
  std::vector<const TensorComparison*> tensors;
  std::string loss_name;
  bool loss_passed = false;

  Verdict verdict() const {
    bool failed = !loss_passed, vacuous = false;
    for (const auto* c : tensors) failed = failed || !c->passed, vacuous = vacuous || c->vacuous;
    return failed ? Verdict::fail : vacuous ? Verdict::vacuous : Verdict::pass;
  }
  nlohmann::json to_json(const std::string& loss_json_name) const {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto* c : tensors)
      checks.push_back(
          {{"name", c->name}, {"passed", c->passed}, {"vacuous", c->vacuous}, {"max_abs_diff", c->max_abs_diff}});
    checks.push_back({{"name", loss_json_name}, {"passed", loss_passed}});
    return checks;
  }
  std::string table(const std::string& dtype, const Tolerances& tol) const {
    std::string out = fmt::format("Checks ({} on every side; pass if |a - b| <= atol + {:g}·|b|, atol {:g} + {:g}·max|b|):\n",
                                  dtype, tol.rtol, tol.atol_abs, tol.atol_scale);
    for (const auto* c : tensors)
      out += fmt::format("  {:<36} max |diff| {:>9.3e}  {}\n", c->name, c->max_abs_diff, verdict_word(*c));
    out += fmt::format("  {:<36} {:>20}  {}\n\n", loss_name, "", loss_passed ? "ok" : "FAIL");
    return out;
  }
};

}  // namespace

// ---- neuron: Solution 1 --------------------------------------------------------------------

void add_neuron_command(CLI::App& app, NeuronOptions& o) {
  CLI::App* cmd = app.add_subcommand("neuron", "The lab's single neuron, forward and backward step by step, "
                                               "verified against LibTorch");
  cmd->footer(R"(
One neuron, ŷ = act(w·x + b), with the squared error L = (ŷ - y)², the lab's Solution 1.
Every step is computed by gradverify's manual kernels and printed with its value; then
∂L/∂w and ∂L/∂b are checked against LibTorch autograd in the same dtype, with check's pass
condition. (The notebook compares a float64 result with float32 PyTorch and prints its tick
whatever the numbers.) A dead neuron (z <= 0 under ReLU) has both gradients exactly 0, so
the check is reported VACUOUS, not passed.

Exit status: 0 verified, 1 a mismatch, 2 a usage or input error, 3 vacuous.

Examples:
  gradverify neuron
  gradverify neuron --w -1            # a dead ReLU: vacuous
  gradverify neuron --activation sigmoid --dtype float32)");
  cmd->add_option("--x", o.x, "Input")->capture_default_str();
  cmd->add_option("--y", o.y, "Target")->capture_default_str();
  cmd->add_option("--w", o.w, "Weight")->capture_default_str();
  cmd->add_option("--b", o.b, "Bias")->capture_default_str();
  cmd->add_option("--activation", o.activation, "relu, sigmoid, tanh or identity")
      ->capture_default_str()
      ->check(one_of({"relu", "sigmoid", "tanh", "identity"}));
  add_report_options(cmd, o.dtype, o.format, o.output_path);
}

namespace {

// A scalar as the lab prints it: short, but every digit that matters.
std::string num(double v) { return fmt::format("{:.10g}", v); }

// A 1-in, 1-out problem: the neuron (or each logit of bce) as the manual MLP and twin see it.
Problem scalar_problem(Activation act, Loss loss, Dtype dtype, const Tensor& X, const Tensor& y, double w, double b) {
  Problem p;
  p.spec = MlpSpec{{1, 1}, {act}, loss, dtype};
  p.params = {{"W1", Tensor{{1, 1}, {w}}}, {"b1", Tensor{{1}, {b}}}};
  p.X = X;
  p.y = y;
  p.data_description = "command line";
  return p;
}

struct NeuronSteps {
  double z = 0, y_hat = 0, loss = 0, dL_dyhat = 0, dyhat_dz = 0, dL_dw = 0, dL_db = 0;
};

template <typename T>
NeuronSteps neuron_steps(const Problem& p) {
  const MlpParams<T> params = params_from_tensors<T>(p.spec, p.params);
  MlpForwardCache<T> cache;
  MlpGradients<T> grads;
  NeuronSteps s;
  s.loss = static_cast<double>(mlp_forward(cache, p.spec, params, to_matrix<T>(p.X), to_matrix<T>(p.y)));
  mlp_backward(grads, cache, p.spec, params);
  s.z = static_cast<double>(cache.z[0].data[0]);
  s.y_hat = static_cast<double>(cache.h[0].data[0]);
  s.dL_dyhat = static_cast<double>(grads.dh[0].data[0]);
  // act'(z): the activation's backward applied to an upstream gradient of 1.
  const T one = T(1);
  T derivative = T(0);
  kernels::activation_backward(p.spec.activation(1), &derivative, &one, cache.h[0].data.data(), 1, p.spec.negative_slope);
  s.dyhat_dz = static_cast<double>(derivative);
  s.dL_dw = static_cast<double>(grads.params.W[0].data[0]);
  s.dL_db = static_cast<double>(grads.params.b[0].data[0]);
  return s;
}

}  // namespace

int run_neuron(const NeuronOptions& o) {
  require_writable_file(o.output_path);
  const Activation act = *parse_activation(o.activation);
  const Dtype dtype = *parse_dtype(o.dtype);
  const Problem p = scalar_problem(act, Loss::mse, dtype, Tensor{{1, 1}, {o.x}}, Tensor{{1, 1}, {o.y}}, o.w, o.b);
  validate_problem(p, "command line");  // finite, and within float32's range for float32
  const NeuronSteps s = dtype == Dtype::float32 ? neuron_steps<float>(p) : neuron_steps<double>(p);

  const ReferenceResult reference = torch_backend().compute_reference(p);
  const Tolerances tol = default_tolerances(dtype);
  const TensorComparison w = compare_tensor("w", SubmittedGradient{Tensor{{1, 1}, {s.dL_dw}}, ""}, reference.gradients.at("W1"), tol);
  const TensorComparison b = compare_tensor("b", SubmittedGradient{Tensor{{1}, {s.dL_db}}, ""}, reference.gradients.at("b1"), tol);
  const Verdict verdict = !w.passed || !b.passed ? Verdict::fail : (w.vacuous && b.vacuous) ? Verdict::vacuous : Verdict::pass;

  if (o.format == "json") {
    nlohmann::json doc = {{"x", o.x}, {"y", o.y}, {"w", o.w}, {"b", o.b}, {"activation", o.activation},
                          {"dtype", o.dtype}, {"z", s.z}, {"y_hat", s.y_hat}, {"loss", s.loss},
                          {"dL_dy_hat", s.dL_dyhat}, {"dy_hat_dz", s.dyhat_dz}, {"dL_dw", s.dL_dw}, {"dL_db", s.dL_db},
                          {"libtorch", {{"loss", reference.loss},
                                        {"dL_dw", reference.gradients.at("W1").values[0]},
                                        {"dL_db", reference.gradients.at("b1").values[0]}}},
                          {"verdict", to_string(verdict)}};
    write_output(doc.dump(1) + "\n", o.output_path, written_to(to_string(verdict), o.output_path));
    return exit_code(verdict);
  }
  const std::string a = o.activation;
  std::string out = fmt::format("gradverify neuron: ŷ = {}(w·x + b), L = (ŷ - y)², {}\n\n", a, o.dtype);
  out += "Forward pass:\n";
  out += fmt::format("  z = w·x + b = {}·{} + {} = {}\n", num(o.w), num(o.x), num(o.b), num(s.z));
  out += fmt::format("  ŷ = {}(z) = {}({}) = {}\n", a, a, num(s.z), num(s.y_hat));
  out += fmt::format("  L = (ŷ - y)² = ({} - {})² = {}\n\n", num(s.y_hat), num(o.y), num(s.loss));
  out += "Backward pass:\n";
  out += fmt::format("  ∂L/∂ŷ = 2(ŷ - y) = 2({} - {}) = {}\n", num(s.y_hat), num(o.y), num(s.dL_dyhat));
  out += fmt::format("  ∂ŷ/∂z = {}'(z) = {}'({}) = {}{}\n", a, a, num(s.z), num(s.dyhat_dz),
                     act == Activation::relu ? "   (1 if z > 0, else 0; 0 at z = 0, as torch)" : "");
  out += fmt::format("  ∂z/∂w = x = {}\n", num(o.x));
  out += "  ∂z/∂b = 1\n";
  out += fmt::format("  ∂L/∂w = ∂L/∂ŷ · ∂ŷ/∂z · ∂z/∂w = {} × {} × {} = {}\n", num(s.dL_dyhat), num(s.dyhat_dz), num(o.x),
                     num(s.dL_dw));
  out += fmt::format("  ∂L/∂b = ∂L/∂ŷ · ∂ŷ/∂z · ∂z/∂b = {} × {} × 1 = {}\n\n", num(s.dL_dyhat), num(s.dyhat_dz),
                     num(s.dL_db));
  out += fmt::format("Verification with LibTorch autograd ({} on both sides; pass if |a - b| <= {:g} + {:g}·|b|):\n",
                     o.dtype, w.atol, tol.rtol);
  out += fmt::format("  {:<6} {:>24} {:>24} {:>11}\n", "", "manual", "LibTorch", "|diff|");
  for (const auto* c : {&w, &b})
    out += fmt::format("  ∂L/∂{:<2} {:>24.17g} {:>24.17g} {:>11.3e}  {}\n", c->name, c->worst_actual, c->worst_reference,
                       c->max_abs_diff, verdict_word(*c));
  out += fmt::format("  loss   {:>24.17g} {:>24.17g}\n\n", s.loss, reference.loss);
  switch (verdict) {
    case Verdict::pass: out += "PASS: ∂L/∂w and ∂L/∂b match LibTorch\n"; break;
    case Verdict::fail: out += "FAIL: the manual gradients differ from LibTorch\n"; break;
    case Verdict::vacuous:
      out += "VACUOUS: both gradients are exactly 0 on both sides (the neuron is dead: ∂ŷ/∂z = 0), so this check "
             "proves nothing\n";
      break;
  }
  write_output(out, o.output_path, written_to(to_string(verdict), o.output_path), Audience::people);
  return exit_code(verdict);
}

// ---- bce: Solution 3 -----------------------------------------------------------------------

void add_bce_command(CLI::App& app, BceOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "bce", "The lab's binary cross-entropy: values, the derivation of ŷ - y, and both checked against LibTorch");
  cmd->footer(R"(
Binary cross-entropy after a sigmoid, the lab's Solution 3. For each sample: ŷ = σ(z),
BCE = -[y log ŷ + (1-y) log(1-ŷ)], which is the Bernoulli negative log-likelihood
-log(ŷ^y (1-ŷ)^(1-y)) (checked), and the gradient with respect to the logit z two ways:
the full chain rule [-y/ŷ + (1-y)/(1-ŷ)]·ŷ(1-ŷ) and the simplified ŷ - y (checked equal).
Both are checked against LibTorch autograd through binary_cross_entropy(sigmoid(z)) and
binary_cross_entropy_with_logits(z), per sample (torch's mean-loss gradient times n).

Exit status: 0 everything agrees, 1 something differs, 2 a usage or input error, 3 nothing
differs but a comparison is all zeros on both sides (vacuous: it proves nothing).

Examples:
  gradverify bce
  gradverify bce --labels 1,0 --logits 30,-30 --dtype float32)");
  cmd->add_option("--labels", o.labels, "Targets in [0, 1], comma-separated")->capture_default_str();
  cmd->add_option("--logits", o.logits, "Logits z, comma-separated, one per label")->capture_default_str();
  add_report_options(cmd, o.dtype, o.format, o.output_path);
}

namespace {

std::vector<double> parse_numbers(const std::string& list, const std::string& option) {
  std::vector<double> values;
  for (const auto& item : split_list(list)) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0')
      throw InputError(option, "", "expected comma-separated numbers like 1,0,1, got '" + list + "'");
    values.push_back(v);
  }
  if (values.empty()) throw InputError(option, "", "expected at least one number");
  return values;
}

struct BceValues {
  std::vector<double> predictions, losses, nll, grad_full, grad_simple;
  double mean = 0;
};

template <typename T>
BceValues bce_values(const std::vector<double>& labels, const std::vector<double>& logits) {
  BceValues v;
  double sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const T z = static_cast<T>(logits[i]), y = static_cast<T>(labels[i]);
    T p = T(0);
    kernels::sigmoid_forward(&p, &z, 1);
    const T loss = kernels::bce_forward(&p, &y, 1);  // one sample: the mean of one is the sample's loss
    // dL/dŷ from the kernel (torch's floor on ŷ(1-ŷ)), times dŷ/dz: the chain rule written out.
    T dloss_dp = T(0);
    kernels::bce_backward(&dloss_dp, &p, &y, 1);
    v.predictions.push_back(static_cast<double>(p));
    v.losses.push_back(static_cast<double>(loss));
    v.nll.push_back(-std::log(std::pow(static_cast<double>(p), static_cast<double>(y)) *
                              std::pow(1 - static_cast<double>(p), 1 - static_cast<double>(y))));
    v.grad_full.push_back(static_cast<double>(dloss_dp * p * (T(1) - p)));
    v.grad_simple.push_back(static_cast<double>(p - y));
    sum += static_cast<double>(loss);
  }
  v.mean = sum / static_cast<double>(labels.size());
  return v;
}

std::string rounded_list(const std::vector<double>& values) {  // as numpy prints x.round(4)
  std::string s;
  for (double v : values) s += (s.empty() ? "" : ", ") + fmt::format("{:g}", std::round(v * 1e4) / 1e4 + 0.0);
  return "[" + s + "]";
}

}  // namespace

int run_bce(const BceOptions& o) {
  require_writable_file(o.output_path);
  const std::vector<double> labels = parse_numbers(o.labels, "--labels");
  const std::vector<double> logits = parse_numbers(o.logits, "--logits");
  if (labels.size() != logits.size())
    throw InputError("--logits", "", fmt::format("expected one logit per label: {} labels, {} logits", labels.size(),
                                                 logits.size()));
  const Dtype dtype = *parse_dtype(o.dtype);
  const auto n = static_cast<int64_t>(labels.size());
  const Tensor X{{n, 1}, logits}, y{{n, 1}, labels};
  // The twin as z -> σ(z) -> BCE, and as z -> BCE-with-logits: W = 1, b = 0 pass z through exactly.
  const Problem with_sigmoid = scalar_problem(Activation::sigmoid, Loss::bce, dtype, X, y, 1, 0);
  const Problem with_logits = scalar_problem(Activation::identity, Loss::bce_with_logits, dtype, X, y, 1, 0);
  validate_problem(with_sigmoid, "command line");  // finite, labels in [0, 1], float32 range
  const BceValues v = dtype == Dtype::float32 ? bce_values<float>(labels, logits) : bce_values<double>(labels, logits);

  // Per-sample gradients from LibTorch: the mean loss's dL/dz times n.
  const auto per_sample = [&](const ReferenceResult& r) {
    Tensor g = r.gradients.at("z1");
    for (double& e : g.values) e *= static_cast<double>(n);
    g.shape = {n};
    return g;
  };
  const ReferenceResult torch_bce = torch_backend().compute_reference(with_sigmoid);
  const ReferenceResult torch_logits = torch_backend().compute_reference(with_logits);
  const Tolerances tol = default_tolerances(dtype);
  const auto as_tensor = [&](const std::vector<double>& values) { return Tensor{{n}, values}; };
  const auto submitted = [&](const std::vector<double>& values) { return SubmittedGradient{as_tensor(values), ""}; };
  const TensorComparison full_vs_simple = compare_tensor("full vs simplified", submitted(v.grad_full), as_tensor(v.grad_simple), tol);
  const TensorComparison bce_vs_nll = compare_tensor("BCE vs Bernoulli NLL", submitted(v.losses), as_tensor(v.nll), tol);
  const TensorComparison simple_vs_bce = compare_tensor("ŷ - y vs LibTorch BCE(σ(z))", submitted(v.grad_simple), per_sample(torch_bce), tol);
  const TensorComparison full_vs_bce = compare_tensor("full vs LibTorch BCE(σ(z))", submitted(v.grad_full), per_sample(torch_bce), tol);
  const TensorComparison simple_vs_logits = compare_tensor("ŷ - y vs LibTorch BCE-with-logits", submitted(v.grad_simple), per_sample(torch_logits), tol);
  const double mean_atol = tol.atol_for_scale(std::fabs(torch_bce.loss)) + tol.rtol * std::fabs(torch_bce.loss);
  const bool means_agree = std::fabs(v.mean - torch_bce.loss) <= mean_atol && std::fabs(v.mean - torch_logits.loss) <= mean_atol;
  const LabChecks checks{{&bce_vs_nll, &full_vs_simple, &simple_vs_bce, &full_vs_bce, &simple_vs_logits},
                         "mean BCE vs LibTorch (both)", means_agree};
  const Verdict verdict = checks.verdict();

  if (o.format == "json") {
    nlohmann::json doc = {{"labels", labels}, {"logits", logits}, {"dtype", o.dtype}, {"predictions", v.predictions},
                          {"bce", v.losses}, {"bernoulli_nll", v.nll}, {"mean_bce", v.mean},
                          {"grad_full_chain_rule", v.grad_full}, {"grad_simplified", v.grad_simple},
                          {"libtorch", {{"bce_mean", torch_bce.loss}, {"bce_with_logits_mean", torch_logits.loss},
                                        {"bce_grad", per_sample(torch_bce).values},
                                        {"bce_with_logits_grad", per_sample(torch_logits).values}}},
                          {"checks", checks.to_json("mean BCE vs LibTorch")},
                          {"passed", verdict == Verdict::pass}, {"verdict", to_string(verdict)}};
    write_output(doc.dump(1) + "\n", o.output_path, written_to(to_string(verdict), o.output_path));
    return exit_code(verdict);
  }
  std::string out = fmt::format("gradverify bce: binary cross-entropy after a sigmoid, {}\n\n", o.dtype);
  out += fmt::format("  labels y       {}\n", rounded_list(labels));
  out += fmt::format("  logits z       {}\n", rounded_list(logits));
  out += fmt::format("  ŷ = σ(z)       {}\n", rounded_list(v.predictions));
  out += fmt::format("  BCE            {}\n", rounded_list(v.losses));
  out += fmt::format("  mean BCE       {:.4f}   (LibTorch: binary_cross_entropy {:.4f}, with_logits {:.4f})\n",
                     v.mean, torch_bce.loss, torch_logits.loss);
  out += fmt::format("  Bernoulli NLL  {}   -log(ŷ^y (1-ŷ)^(1-y)): the same as BCE\n\n", rounded_list(v.nll));
  out += "Gradient with respect to the logits, per sample:\n";
  out += fmt::format("  full chain rule   {}   [-y/ŷ + (1-y)/(1-ŷ)] · ŷ(1-ŷ)\n", rounded_list(v.grad_full));
  out += fmt::format("  simplified ŷ - y  {}\n\n", rounded_list(v.grad_simple));
  out += "Derivation:\n"
         "  BCE = -[y·log(ŷ) + (1-y)·log(1-ŷ)],  ŷ = σ(z) = 1/(1+e^(-z))\n"
         "  ∂BCE/∂ŷ = -y/ŷ + (1-y)/(1-ŷ)\n"
         "  ∂ŷ/∂z   = ŷ(1-ŷ)                      (the sigmoid's derivative)\n"
         "  ∂BCE/∂z = [-y/ŷ + (1-y)/(1-ŷ)] · ŷ(1-ŷ)\n"
         "          = -y(1-ŷ) + (1-y)ŷ = -y + yŷ + ŷ - yŷ = ŷ - y\n"
         "  And BCE is the Bernoulli negative log-likelihood: P(y | ŷ) = ŷ^y (1-ŷ)^(1-y), so\n"
         "  -log P = -[y·log(ŷ) + (1-y)·log(1-ŷ)] = BCE.\n\n";
  out += checks.table(o.dtype, tol);
  bool saturated = false;
  for (double p : v.predictions) saturated = saturated || p * (1 - p) < 1e-12;
  if (verdict != Verdict::pass && saturated)
    out += "  note: some ŷ are saturated (ŷ(1-ŷ) < 1e-12). There torch's binary_cross_entropy floors ŷ(1-ŷ) at\n"
           "        1e-12 and 1 - ŷ has lost its digits, so the chain rule through BCE(σ(z)) is not ŷ - y, and\n"
           "        its loss is off too. binary_cross_entropy_with_logits stays exact: compute BCE from logits.\n\n";
  out += verdict == Verdict::pass ? "PASS: BCE is the Bernoulli NLL, ∂BCE/∂z = ŷ - y, and LibTorch agrees\n"
         : verdict == Verdict::vacuous ? "VACUOUS: nothing differs, but an all-zero comparison above proves nothing\n"
                                       : "FAIL: something above differs\n";
  write_output(out, o.output_path, written_to(to_string(verdict), o.output_path), Audience::people);
  return exit_code(verdict);
}

// ---- softmax: the next lab's cross-entropy --------------------------------------------------

void add_softmax_command(CLI::App& app, SoftmaxOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "softmax", "Softmax cross-entropy for one sample: values, the derivation of s - onehot, checked against LibTorch");
  cmd->footer(R"(
Softmax cross-entropy for one sample's logits z and its class y, as the multi-class lab
derives it. s = softmax(z), computed stably (z - max z first, so that logits of 1000 don't
overflow), CE = -log s_y = log Σ e^(z_j) - z_y, and its gradient with respect to the logits
two ways: the full chain rule through the softmax's Jacobian, ∂s_j/∂z_i = s_j([i=j] - s_i),
and the fused s - onehot(y) (checked equal). Both are checked against LibTorch autograd
through cross_entropy(z, y).

Exit status: 0 everything agrees, 1 something differs, 2 a usage or input error, 3 nothing
differs but a comparison is all zeros on both sides (vacuous: it proves nothing).

Examples:
  gradverify softmax
  gradverify softmax --logits 1000,-1000,0 --label 1 --dtype float32)");
  cmd->add_option("--logits", o.logits, "One sample's logits, comma-separated (at least 2 classes)")->capture_default_str();
  cmd->add_option("--label", o.label, "Its class: an index from 0")->capture_default_str();
  add_report_options(cmd, o.dtype, o.format, o.output_path);
}

namespace {

struct SoftmaxValues {
  std::vector<double> probabilities, grad_chain_rule, grad_fused;
  double loss = 0;
};

// The manual kernels in the dtype; the chain rule through the Jacobian written out, as a student would.
template <typename T>
SoftmaxValues softmax_values(const std::vector<double>& logits, const std::vector<double>& onehot) {
  const auto C = static_cast<int64_t>(logits.size());
  const std::vector<T> z(logits.begin(), logits.end()), t(onehot.begin(), onehot.end());
  SoftmaxValues v;
  v.loss = static_cast<double>(kernels::cross_entropy_forward(z.data(), t.data(), 1, C));
  std::vector<T> fused(z.size());
  kernels::cross_entropy_backward(fused.data(), z.data(), t.data(), 1, C);
  T max = z[0], sum = 0;
  for (const T e : z) max = std::max(max, e);
  for (const T e : z) sum += std::exp(e - max);
  std::vector<T> s(z.size());
  for (size_t j = 0; j < z.size(); ++j) s[j] = std::exp(z[j] - max) / sum;
  for (size_t i = 0; i < z.size(); ++i) {
    T g = 0;  // Σ_j ∂CE/∂s_j · ∂s_j/∂z_i, with ∂CE/∂s_j = -t_j / s_j
    for (size_t j = 0; j < z.size(); ++j)
      if (t[j] != 0) g += -t[j] / s[j] * s[j] * ((i == j ? T(1) : T(0)) - s[i]);
    v.grad_chain_rule.push_back(static_cast<double>(g));
    v.grad_fused.push_back(static_cast<double>(fused[i]));
    v.probabilities.push_back(static_cast<double>(s[i]));
  }
  return v;
}

}  // namespace

int run_softmax(const SoftmaxOptions& o) {
  require_writable_file(o.output_path);
  const std::vector<double> logits = parse_numbers(o.logits, "--logits");
  const auto C = static_cast<int64_t>(logits.size());
  if (C < 2) throw InputError("--logits", "", "expected at least 2 logits, one per class");
  if (const std::string why = why_not_class_index(static_cast<double>(o.label), C); !why.empty())
    throw InputError("--label", "", why);
  const Dtype dtype = *parse_dtype(o.dtype);
  std::vector<double> onehot(static_cast<size_t>(C), 0.0);
  onehot[static_cast<size_t>(o.label)] = 1;
  // The twin as z -> identity -> cross_entropy: W = I, b = 0 pass the logits through exactly.
  Problem p;
  p.spec = MlpSpec{{C, C}, {Activation::identity}, Loss::cross_entropy, dtype};
  Tensor eye{{C, C}, std::vector<double>(static_cast<size_t>(C * C), 0.0)};
  for (int64_t i = 0; i < C; ++i) eye.values[static_cast<size_t>(i * C + i)] = 1;
  p.params = {{"W1", eye}, {"b1", Tensor{{C}, std::vector<double>(static_cast<size_t>(C), 0.0)}}};
  p.X = Tensor{{1, C}, logits};
  p.y = Tensor{{1, C}, onehot};
  p.data_description = "command line";
  validate_problem(p, "--logits");  // finite, float32 range
  const SoftmaxValues v = dtype == Dtype::float32 ? softmax_values<float>(logits, onehot) : softmax_values<double>(logits, onehot);

  const ReferenceResult torch = torch_backend().compute_reference(p);
  Tensor torch_grad = torch.gradients.at("z1");
  torch_grad.shape = {C};
  const Tolerances tol = default_tolerances(dtype);
  const auto as_tensor = [&](const std::vector<double>& values) { return Tensor{{C}, values}; };
  const auto submitted = [&](const std::vector<double>& values) { return SubmittedGradient{as_tensor(values), ""}; };
  const TensorComparison chain_vs_fused = compare_tensor("chain rule vs fused", submitted(v.grad_chain_rule), as_tensor(v.grad_fused), tol);
  const TensorComparison fused_vs_torch = compare_tensor("s - onehot vs LibTorch", submitted(v.grad_fused), torch_grad, tol);
  const TensorComparison chain_vs_torch = compare_tensor("chain rule vs LibTorch", submitted(v.grad_chain_rule), torch_grad, tol);
  const bool loss_agrees = tol.element_passes(v.loss, torch.loss, tol.atol_for_scale(std::fabs(torch.loss)));
  const LabChecks checks{{&chain_vs_fused, &fused_vs_torch, &chain_vs_torch}, "cross-entropy vs LibTorch", loss_agrees};
  const Verdict verdict = checks.verdict();
  double largest = 0;
  for (double z : logits) largest = std::max(largest, z);
  const bool naive_overflows = largest > (dtype == Dtype::float32 ? 88.72 : 709.78);  // log of the dtype's max

  if (o.format == "json") {
    nlohmann::json doc = {{"logits", logits}, {"label", o.label}, {"dtype", o.dtype},
                          {"softmax", v.probabilities}, {"cross_entropy", v.loss},
                          {"grad_chain_rule", v.grad_chain_rule}, {"grad_fused", v.grad_fused},
                          {"libtorch", {{"cross_entropy", torch.loss}, {"grad", torch_grad.values}}},
                          {"unshifted_softmax_overflows", naive_overflows},
                          {"checks", checks.to_json("cross-entropy vs LibTorch")},
                          {"passed", verdict == Verdict::pass}, {"verdict", to_string(verdict)}};
    write_output(doc.dump(1) + "\n", o.output_path, written_to(to_string(verdict), o.output_path));
    return exit_code(verdict);
  }
  std::string out = fmt::format("gradverify softmax: cross-entropy over a softmax, one sample, {}\n\n", o.dtype);
  out += fmt::format("  logits z          {}\n", rounded_list(logits));
  out += fmt::format("  class y           {}\n", o.label);
  out += fmt::format("  s = softmax(z)    {}\n", rounded_list(v.probabilities));
  out += fmt::format("  CE = -log s_y     {:.4f}   (LibTorch: cross_entropy {:.4f})\n\n", v.loss, torch.loss);
  out += "Gradient with respect to the logits:\n";
  out += fmt::format("  full chain rule   {}   Σ_j (-[j=y]/s_j) · s_j([i=j] - s_i)\n", rounded_list(v.grad_chain_rule));
  out += fmt::format("  fused s - onehot  {}\n\n", rounded_list(v.grad_fused));
  out += "Derivation:\n"
         "  s_j = e^(z_j) / Σ_k e^(z_k),  CE = -log s_y\n"
         "  ∂CE/∂s_j   = -[j=y] / s_y\n"
         "  ∂s_j/∂z_i  = s_j([i=j] - s_i)              (the softmax's Jacobian, diag(s) - s·sᵀ)\n"
         "  ∂CE/∂z_i   = Σ_j ∂CE/∂s_j · ∂s_j/∂z_i = -(1/s_y) · s_y([i=y] - s_i) = s_i - [i=y]\n"
         "  So dL/dz = s - onehot(y) already contains the softmax's derivative: applying the\n"
         "  Jacobian again is a classic mistake. For a batch of N, the mean divides it by N.\n"
         "  Stable: s is the same for z - max(z), whose largest e^ is 1, so no exp overflows;\n"
         "  and log Σ e^(z_k) = max(z) + log Σ e^(z_k - max(z)) (log-sum-exp).\n\n";
  if (naive_overflows)
    out += "  note: here e^(max z) overflows the dtype: a softmax without the max shift gives inf/inf = NaN.\n\n";
  if (v.probabilities[static_cast<size_t>(o.label)] == 0)
    out += "  note: s_y underflows to 0 here, so the full chain rule's -1/s_y · s_y is inf·0 = NaN; the fused\n"
           "        s - onehot never divides, and is what to compute.\n\n";
  out += checks.table(o.dtype, tol);
  out += verdict == Verdict::pass ? "PASS: ∂CE/∂z = softmax(z) - onehot(y), and LibTorch agrees\n"
         : verdict == Verdict::vacuous ? "VACUOUS: nothing differs, but an all-zero comparison above proves nothing\n"
                                       : "FAIL: something above differs\n";
  write_output(out, o.output_path, written_to(to_string(verdict), o.output_path), Audience::people);
  return exit_code(verdict);
}

}  // namespace gradverify::cli
