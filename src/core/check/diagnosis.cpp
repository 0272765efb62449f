#include "gradverify/check/diagnosis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "gradverify/check/mistakes.h"

namespace gradverify {
namespace {

// Replaying a mistake costs a forward and a backward pass; above this many multiply-adds
// per pass (batch x parameters) the replays are skipped, so a diagnosis never takes longer
// than the check.
constexpr double kMaxReplayWork = 1e8;

// "dW3", "db3", "dL/dz3", "dL/dh3": a gradient as a student names it.
std::string gradient_label(const std::string& name) {
  if (name[0] == 'W' || name[0] == 'b') return gradient_key(name);
  return "dL/d" + name;
}

int64_t layer_of(const std::string& name) { return std::stoll(name.substr(1)); }

std::string join_labels(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i)
    s += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + gradient_label(names[i]);
  return s;
}

std::string join_alternatives(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
  return s;
}

// The steps of the backward pass, each named for what it computes.
std::string loss_step(const MlpSpec& spec) { return fmt::format("the loss backward ({})", to_string(spec.loss)); }
std::string activation_step(const MlpSpec& spec, int64_t k) {
  return fmt::format("layer {}'s {} backward", k, to_string(spec.activation(k)));
}
std::string weight_step(int64_t k) {
  return fmt::format("layer {}'s weight gradient ({}ᵀ·dz{})", k, k == 1 ? std::string("X") : "h" + std::to_string(k - 1), k);
}
std::string bias_step(int64_t k) { return fmt::format("layer {}'s bias gradient (dz{} summed over the batch)", k, k); }
std::string input_step(int64_t k) { return fmt::format("layer {}'s backward to its input (dz{}·W{}ᵀ)", k, k, k); }

std::string cause_of(const std::vector<std::string>& suspects) {
  return suspects.size() == 1 ? suspects[0] + " is wrong" : "the mistake is in " + join_alternatives(suspects);
}

// The backward walk's finding, before it is put in words.
struct Walk {
  int64_t layer = 0;
  std::string last_match, last_match_text;  // the last gradient known right, and how it is known
  std::vector<std::string> mismatched;
  std::vector<std::string> suspects;
  std::string step_of_failing;  // one of dW_k and db_k failing, the other right, no dz_k: its own step
  std::string other;            // and the one that matches
};

std::string in_words(const Walk& w) {
  const bool plural = w.mismatched.size() > 1;
  if (!w.step_of_failing.empty()) {
    // The likeliest first: the failing parameter's own step, else a dz wrong only where the
    // other parameter can't see it (a sample whose inputs are 0, say).
    const std::vector<std::string> rest(w.suspects.begin() + 1, w.suspects.end());
    return fmt::format("{}{} does not while {} does: most likely {} is wrong; otherwise dL/dz{} is wrong only where "
                       "{} can't see it, in {}",
                       w.last_match.empty() ? "" : w.last_match_text + ", ", join_labels(w.mismatched), w.other,
                       w.step_of_failing, w.layer, w.other, join_alternatives(rest));
  }
  if (w.last_match.empty())
    return fmt::format("{} {} already wrong at the first step back from the loss: {}", join_labels(w.mismatched),
                       plural ? "are" : "is", cause_of(w.suspects));
  return fmt::format("{}, {} {}: {}", w.last_match_text, join_labels(w.mismatched), plural ? "do not" : "does not",
                     cause_of(w.suspects));
}

FirstDivergence to_divergence(const Walk& w) { return {w.layer, w.last_match, w.mismatched, w.suspects, in_words(w)}; }

std::optional<Walk> walk_backward(const CheckReport& report) {
  if (report.failed_count() == 0) return std::nullopt;
  std::map<std::string, const TensorComparison*> by_name;
  for (const auto* group : {&report.parameters, &report.intermediates})
    for (const auto& c : *group) by_name[c.name] = &c;
  // A gradient missing or malformed says nothing of the maths: the walk treats it as not given.
  const auto find = [&](const std::string& name) -> const TensorComparison* {
    const auto it = by_name.find(name);
    return it == by_name.end() || it->second->missing ? nullptr : it->second;
  };
  const MlpSpec& spec = report.spec;
  const int64_t L = spec.num_layers();

  // Walk the backward pass, keeping the last gradient known right and the steps since.
  Walk w;
  std::vector<std::string> steps;
  const auto matched = [&](const std::string& name, const std::string& text) {
    w.last_match = name;
    w.last_match_text = text;
    steps.clear();
  };
  const auto diverged = [&](int64_t k, std::vector<std::string> mismatched, std::vector<std::string> suspects) {
    w.layer = k;
    w.mismatched = std::move(mismatched);
    w.suspects = std::move(suspects);
    return w;
  };
  for (int64_t k = L; k >= 1; --k) {
    steps.push_back(k == L ? loss_step(spec) : input_step(k + 1));
    const std::string h = activation_name(k), z = preactivation_name(k);
    if (const auto* c = find(h)) {
      if (!c->passed) return diverged(k, {h}, steps);
      matched(h, gradient_label(h) + " matches");
    }
    steps.push_back(activation_step(spec, k));
    const auto* cz = find(z);
    if (cz) {
      if (!cz->passed) return diverged(k, {z}, steps);
      matched(z, gradient_label(z) + " matches");
    }
    const auto* cw = find(weight_name(k));
    const auto* cb = find(bias_name(k));
    std::vector<std::string> failing, failing_steps;
    if (cw && !cw->passed) {
      failing.push_back(cw->name);
      failing_steps.push_back(weight_step(k));
    }
    if (cb && !cb->passed) {
      failing.push_back(cb->name);
      failing_steps.push_back(bias_step(k));
    }
    if (!failing.empty()) {
      // With dL/dz_k verified, only the parameter's own step is left. Without it, both
      // failing point at dL/dz_k; one failing may be its own step or a dz_k that is wrong
      // only where the other can't see it.
      if (cz) return diverged(k, failing, failing_steps);
      if (failing.size() == 2) return diverged(k, failing, steps);
      std::vector<std::string> suspects = failing_steps;  // the likeliest first
      suspects.insert(suspects.end(), steps.begin(), steps.end());
      Walk d = diverged(k, failing, suspects);
      const auto* other = failing[0] == weight_name(k) ? cb : cw;
      if (other) {  // there and right; a missing one shows nothing
        d.step_of_failing = failing_steps[0];
        d.other = gradient_label(other->name);
      }
      return d;
    }
    // Both right and not vacuous: dL/dz_k is right too, as far as a check can tell.
    if (!cz && cw && cb && !cw->vacuous && !cb->vacuous)
      matched(z, fmt::format("{} and {} match (so dL/d{} is right)", gradient_label(cw->name), gradient_label(cb->name), z));
  }
  // Only the loss, or tensors outside the walk, failed.
  return std::nullopt;
}

}  // namespace

