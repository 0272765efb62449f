#include "gradverify/torch/op_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "gradverify/check/diagnosis.h"
#include "gradverify/check/tolerances.h"
#include "gradverify/errors.h"
#include "gradverify/torch/mlp_twin.h"
#include "gradverify/torch/torch_forward_registry.h"

namespace gradverify {
namespace {

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (size_t i = 0; i < a.values.size(); ++i) s += a.values[i] * b.values[i];
  return s;
}

Tensor normal_like(const Shape& shape, Dtype dtype, std::mt19937& rng) {
  std::normal_distribution<double> normal(0, 1);
  Tensor t;
  t.shape = shape;
  int64_t n = 1;
  for (auto d : shape) n *= d;
  for (int64_t i = 0; i < n; ++i) t.values.push_back(round_to(dtype, normal(rng)));
  return t;
}

// The op in its general form: named outputs, a saved context, an upstream gradient per
// output. An op of one output is the case of one output named "output" and nothing saved.
struct OpFunctions {
  std::function<TensorMap(const TensorMap& inputs, TensorMap& saved)> forward;
  std::function<TensorMap(const TensorMap& inputs, const TensorMap& saved, const TensorMap& upstream)> backward;
  std::function<void(const TensorMap& inputs, const TensorMap& saved, const TensorMap& upstream, TensorMap& gradients)>
      accumulate;  // instead of backward
  std::function<std::map<std::string, torch::Tensor>(const std::map<std::string, torch::Tensor>&)> torch_forward;
};

OpFunctions general_form(const HandWrittenOp& op) {
  const bool several = op.forward_outputs || op.backward_outputs || op.accumulating_backward_outputs ||
                       op.torch_forward_outputs;
  const bool one = op.forward || op.backward || op.accumulating_backward || op.torch_forward;
  if (several && (one || !op.forward_outputs || !op.backward_outputs == !op.accumulating_backward_outputs))
    throw InputError("check_op", op.name,
                     "an op of several outputs sets forward_outputs, one of backward_outputs or "
                     "accumulating_backward_outputs, and (unless finite differences alone are to judge it) "
                     "torch_forward_outputs; and none of forward, backward, accumulating_backward or torch_forward");
  if (several) return {op.forward_outputs, op.backward_outputs, op.accumulating_backward_outputs, op.torch_forward_outputs};
  if (!op.forward)
    throw InputError("check_op", op.name, "forward must be given (or, for several outputs, forward_outputs)");
  if (!op.backward == !op.accumulating_backward)
    throw InputError("check_op", op.name,
                     std::string("exactly one of backward and accumulating_backward must be given; ") +
                         (op.backward ? "both are set" : "neither is set"));
  OpFunctions f;
  f.forward = [&op](const TensorMap& inputs, TensorMap&) { return TensorMap{{"output", op.forward(inputs)}}; };
  if (op.backward)
    f.backward = [&op](const TensorMap& inputs, const TensorMap&, const TensorMap& upstream) {
      return op.backward(inputs, upstream.at("output"));
    };
  if (op.accumulating_backward)
    f.accumulate = [&op](const TensorMap& inputs, const TensorMap&, const TensorMap& upstream, TensorMap& gradients) {
      op.accumulating_backward(inputs, upstream.at("output"), gradients);
    };
  if (op.torch_forward)
    f.torch_forward = [&op](const std::map<std::string, torch::Tensor>& inputs) {
      return std::map<std::string, torch::Tensor>{{"output", op.torch_forward(inputs)}};
    };
  return f;
}

double dot(const TensorMap& a, const TensorMap& b) {
  double s = 0;
  for (const auto& [name, tensor] : a) s += dot(tensor, b.at(name));
  return s;
}

// The op's inputs in its dtype. A value that is not finite there (1e39 in float32, say)
// would make every comparison vacuous, so it is an error naming the input and the element.
// Integer inputs stay as they are, and must be whole numbers a double holds exactly.
TensorMap inputs_in_dtype(const HandWrittenOp& op, TensorMap inputs) {
  for (const auto& name : op.integer_inputs)
    if (!inputs.count(name))
      throw InputError("check_op", op.name, "integer input '" + name + "' is not among the inputs make_inputs makes");
  for (auto& [name, tensor] : inputs) {
    if (op.integer_inputs.count(name)) {
      for (size_t i = 0; i < tensor.values.size(); ++i) {
        const double v = tensor.values[i];
        if (!(std::fabs(v) <= 9007199254740992.0) || v != std::floor(v))  // 2^53; NaN fails too
          throw InputError("check_op", op.name,
                           fmt::format("integer input '{}' element {} is {}, not a whole number", name, i, v));
      }
      continue;
    }
    for (size_t i = 0; i < tensor.values.size(); ++i) {
      const double rounded = round_to(op.dtype, tensor.values[i]);
      if (!std::isfinite(rounded))
        throw InputError("check_op", op.name,
                         fmt::format("input '{}' element {} is {}, which is not a finite {}", name, i, tensor.values[i],
                                     to_string(op.dtype)));
      tensor.values[i] = rounded;
    }
  }
  return inputs;
}

// d(Σ_i <u_i, out_i(x)>)/dx_j by central differences, for the elements j of one input listed
// in `elements`. The step is cbrt(eps) of the op's dtype, and in float32 x ± h are float32
// values, divided by their actual distance, so that a forward computing in float sees exactly
// the inputs it is given.
std::vector<double> central_differences(const HandWrittenOp& op, const OpFunctions& f, TensorMap inputs,
                                        const std::string& name, const TensorMap& upstream,
                                        const std::vector<size_t>& elements) {
  const double step = std::cbrt(op.dtype == Dtype::float32 ? std::numeric_limits<float>::epsilon()
                                                           : std::numeric_limits<double>::epsilon());
  TensorMap saved;  // each shifted forward saves afresh; only its outputs count here
  std::vector<double> g;
  for (const size_t i : elements) {
    const double x = inputs.at(name).values[i], h = step * std::max(1.0, std::fabs(x));
    const double above = round_to(op.dtype, x + h), below = round_to(op.dtype, x - h);
    inputs[name].values[i] = above;
    const double up = dot(upstream, f.forward(inputs, saved));
    inputs[name].values[i] = below;
    const double down = dot(upstream, f.forward(inputs, saved));
    inputs[name].values[i] = x;
    g.push_back((up - down) / (above - below));
  }
  return g;
}

// Along random unit directions v through a whole input: the directional difference D of
// Σ_i <u_i, out_i>, and the hand-written gradient g projected on the step actually taken
// (x ± h·v rounded to the dtype), <g, (x⁺ - x⁻)> / 2h. Both, per direction.
std::pair<std::vector<double>, std::vector<double>> directional_differences(const HandWrittenOp& op,
                                                                            const OpFunctions& f, TensorMap inputs,
                                                                            const std::string& name,
                                                                            const TensorMap& upstream,
                                                                            const Tensor* gradient, std::mt19937& rng) {
  const Tensor x = inputs.at(name);
  double scale = 1;
  for (double v : x.values) scale = std::max(scale, std::fabs(v));
  const double h = std::cbrt(op.dtype == Dtype::float32 ? std::numeric_limits<float>::epsilon()
                                                        : std::numeric_limits<double>::epsilon()) * scale;
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> differences, projections;
  TensorMap saved;
  for (int d = 0; d < op.finite_differences.directions; ++d) {
    std::vector<double> v(x.values.size());
    double norm = 0;
    for (double& e : v) {
      e = normal(rng);
      norm += e * e;
    }
    Tensor above = x, below = x;
    for (size_t i = 0; i < v.size(); ++i) {
      above.values[i] = round_to(op.dtype, x.values[i] + h * v[i] / std::sqrt(norm));
      below.values[i] = round_to(op.dtype, x.values[i] - h * v[i] / std::sqrt(norm));
    }
    inputs[name] = above;
    const double up = dot(upstream, f.forward(inputs, saved));
    inputs[name] = below;
    const double down = dot(upstream, f.forward(inputs, saved));
    differences.push_back((up - down) / (2 * h));
    double projection = 0;
    if (gradient)
      for (size_t i = 0; i < v.size(); ++i) projection += gradient->values[i] * (above.values[i] - below.values[i]);
    projections.push_back(projection / (2 * h));
  }
  return {differences, projections};
}

bool is_float32(const Tensor& t) {
  return std::all_of(t.values.begin(), t.values.end(), [](double v) { return round_to(Dtype::float32, v) == v; });
}

// A tensor from the op's own code must hold as many values as its shape says, or reading it
// would run past its end.
void require_consistent(const HandWrittenOp& op, const char* callback, const TensorMap& tensors) {
  for (const auto& [name, tensor] : tensors)
    if (static_cast<int64_t>(tensor.values.size()) != tensor.numel())
      throw InputError("check_op", op.name,
                       fmt::format("{} returned '{}' of shape {} with {} values", callback, name,
                                   shape_to_string(tensor.shape), tensor.values.size()));
}

// Runs one of the op's own callbacks, so that what goes wrong inside it is reported with the op
// and callback named: a misspelled input name's map::at, or LibTorch's error (first line only,
// not its stack trace), as an InputError.
template <typename F>
auto guarded(const HandWrittenOp& op, const char* callback, const std::string& input_names, F&& run) {
  try {
    return run();
  } catch (const InputError&) {
    throw;
  } catch (const std::out_of_range& e) {
    throw InputError("check_op", op.name,
                     fmt::format("{} threw {}: it asked for a name that isn't there (the inputs are: {})", callback,
                                 e.what(), input_names.empty() ? "none yet" : input_names));
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    // Token ids and class targets passed as floats: torch asks for Long.
    // ("expected scalar type Long but found Float", "...one of the following scalar types: Long, Int")
    const bool wants_integers =
        message.find("scalar type") != std::string::npos && message.find("Long") != std::string::npos;
    throw InputError("check_op", op.name,
                     fmt::format("{} failed in LibTorch: {}{}", callback, message.substr(0, message.find('\n')),
                                 wants_integers ? "; an input of whole numbers (token ids, class targets) belongs in "
                                                  "op.integer_inputs, which torch_forward gets as kLong"
                                                : ""));
  } catch (const std::exception& e) {
    throw InputError("check_op", op.name, fmt::format("{} threw: {}", callback, e.what()));
  }
}

// A float64 op whose hand-written side computes in float fails everywhere by float32's
// rounding: when every comparison would pass at float32's tolerances, say that op.dtype is
// the likelier fix than the maths.
void hint_float32_arithmetic(OpCheckReport& report, const HandWrittenOp& op, bool hand_written_is_float32) {
  // Only a kernel whose every value is a float32 value computes in float: a small real
  // mistake in float64 arithmetic must not be told to loosen the tolerances.
  if (op.dtype != Dtype::float64 || op.tolerances || report.passed() || !hand_written_is_float32) return;
  // max|a - b| within float32's absolute term alone is enough for every element to pass there.
  const Tolerances loose = default_tolerances(Dtype::float32);
  const auto within_float32 = [&](const TensorComparison& c) {
    return c.passed || (!c.missing && !c.shape_mismatch && c.nonfinite == 0 &&
                        c.max_abs_diff <= loose.atol_for_scale(c.reference_max_abs));
  };
  std::vector<TensorComparison*> rows;
  for (auto& c : report.forward) rows.push_back(&c);
  for (auto& g : report.gradients) rows.push_back(&g);
  for (const auto* c : rows)
    if (!within_float32(*c)) return;
  for (auto* c : rows) {
    TensorComparison& g = *c;
    if (g.passed) continue;
    const std::string hint = "every difference is of float32's rounding and every hand-written value a float32 "
                             "value: the kernel computes in float, so set op.dtype = gradverify::Dtype::float32";
    g.hint = g.hint.empty() ? hint : g.hint + "; " + hint;
    g.hint_kinds.push_back("float32_arithmetic");
  }
}

// What an accumulating backward adds to buffers that already hold `before`, and what it leaves
// in buffers that start at zero: a right kernel gives the same twice.
struct Accumulated {
  TensorMap added, into_zeros;
};
Accumulated run_accumulating(const HandWrittenOp& op, const OpFunctions& f, const TensorMap& inputs,
                             const TensorMap& saved, const TensorMap& upstream, std::mt19937& rng) {
  TensorMap before, buffers, zeros;
  for (const auto& name : op.differentiated) {
    before[name] = normal_like(inputs.at(name).shape, op.dtype, rng);
    zeros[name] = Tensor{inputs.at(name).shape, std::vector<double>(inputs.at(name).values.size(), 0.0)};
  }
  buffers = before;
  f.accumulate(inputs, saved, upstream, buffers);
  f.accumulate(inputs, saved, upstream, zeros);
  // The kernel may only add into the buffers it was given: a new key is its mistake, named as such.
  std::string differentiated;
  for (const auto& name : op.differentiated) differentiated += (differentiated.empty() ? "" : ", ") + name;
  for (const TensorMap* written : {&buffers, &zeros}) {
    for (const auto& [name, tensor] : *written)
      if (!before.count(name))
        throw InputError("check_op", op.name,
                         "accumulating_backward added a buffer '" + name + "', which is not a differentiated input (" +
                             differentiated + "): add into gradients.at(\"<input>\")");
    for (const auto& [name, tensor] : before)
      if (!written->count(name))
        throw InputError("check_op", op.name, "accumulating_backward removed the buffer '" + name + "'");
    require_consistent(op, "accumulating_backward", *written);
  }
  Accumulated result{buffers, zeros};
  for (auto& [name, tensor] : result.added) {
    const Tensor& start = before.at(name);
    if (tensor.values.size() != start.values.size()) continue;  // reshaped: compared as it is, and fails
    for (size_t i = 0; i < tensor.values.size(); ++i) tensor.values[i] -= start.values[i];
  }
  return result;
}

// A hint for what an accumulating backward added, when it added the wrong thing but wrote
// the right gradient into zeros: it overwrote the buffer.
void hint_overwrite(TensorComparison& added, const TensorComparison& into_zeros) {
  if (added.passed || !into_zeros.passed) return;
  added.hint = "the backward overwrote the gradient buffer instead of adding to it (= for +=): into zeros it "
               "writes the right gradient, but the buffer's earlier contents are lost";
  added.hint_kinds = {"overwrote_accumulator"};
}

// Finite differences carry O(h²) truncation and rounding error of order eps/h: they are judged
// looser than the backward is, by a factor that their error in the dtype calls for.
Tolerances finite_difference_tolerances(Dtype dtype) {
  return dtype == Dtype::float32 ? Tolerances{1e-2, 1e-6, 1e-3} : default_tolerances(Dtype::float32);
}

// The finite differences of one input, as the op's plan says: every element, or a sample of
// them and random directions. `submitted` is the hand-written gradient of the first draw.
void append_finite_differences(OpCheckReport& report, const HandWrittenOp& op, const OpFunctions& f,
                               const TensorMap& inputs, const std::string& name, const SubmittedGradient& submitted,
                               const TensorMap& upstream, uint32_t seed) {
  const Tolerances& tol = report.finite_difference_tolerances;
  const Tensor& x = inputs.at(name);
  const size_t n = x.values.size();
  const OpFiniteDifferences& plan = op.finite_differences;
  std::vector<size_t> elements(n);
  std::iota(elements.begin(), elements.end(), size_t{0});
  if (plan.all_elements || n <= static_cast<size_t>(std::max<int64_t>(plan.max_elements, 0))) {
    const Tensor every{x.shape, central_differences(op, f, inputs, name, upstream, elements)};
    report.finite_differences.push_back(compare_tensor("d" + name + " (differences)", submitted, every, tol));
    return;
  }
  // Its own generator: sampling a large input must not shift the draws of upstream gradients.
  std::mt19937 rng(seed ^ 0x9e3779b9u);
  const auto k = static_cast<size_t>(plan.max_elements);
  for (size_t i = 0; i < k; ++i) std::swap(elements[i], elements[i + rng() % (n - i)]);
  elements.resize(k);
  std::sort(elements.begin(), elements.end());
  const bool usable = submitted.tensor && submitted.tensor->values.size() == n;
  const auto picked = [&](const std::vector<double>& values) {
    return SubmittedGradient{Tensor{{static_cast<int64_t>(values.size())}, values}, ""};
  };
  std::vector<double> sampled_gradient;
  if (usable)
    for (const size_t i : elements) sampled_gradient.push_back(submitted.tensor->values[i]);
  const Tensor sample{{static_cast<int64_t>(k)}, central_differences(op, f, inputs, name, upstream, elements)};
  TensorComparison sampled = compare_tensor(fmt::format("d{} (differences, {} of {})", name, k, n),
                                            usable ? picked(sampled_gradient) : submitted, sample, tol);
  // "worst at" names the element of the input, not its place in the sample.
  if (sampled.worst_index.size() == 1)
    sampled.worst_index = unravel_index(x.shape, static_cast<int64_t>(elements[static_cast<size_t>(sampled.worst_index[0])]));
  report.finite_differences.push_back(std::move(sampled));
  if (plan.directions <= 0) return;
  const auto [differences, projections] =
      directional_differences(op, f, inputs, name, upstream, usable ? &*submitted.tensor : nullptr, rng);
  report.finite_differences.push_back(
      compare_tensor(fmt::format("d{} (differences, {} directions)", name, plan.directions),
                     usable ? picked(projections) : submitted,
                     Tensor{{static_cast<int64_t>(differences.size())}, differences}, tol));
}

}  // namespace

