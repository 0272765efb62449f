#include "gradverify/torch/op_check.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "gradverify/errors.h"
#include "gradverify/tolerances.h"
#include "gradverify/torch/mlp_twin.h"

namespace gradverify {
namespace {

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (size_t i = 0; i < a.values.size(); ++i) s += a.values[i] * b.values[i];
  return s;
}

Tensor normal_like(const Shape& shape, std::mt19937& rng) {
  std::normal_distribution<double> normal(0, 1);
  Tensor t;
  t.shape = shape;
  int64_t n = 1;
  for (auto d : shape) n *= d;
  for (int64_t i = 0; i < n; ++i) t.values.push_back(normal(rng));
  return t;
}

// d<u, forward(x)>/dx_i by central differences, for every element of one input.
Tensor central_differences(const HandWrittenOp& op, TensorMap inputs, const std::string& name, const Tensor& upstream) {
  const double step = std::cbrt(std::numeric_limits<double>::epsilon());
  Tensor g = inputs.at(name);
  for (size_t i = 0; i < g.values.size(); ++i) {
    const double x = inputs.at(name).values[i], h = step * std::max(1.0, std::fabs(x));
    inputs[name].values[i] = x + h;
    const double up = dot(upstream, op.forward(inputs));
    inputs[name].values[i] = x - h;
    const double down = dot(upstream, op.forward(inputs));
    inputs[name].values[i] = x;
    g.values[i] = (up - down) / (2 * h);
  }
  return g;
}

}  // namespace

bool OpCheckReport::passed() const {
  if (!forward.passed) return false;
  for (const auto& g : gradients)
    if (!g.passed) return false;
  return !gradients.empty();
}

bool OpCheckReport::finite_differences_agree() const {
  for (const auto& g : finite_differences)
    if (!g.passed) return false;
  return true;
}

std::string OpCheckReport::table() const {
  std::string t = fmt::format("gradverify: hand-written op '{}' vs LibTorch autograd\n", op);
  t += fmt::format("  {:<22} {:>12}  {:>12}  {:<10} {:>17}  {:>17}  {}\n", "", "max abs diff", "max rel diff",
                   "worst at", "hand-written", "reference", "verdict");
  const auto line = [&](const TensorComparison& c) {
    const std::string worst = shape_to_string(c.worst_index);
    if (c.missing || c.shape_mismatch) return fmt::format("  {:<22} FAIL: {}\n", c.name, c.message);
    return fmt::format("  {:<22} {:>12.3e}  {:>12.3e}  {:<10} {:>17.10g}  {:>17.10g}  {}\n", c.name, c.max_abs_diff,
                       c.max_rel_diff, worst, c.worst_actual, c.worst_reference, c.passed ? "ok" : "FAIL");
  };
  t += "  forward, against LibTorch's:\n" + line(forward);
  t += "  backward, against autograd's vector-Jacobian product uᵀJ for random u:\n";
  for (const auto& g : gradients) t += line(g);
  t += "  backward, against central differences of the hand-written forward (second opinion):\n";
  for (const auto& g : finite_differences) t += line(g);
  t += passed() ? "PASS: the backward matches autograd for every input and draw\n"
                : "FAIL: the op's forward or backward differs from LibTorch's\n";
  return t;
}

OpCheckReport check_op(const HandWrittenOp& op, uint32_t seed, int draws) {
  torch::set_num_threads(1);
  if (!op.make_inputs || !op.forward || !op.backward || !op.torch_forward)
    throw InputError("check_op", op.name, "make_inputs, forward, backward and torch_forward must all be given");
  OpCheckReport report;
  report.op = op.name;
  std::mt19937 rng(seed);
  const TensorMap inputs = op.make_inputs(rng);
  const Tolerances tol = default_tolerances(Dtype::float64);

  std::map<std::string, torch::Tensor> torch_inputs;
  for (const auto& [name, tensor] : inputs) torch_inputs[name] = to_torch(tensor, torch::kFloat64);
  for (const auto& name : op.differentiated) {
    if (!torch_inputs.count(name)) throw InputError("check_op", op.name, "differentiates '" + name + "', which make_inputs doesn't make");
    torch_inputs[name].requires_grad_(true);
  }
  const torch::Tensor out = op.torch_forward(torch_inputs);
  const Tensor reference_out = from_torch(out);
  report.forward = compare_tensor("output", SubmittedGradient{op.forward(inputs), ""}, reference_out, tol);

  for (int draw = 1; draw <= draws; ++draw) {
    const Tensor upstream = normal_like(reference_out.shape, rng);
    std::vector<torch::Tensor> wrt;
    for (const auto& name : op.differentiated) wrt.push_back(torch_inputs.at(name));
    const auto vjp = torch::autograd::grad({out}, wrt, {to_torch(upstream, torch::kFloat64)}, /*retain_graph=*/true);
    const TensorMap hand_written = op.backward(inputs, upstream);
    for (size_t i = 0; i < op.differentiated.size(); ++i) {
      const std::string& name = op.differentiated[i];
      SubmittedGradient submitted;
      if (const auto it = hand_written.find(name); it != hand_written.end()) submitted.tensor = it->second;
      else submitted.problem = "missing: the backward returned no gradient for '" + name + "'";
      const Tensor reference = from_torch(vjp[i]);
      report.gradients.push_back(compare_tensor(fmt::format("d{} (u #{})", name, draw), submitted, reference, tol));
      if (draw == 1) {
        // Finite differences carry O(h²) and rounding error: judged with float32's tolerance.
        report.finite_differences.push_back(compare_tensor(
            fmt::format("d{} (differences)", name), submitted, central_differences(op, inputs, name, upstream),
            default_tolerances(Dtype::float32)));
      }
    }
  }
  return report;
}

}  // namespace gradverify