namespace {

// a and b hold the same number of values; a may be b's shape or its transpose.
GradientSignature signature_of(const Tensor& a, const Tensor& b, bool same_shape, const Tolerances& tol) {
  GradientSignature s;
  const bool two_d = a.shape.size() == 2 && b.shape.size() == 2;
  if (two_d && a.shape[0] == b.shape[1] && a.shape[1] == b.shape[0])
    s.transposed = compare_tensor("", SubmittedGradient{transposed(a), "", false}, b, tol).passed;
  // Scale and cosine compare like with like: a transposed to b's layout when it came swapped.
  const Tensor aligned = same_shape ? a : transposed(a);
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < b.values.size(); ++i) {
    ab += aligned.values[i] * b.values[i];
    aa += aligned.values[i] * aligned.values[i];
    bb += b.values[i] * b.values[i];
  }
  s.scale = bb > 0 ? ab / bb : 0;
  s.cosine = aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0;
  return s;
}

bool all_finite(const Tensor& t) {
  for (double v : t.values)
    if (!std::isfinite(v)) return false;
  return true;
}

struct Hint {
  std::string text;
  std::string kind;
};

// What a hint about one tensor needs besides its numbers, for net and op tensors alike.
struct TensorHintContext {
  std::string label;             // the gradient as a student names it: "dW3", "dL/dz2", "db"
  std::string transposed_shape;  // why LibTorch's shape is what it is: "dW3 = h2ᵀ·dz3 has shape ..."
  const Tensor* per_sample = nullptr;  // a bias's: the gradient it sums over the batch (dz)
  std::string per_sample_label;        // that gradient's name: "dL/dz3", "dz"
  int64_t batch = 0;
};