bool OpCheckReport::passed() const {
  if (finite_differences_in_verdict && !finite_differences_agree()) return false;
  if (!has_libtorch) return finite_differences_in_verdict && !finite_differences.empty();
  for (const auto& c : forward)
    if (!c.passed) return false;
  for (const auto& g : gradients)
    if (!g.passed) return false;
  return !gradients.empty();
}

Verdict OpCheckReport::verdict() const {
  if (!passed()) return Verdict::fail;
  bool vacuous = false;
  for (const auto* group : {&forward, &gradients})
    for (const auto& c : *group) vacuous = vacuous || c.vacuous;
  if (finite_differences_in_verdict)
    for (const auto& c : finite_differences) vacuous = vacuous || c.vacuous;
  return vacuous ? Verdict::vacuous : Verdict::pass;
}

bool OpCheckReport::finite_differences_agree() const {
  for (const auto& g : finite_differences)
    if (!g.passed) return false;
  return true;
}

std::string OpCheckReport::table() const {
  std::string t = fmt::format("gradverify: hand-written op '{}' vs {}, {}\n", op,
                              has_libtorch ? "LibTorch autograd" : "finite differences alone (it has no torch_forward)",
                              to_string(dtype));
  t += fmt::format("  {:<22} {:>12}  {:>12}  {:<10} {:>17}  {:>17}  {}\n", "", "max abs diff", "max rel diff",
                   "worst/tol", "hand-written", "reference", "verdict");
  const auto line = [&](const TensorComparison& c) {
    const std::string worst = shape_to_string(c.worst_index);
    if (c.missing || c.shape_mismatch) return fmt::format("  {:<22} FAIL: {}\n", c.name, c.message);
    // A failure counts its differing elements, as a net's report does.
    const std::string verdict = !c.passed  ? fmt::format("FAIL ({} of {} differ)", c.mismatched, c.elements)
                                : c.vacuous ? "VACUOUS"
                                            : "ok";
    return fmt::format("  {:<22} {:>12.3e}  {:>12.3e}  {:<10} {:>17.10g}  {:>17.10g}  {}\n", c.name, c.max_abs_diff,
                       c.max_rel_diff, worst, c.worst_actual, c.worst_reference, verdict);
  };
  if (has_libtorch) {
    t += "  forward, against LibTorch's:\n";
    for (const auto& c : forward) t += line(c);
    t += "  backward, against autograd's vector-Jacobian product uᵀJ for random u:\n";
    for (const auto& g : gradients) t += line(g);
  }
  t += fmt::format("  backward, against central differences of the hand-written forward ({}, rtol {:g}, atol {:g} + "
                   "{:g} * max|b|):\n",
                   finite_differences_in_verdict ? "part of the verdict" : "second opinion",
                   finite_difference_tolerances.rtol, finite_difference_tolerances.atol_abs,
                   finite_difference_tolerances.atol_scale);
  for (const auto& g : finite_differences) t += line(g);
  std::string hints;
  std::vector<const TensorComparison*> rows;
  for (const auto* group : {&forward, &gradients, &finite_differences})
    for (const auto& c : *group) rows.push_back(&c);
  for (const auto* g : rows)
    if (!g->hint.empty() && hints.find(g->hint) == std::string::npos) hints += "    hint (" + g->name + "): " + g->hint + "\n";
  if (!hints.empty()) t += "  what this looks like:\n" + hints;
  switch (verdict()) {
    case Verdict::pass:
      return t + (has_libtorch ? "PASS: the backward matches autograd for every input and draw\n"
                               : "PASS: the backward matches finite differences of the forward for every input\n");
    case Verdict::fail:
      return t + (has_libtorch ? "FAIL: the op's forward or backward differs from LibTorch's\n"
                               : "FAIL: the op's backward differs from finite differences of its forward\n");
    case Verdict::vacuous: break;
  }
  int64_t vacuous = 0, compared = 0;
  for (const auto* group : {&forward, &gradients, &finite_differences}) {
    if (group == &finite_differences && !finite_differences_in_verdict) continue;
    for (const auto& c : *group) vacuous += c.vacuous ? 1 : 0, ++compared;
  }
  t += fmt::format("VACUOUS: nothing differs, but {} of {} comparisons are exactly zero on both sides (or within "
                   "atol_abs), so the check proved nothing about them\n",
                   vacuous, compared);
  t += vacuous_allowed_because.empty()
           ? "  choose inputs where the gradient is not zero, or, if this is expected, say why in "
             "op.vacuous_allowed_because\n"
           : "  allowed: " + vacuous_allowed_because + "\n";
  return t;
}