// A hint read from one tensor alone; empty when its numbers show nothing clear.
Hint tensor_hint(const TensorComparison& c, const SubmittedGradient& actual, const Tensor& reference,
                 const TensorHintContext& context, const Tolerances& tol) {
  if (!actual.tensor) return {};
  const Tensor& a = *actual.tensor;
  const std::string& label = context.label;
  const int64_t batch = context.batch;
  int64_t nonfinite = 0;
  for (double v : a.values) nonfinite += std::isfinite(v) ? 0 : 1;
  if (nonfinite > 0)
    return {fmt::format("{} of {} entries are NaN or Inf: an entry never written, a log(0) or a division by 0, or "
                        "an overflow", nonfinite, a.values.size()),
            "nonfinite"};
  if (c.shape_mismatch) {
    if (c.signature && c.signature->transposed)
      return {fmt::format("{} is LibTorch's transposed: {}", label, context.transposed_shape), "transposed"};
    // A bias with one row per sample: dz itself, not yet summed over the batch. Or one column
    // per sample, as code that keeps samples in columns leaves it (np.sum(dZ, axis=1) missing).
    if (context.per_sample && a.shape.size() == 2 && batch > 1) {
      if (a.shape[0] == batch && compare_tensor("", actual, *context.per_sample, tol).passed)
        return {fmt::format("{} has one row per sample: it is {}, which must still be summed over the batch, "
                            "dz.sum(axis=0)", label, context.per_sample_label),
                "bias_per_sample"};
      if (a.shape[1] == batch && compare_tensor("", SubmittedGradient{transposed(a), "", false}, *context.per_sample, tol).passed)
        return {fmt::format("{} has one column per sample: it is {} column-per-sample, which must still be summed "
                            "over the batch, np.sum(dZ, axis=1, keepdims=True)", label, context.per_sample_label),
                "bias_per_sample"};
    }
    return {};
  }
  if (!c.signature || c.reference_max_abs <= tol.atol_abs) return {};
  bool all_zero = true;
  for (double v : a.values) all_zero = all_zero && v == 0.0;
  if (all_zero)
    return {fmt::format("every entry of {} is 0 although LibTorch's are not: a gradient never written, or one "
                        "overwritten (= for +=) by a contribution of 0", label),
            "all_zero"};
  if (c.signature->transposed)
    return {fmt::format("{} is LibTorch's transposed: its rows and columns are swapped", label), "transposed"};
  // An exact constant multiple: the tensor is right up to one factor. A single number is a
  // multiple of any other, so it takes two nonzero entries for this to say anything.
  const auto nonzero = std::count_if(reference.values.begin(), reference.values.end(), [](double v) { return v != 0; });
  if (nonzero < 2) return {};
  // Right to a few parts in a million, but not to this dtype's tolerance: rounding, not maths
  // (float32 arithmetic in a float64 case). Never "1 times LibTorch's".
  if (std::fabs(c.signature->scale - 1) < 1e-4 && c.signature->cosine > 1 - 1e-8) {
    if (tol.rtol >= 1e-5) return {};  // a float32 case's tolerance is float32's rounding already
    return {fmt::format("{} agrees with LibTorch to {:.2g} relative, not to the rtol {:g} this case asks: the maths is "
                        "right and the rounding is not; is something computed in float32 (an np.float32 array, a "
                        "float variable) in this float64 case?",
                        label, c.max_rel_diff, tol.rtol),
            "precision"};
  }
  Tensor scaled = reference;
  for (double& v : scaled.values) v *= c.signature->scale;
  if (std::fabs(c.signature->scale) > 1e-6 && compare_tensor("", actual, scaled, tol).passed)
    return {fmt::format("every entry of {} is {:.6g} times LibTorch's: a constant factor is wrong", label,
                        c.signature->scale),
            "constant_factor"};
  return {};
}

// Each failing tensor's signature, when its numbers can be read as a whole: present, finite,
// and of LibTorch's shape or its transpose.
void fill_signatures(std::vector<TensorComparison>& tensors, const SubmittedGradients& actual,
                     const TensorMap& reference, const Tolerances& tol) {
  for (auto& c : tensors) {
    const auto it = actual.find(c.name);
    if (c.passed || it == actual.end() || !it->second.tensor || !all_finite(*it->second.tensor)) continue;
    const Tensor& a = *it->second.tensor;
    const Tensor& b = reference.at(c.name);
    if (!c.shape_mismatch) {
      c.signature = signature_of(a, b, true, tol);
    } else if (a.shape.size() == 2 && b.shape.size() == 2 && a.shape[0] == b.shape[1] && a.shape[1] == b.shape[0]) {
      c.signature = signature_of(a, b, false, tol);  // came transposed, or meant to
    }
  }
}

// A net's tensor as a hint names it: W_k's shape (or an intermediate's), and a bias's
// per-sample dz_k.
TensorHintContext net_hint_context(const std::string& name, const Tensor& reference, const TensorMap& reference_all,
                                   int64_t batch) {
  const int64_t k = layer_of(name);
  TensorHintContext context;
  context.label = gradient_label(name);
  if (name[0] == 'W')
    context.transposed_shape = fmt::format("dW{} = {}ᵀ·dz{} has shape [fan_in, fan_out] = {}", k,
                                           k == 1 ? std::string("X") : "h" + std::to_string(k - 1), k,
                                           shape_to_string(reference.shape));
  else if (name[0] == 'z' || name[0] == 'h')
    context.transposed_shape = fmt::format("{} has one row per sample, [batch, width] = {}", context.label,
                                           shape_to_string(reference.shape));
  const auto dz = reference_all.find(preactivation_name(k));
  if (name[0] == 'b' && dz != reference_all.end()) context.per_sample = &dz->second;
  context.per_sample_label = "dL/dz" + std::to_string(k);
  context.batch = batch;
  return context;
}

// An op's answer tensor as a hint names it; db's per-sample gradient is the op's input dz.
TensorHintContext op_hint_context(const std::string& name, const Tensor& reference, const OpCase& op_case) {
  TensorHintContext context;
  context.label = name;
  const std::string shape = shape_to_string(reference.shape);
  if (name == "dW") context.transposed_shape = "dW = xᵀ·dz has shape [in, out] = " + shape;
  else if (name == "dx") context.transposed_shape = "dx = dz·Wᵀ has shape [batch, in] = " + shape;
  else context.transposed_shape = name + " has the shape of " + name.substr(1) + ", " + shape;
  if (name == "db") {
    context.per_sample = &op_case.inputs.at("dz");
    context.per_sample_label = "dz";
    context.batch = context.per_sample->shape.empty() ? 0 : context.per_sample->shape[0];
  }
  return context;
}

// A replay that overflows (the unshifted softmax) is matched by NaN or Inf in each of its
// places, and by its numbers wherever the submission is finite. The submission may have NaN in
// more places: the replay's backward selects (z > 0 ? dh : 0), while a student's dh * (z > 0)
// spreads NaN through the 0 as well.
bool matches_overflowing_replay(const std::string& name, Tensor actual, Tensor replay, const Tolerances& tol) {
  if (actual.values.size() != replay.values.size()) return false;
  for (size_t i = 0; i < replay.values.size(); ++i) {
    if (!std::isfinite(replay.values[i]) && std::isfinite(actual.values[i])) return false;
    if (!std::isfinite(actual.values[i])) replay.values[i] = actual.values[i] = 0;
  }
  return compare_tensor(name, SubmittedGradient{actual, "", false}, replay, tol).passed;
}

// Whether a replayed mistake explains a submission: it matches the replay on every tensor it
// was checked on, and on each failing one the replay is either exactly zero (then it gives the
// submission's numbers exactly: one sample's row of a dead layer, say) or stands clear of
// zero. A replay merely within tolerance of zero (a bias averaged down to the size of atol)
// is matched by an untouched buffer too, and would name a mistake where the numbers only say
// "all zero". A missing or malformed tensor is no evidence either way.
bool replay_explains(const std::vector<TensorComparison>& checked, const SubmittedGradients& actual,
                     const TensorMap& replay, const Tolerances& tol) {
  for (const auto& c : checked) {
    if (c.missing) continue;
    const auto it = actual.find(c.name);
    if (it == actual.end() || !it->second.tensor) return false;
    const Tensor& r = replay.at(c.name);
    if (!(all_finite(r) ? compare_tensor(c.name, it->second, r, tol).passed
                        : matches_overflowing_replay(c.name, *it->second.tensor, r, tol)))
      return false;
    if (c.passed) continue;
    const bool exactly_zero = std::all_of(r.values.begin(), r.values.end(), [](double v) { return v == 0; });
    const SubmittedGradient zeros{Tensor{r.shape, std::vector<double>(r.values.size(), 0.0)}, ""};
    if (!exactly_zero && compare_tensor(c.name, zeros, r, tol).passed) return false;
  }
  return true;
}

// Whether some failing tensor has numbers to read. When every failure is a missing or
// malformed tensor, there is no maths to diagnose, and none is.
bool has_evidence(const std::vector<const std::vector<TensorComparison>*>& groups) {
  for (const auto* group : groups)
    for (const auto& c : *group)
      if (!c.passed && !c.missing) return true;
  return false;
}