namespace {

// check_op once the op's LibTorch forward, if any, is its own (not a registered name).
OpCheckReport check_resolved(const HandWrittenOp& op, std::optional<uint32_t> seed_given,
                             std::optional<int> draws_given) {
  torch::set_num_threads(1);
  if (!op.make_inputs) throw InputError("check_op", op.name, "make_inputs must be given");
  const uint32_t seed = seed_given.value_or(op.seed);
  const int draws = draws_given.value_or(op.draws);
  if (draws < 1) throw InputError("check_op", op.name, fmt::format("draws is {}; at least 1 is needed", draws));
  if (op.differentiated.empty())
    throw InputError("check_op", op.name, "differentiated is empty: name the inputs the backward differentiates");
  if (op.finite_differences.max_elements < 1 || op.finite_differences.directions < 0)
    throw InputError("check_op", op.name,
                     fmt::format("finite_differences: max_elements is {} and directions {}; expected at least 1 "
                                 "element and no negative number of directions",
                                 op.finite_differences.max_elements, op.finite_differences.directions));
  const OpFunctions f = general_form(op);
  OpCheckReport report;
  report.op = op.name;
  report.dtype = op.dtype;
  report.vacuous_allowed_because = op.vacuous_allowed_because;
  report.has_libtorch = static_cast<bool>(f.torch_forward);
  // Judging by finite differences alone is asked for, never fallen into by a forgotten forward.
  if (!report.has_libtorch && !op.finite_differences.in_verdict)
    throw InputError("check_op", op.name,
                     "there is no LibTorch forward (torch_forward, torch_forward_outputs or torch_forward_name): give "
                     "one, or set op.finite_differences.in_verdict = true to have finite differences alone judge it");
  // With no LibTorch forward, finite differences are all there is to judge by.
  report.finite_differences_in_verdict = op.finite_differences.in_verdict || !report.has_libtorch;
  report.finite_difference_tolerances = finite_difference_tolerances(op.dtype);
  std::mt19937 rng(seed);
  const TensorMap inputs = inputs_in_dtype(op, guarded(op, "make_inputs", "", [&] { return op.make_inputs(rng); }));
  require_consistent(op, "make_inputs", inputs);
  std::string input_names;
  for (const auto& [name, tensor] : inputs) input_names += (input_names.empty() ? "" : ", ") + name;
  const Tolerances tol = op.tolerances.value_or(default_tolerances(op.dtype));
  const torch::ScalarType torch_dtype = to_torch_dtype(op.dtype);

  std::map<std::string, torch::Tensor> torch_inputs;
  for (const auto& [name, tensor] : inputs)
    torch_inputs[name] = to_torch(tensor, op.integer_inputs.count(name) ? torch::kLong : torch_dtype);
  for (const auto& name : op.differentiated) {
    if (!torch_inputs.count(name)) throw InputError("check_op", op.name, "differentiates '" + name + "', which make_inputs doesn't make");
    if (op.integer_inputs.count(name))
      throw InputError("check_op", op.name,
                       "differentiates '" + name + "', an integer input: only inputs of the op's dtype have a gradient");
    torch_inputs[name].requires_grad_(true);
  }
  const auto torch_outputs =
      report.has_libtorch ? guarded(op, "torch_forward", input_names, [&] { return f.torch_forward(torch_inputs); })
                          : std::map<std::string, torch::Tensor>{};
  TensorMap reference_outputs;
  for (const auto& [name, out] : torch_outputs) {
    if (out.scalar_type() != torch_dtype)
      throw InputError("check_op", op.name,
                       fmt::format("torch_forward returned {} for a {} op{}; compute in the inputs' dtype",
                                   c10::toString(out.scalar_type()), to_string(op.dtype),
                                   torch_outputs.size() > 1 ? " (output '" + name + "')" : ""));
    reference_outputs[name] = from_torch(out);
  }
  bool hand_written_is_float32 = true;  // every value the hand-written side returned
  // The forward runs once here, and what it saves serves every draw's backward.
  TensorMap saved;
  const TensorMap outputs = guarded(op, "forward", input_names, [&] { return f.forward(inputs, saved); });
  require_consistent(op, "forward", outputs);
  if (!report.has_libtorch) reference_outputs = outputs;  // only their shapes are used, for the upstream
  // Finite differences take the hand-written outputs that LibTorch's name, in their shapes: a
  // forward without them fails its rows below, and nothing is differenced.
  bool outputs_complete = true;
  for (const auto& [name, reference] : reference_outputs) {
    const auto it = outputs.find(name);
    outputs_complete = outputs_complete && it != outputs.end() && it->second.shape == reference.shape;
  }
  for (const auto& [name, tensor] : outputs)
    if (!reference_outputs.count(name))
      throw InputError("check_op", op.name,
                       "the forward returned '" + name + "', which LibTorch's forward does not: name the outputs alike");
  for (const auto& [name, reference] : report.has_libtorch ? reference_outputs : TensorMap{}) {
    const auto it = outputs.find(name);
    const SubmittedGradient hand_written = it != outputs.end()
                                               ? SubmittedGradient{it->second, ""}
                                               : SubmittedGradient{std::nullopt, "missing: the forward returned no '" + name + "'"};
    report.forward.push_back(compare_tensor(name, hand_written, reference, tol));
  }

  for (int draw = 1; draw <= draws; ++draw) {
    if (!report.has_libtorch && draw > 1) break;  // the draws are for autograd; differences take the first
    TensorMap upstream;
    std::vector<torch::Tensor> outs, torch_upstream;
    for (const auto& [name, reference] : reference_outputs) {
      upstream[name] = normal_like(reference.shape, op.dtype, rng);
      // An output that depends on no differentiated input contributes nothing to uᵀJ.
      if (!report.has_libtorch || !torch_outputs.at(name).requires_grad()) continue;
      outs.push_back(torch_outputs.at(name));
      torch_upstream.push_back(to_torch(upstream[name], torch_dtype));
    }
    std::vector<torch::Tensor> wrt;
    for (const auto& name : op.differentiated) wrt.push_back(torch_inputs.at(name));
    // Outputs that don't depend on an input (rstd on the gain) are fine: their part is zero.
    const auto vjp = report.has_libtorch && !outs.empty()
                         ? guarded(op, "LibTorch's autograd of torch_forward", input_names, [&] {
                             return torch::autograd::grad(outs, wrt, torch_upstream, /*retain_graph=*/true,
                                                          /*create_graph=*/false, /*allow_unused=*/true);
                           })
                         : std::vector<torch::Tensor>(wrt.size());
    std::optional<Accumulated> accumulated;
    if (f.accumulate)
      accumulated = guarded(op, "accumulating_backward", input_names,
                            [&] { return run_accumulating(op, f, inputs, saved, upstream, rng); });
    const TensorMap hand_written =
        accumulated ? accumulated->into_zeros
                    : guarded(op, "backward", input_names, [&] { return f.backward(inputs, saved, upstream); });
    require_consistent(op, "backward", hand_written);
    for (const auto& [name, tensor] : hand_written) hand_written_is_float32 = hand_written_is_float32 && is_float32(tensor);
    for (size_t i = 0; i < op.differentiated.size(); ++i) {
      const std::string& name = op.differentiated[i];
      SubmittedGradient submitted;
      if (const auto it = hand_written.find(name); it != hand_written.end()) submitted.tensor = it->second;
      else submitted.problem = "missing: the backward returned no gradient for '" + name + "'";
      if (draw == 1 && outputs_complete)
        guarded(op, "forward (finite differences)", input_names, [&] {
          append_finite_differences(report, op, f, inputs, name, submitted, upstream, seed);
          return 0;
        });
      if (draw == 1 && accumulated && !report.has_libtorch) {
        // Without autograd, what it added to random contents must be what it wrote into zeros.
        TensorComparison onto = compare_tensor(fmt::format("d{} (added, against into 0)", name),
                                               SubmittedGradient{accumulated->added.at(name), ""},
                                               accumulated->into_zeros.at(name), report.finite_difference_tolerances);
        TensorComparison into;
        into.passed = true;
        hint_overwrite(onto, into);
        report.finite_differences.push_back(std::move(onto));
      }
      if (!report.has_libtorch) continue;
      const Tensor reference = vjp[i].defined() ? from_torch(vjp[i]) : from_torch(torch::zeros_like(wrt[i]));
      if (accumulated) {
        // What it added to random contents, then what it wrote into zeros: both must be uᵀJ.
        const SubmittedGradient added{accumulated->added.at(name), ""};
        TensorComparison onto = compare_tensor(fmt::format("d{} (u #{}, added)", name, draw), added, reference, tol);
        TensorComparison into = compare_tensor(fmt::format("d{} (u #{}, into 0)", name, draw), submitted, reference, tol);
        diagnose_tensor(onto, added, reference, tol);
        diagnose_tensor(into, submitted, reference, tol);
        hint_overwrite(onto, into);
        report.gradients.push_back(std::move(onto));
        report.gradients.push_back(into);
      } else {
        TensorComparison c = compare_tensor(fmt::format("d{} (u #{})", name, draw), submitted, reference, tol);
        diagnose_tensor(c, submitted, reference, tol);
        report.gradients.push_back(std::move(c));
      }
    }
  }
  for (const auto& [name, tensor] : outputs) hand_written_is_float32 = hand_written_is_float32 && is_float32(tensor);
  hint_float32_arithmetic(report, op, hand_written_is_float32);
  return report;
}

}  // namespace

namespace {

// The registered LibTorch forwards, by name: filled by static initialisers, so built on first
// use (no order-of-initialisation trap).
struct TorchForwards {
  std::map<std::string, TorchForward> one;
  std::map<std::string, TorchForwardOutputs> several;
};
TorchForwards& registered() {
  static TorchForwards forwards;
  return forwards;
}

void refuse_taken(const std::string& name) {
  if (registered().one.count(name) || registered().several.count(name))
    throw std::logic_error("register_torch_forward: '" + name + "' is registered twice");
}

}  // namespace

bool register_torch_forward(const std::string& name, TorchForward forward) {
  refuse_taken(name);
  registered().one[name] = std::move(forward);
  return true;
}

bool register_torch_forward_outputs(const std::string& name, TorchForwardOutputs forward_outputs) {
  refuse_taken(name);
  registered().several[name] = std::move(forward_outputs);
  return true;
}

OpCheckReport check_op(const HandWrittenOp& given, std::optional<uint32_t> seed, std::optional<int> draws) {
  const std::string& name = given.torch_forward_name;
  if (name.empty()) return check_resolved(given, seed, draws);
  if (given.torch_forward || given.torch_forward_outputs)
    throw InputError("check_op", given.name,
                     "both a torch_forward and a torch_forward_name ('" + name + "') are given: keep one");
  HandWrittenOp op = given;
  const TorchForwards& forwards = registered();
  if (const auto it = forwards.one.find(name); it != forwards.one.end()) op.torch_forward = it->second;
  else if (const auto several = forwards.several.find(name); several != forwards.several.end())
    op.torch_forward_outputs = several->second;
  else
    throw InputError("check_op", given.name,
                     "torch_forward_name '" + name + "' is not registered: GRADVERIFY_TORCH_FORWARD(" + name +
                         ", ...) must be compiled into this executable (torch/torch_forward_registry.h)");
  return check_resolved(op, seed, draws);
}

OpCheckReport check_op(const OpDescription& description, std::optional<uint32_t> seed, std::optional<int> draws) {
  HandWrittenOp op;
  static_cast<OpDescription&>(op) = description;
  return check_op(op, seed, draws);
}

}  // namespace gradverify