// The replays' one hint: the matching mistake's line, or, when several mistakes give exactly
// these numbers on this problem, all of them with that said.
std::string replay_hint(std::vector<std::string> lines) {
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  if (lines.size() == 1) return lines[0];
  std::string s = fmt::format("{} mistakes give exactly these numbers on this problem, so the check can't tell "
                              "which it is: ", lines.size() == 2 ? std::string("two") : std::to_string(lines.size()));
  for (size_t i = 0; i < lines.size(); ++i) s += (i == 0 ? "" : "; or ") + lines[i];
  return s;
}

void add_hint(TensorComparison& c, const std::string& text, const std::vector<std::string>& kinds) {
  c.hint = text;
  c.hint_kinds = kinds;
}

// The step of the backward pass a replayed mistake sits in, where the walk first sees it
// (layer k of the first divergence).
std::string mistake_step(const MlpSpec& spec, Mistake m, int64_t k) {
  switch (m) {
    case Mistake::bias_averaged:
    case Mistake::bias_first_row:
    case Mistake::weight_decay_on_biases: return bias_step(k);
    case Mistake::weight_decay_doubled:
    case Mistake::weight_decay_halved:
    case Mistake::weight_decay_forgotten: return weight_step(k);  // its decay term
    case Mistake::batch_mean_twice: return fmt::format("layer {0}'s step from dz{0} to dW{0} and db{0}", k);
    case Mistake::update_returned: return "the step that returns the parameter gradients";
    case Mistake::relu_grad_one_at_zero:
    case Mistake::relu_mask_on_upstream:
    case Mistake::derivative_of_output:
    case Mistake::derivative_formula_on_z:
    case Mistake::activation_derivative_forgotten:
    case Mistake::leaky_slope_forgotten: return activation_step(spec, k);
    case Mistake::bce_extra_sigmoid_derivative: return activation_step(spec, spec.num_layers());
    case Mistake::input_gradient_untransposed: return input_step(k + 1);  // it changes dh_k
    case Mistake::loss_summed:
    case Mistake::loss_summed_over_all:
    case Mistake::loss_mean_over_batch_only:
    case Mistake::loss_sign_flipped:
    case Mistake::mse_factor_two_missing:
    case Mistake::mse_factor_two_doubled:
    case Mistake::mse_half_summed:
    case Mistake::logits_extra_sigmoid_derivative:
    case Mistake::softmax_onehot_not_subtracted:
    case Mistake::softmax_jacobian_after_fused:
    case Mistake::softmax_without_max_shift:
    case Mistake::cross_entropy_mean_over_classes: return loss_step(spec);
  }
  return loss_step(spec);
}

// One voice: when replays name the mistake, the first divergence names its step and no other.
void explain_by_replays(Walk& w, const MlpSpec& spec, const std::vector<MistakeSite>& sites) {
  std::vector<std::string> suspects;
  for (const MistakeSite& site : sites) {
    const std::string step = mistake_step(spec, site.mistake, w.layer);
    if (std::find(suspects.begin(), suspects.end(), step) == suspects.end()) suspects.push_back(step);
  }
  w.suspects = suspects;
  w.step_of_failing.clear();
}

}  // namespace

void diagnose(CheckReport& report, const Problem& problem, const SubmittedGradients& actual,
              const TensorMap& reference) {
  if (report.failed_count() == 0 || !has_evidence({&report.parameters, &report.intermediates})) return;
  std::optional<Walk> walk = walk_backward(report);
  for (auto* group : {&report.parameters, &report.intermediates})
    fill_signatures(*group, actual, reference, report.tolerances);

  // Replays: which classic mistake, planted in the manual MLP, gives exactly these numbers.
  std::vector<MistakeSite> sites = applicable_sites(problem.spec, problem.batch());
  for (const auto& c : report.parameters) {  // the update returned: its learning rate, read off
    if (c.passed || !c.signature) continue;
    const MistakeSite update{Mistake::update_returned, 0, std::nullopt, false,
                             learning_rate_near(c.signature->scale).value_or(0)};
    if (mistake_applies(problem.spec, problem.batch(), update)) sites.push_back(update);
    break;
  }
  std::vector<MistakeSite> matched;
  const double work = static_cast<double>(problem.batch()) * static_cast<double>(problem.spec.parameter_count());
  if (work <= kMaxReplayWork) {
    for (const MistakeSite& site : sites) {
      const TensorMap replay = replay_mistake(problem, site);
      if (replay_explains(report.parameters, actual, replay, report.tolerances) &&
          replay_explains(report.intermediates, actual, replay, report.tolerances))
        matched.push_back(site);
    }
  } else {
    report.notes.push_back("hints from replayed mistakes were skipped: the net is too large to replay quickly");
  }
  // The same mistake may match at several sites (in layer 3, and "in every layer" when the
  // others show no effect): the one planted in the fewest layers says most, so only it is kept.
  const auto planted = [&](const MistakeSite& s) { return planted_layers(problem.spec, problem.batch(), s).size(); };
  std::vector<MistakeSite> kept;
  std::vector<std::string> lines, kinds;
  for (const MistakeSite& site : matched) {
    const bool more_specific_matched = std::any_of(matched.begin(), matched.end(), [&](const MistakeSite& other) {
      return other.mistake == site.mistake && planted(other) < planted(site);
    });
    if (more_specific_matched) continue;
    kept.push_back(site);
    lines.push_back(mistake_hint(problem.spec, problem.batch(), site, !report.intermediates.empty()));
    if (std::find(kinds.begin(), kinds.end(), to_string(site.mistake)) == kinds.end())
      kinds.emplace_back(to_string(site.mistake));
  }

  if (walk && !kept.empty()) explain_by_replays(*walk, problem.spec, kept);
  if (walk) report.first_divergence = to_divergence(*walk);
  const std::string hint = kept.empty() ? "" : replay_hint(lines);
  for (auto* group : {&report.parameters, &report.intermediates})
    for (auto& c : *group) {
      if (c.passed || c.missing) continue;
      if (!hint.empty()) {
        add_hint(c, hint, kinds);
        continue;
      }
      const Tensor& b = reference.at(c.name);
      const auto it = actual.find(c.name);
      Hint h = tensor_hint(c, it->second, b, net_hint_context(c.name, b, reference, problem.batch()), report.tolerances);
      add_hint(c, h.text, h.kind.empty() ? std::vector<std::string>{} : std::vector<std::string>{h.kind});
    }
}

void diagnose_op(std::vector<TensorComparison>& tensors, const OpCase& op_case, const SubmittedGradients& answer,
                 const TensorMap& reference, const Tolerances& tol) {
  if (!has_evidence({&tensors})) return;
  fill_signatures(tensors, answer, reference, tol);
  // Replays, as for a net: a mistake is named only when the whole answer is that mistake's,
  // and only on two numbers at least: one number is a multiple of any other.
  int64_t evidence = 0;
  for (const auto& c : tensors)
    if (!c.passed && !c.missing)
      for (double v : reference.at(c.name).values) evidence += v != 0 ? 1 : 0;
  std::vector<std::string> lines, kinds;
  for (const Mistake mistake : evidence >= 2 ? op_mistakes(op_case) : std::vector<Mistake>{}) {
    if (!replay_explains(tensors, answer, replay_op_mistake(op_case, mistake), tol)) continue;
    lines.push_back(op_mistake_hint(op_case, mistake));
    kinds.emplace_back(to_string(mistake));
  }
  const std::string hint = lines.empty() ? "" : replay_hint(lines);
  for (auto& c : tensors) {
    if (c.passed || c.missing) continue;
    if (!hint.empty()) {
      add_hint(c, hint, kinds);
      continue;
    }
    const Tensor& b = reference.at(c.name);
    Hint h = tensor_hint(c, answer.at(c.name), b, op_hint_context(c.name, b, op_case), tol);
    add_hint(c, h.text, h.kind.empty() ? std::vector<std::string>{} : std::vector<std::string>{h.kind});
  }
}

void diagnose_tensor(TensorComparison& c, const SubmittedGradient& actual, const Tensor& reference,
                     const Tolerances& tol) {
  if (c.passed) return;
  std::vector<TensorComparison> one = {c};
  fill_signatures(one, {{c.name, actual}}, {{c.name, reference}}, tol);
  c.signature = one[0].signature;
  TensorHintContext context;
  context.label = c.name;
  context.transposed_shape = "its shape must be " + shape_to_string(reference.shape);
  Hint h = tensor_hint(c, actual, reference, context, tol);
  c.hint = std::move(h.text);
  c.hint_kinds.clear();
  if (!h.kind.empty()) c.hint_kinds.push_back(h.kind);
}

}  // namespace gradverify
