#include "gradverify/check/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/problem/json_tensor.h"

namespace gradverify {
namespace {

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.3e}", v);
}

std::string value(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.10g}", v);
}

std::string verdict_label(const TensorComparison& c) {
  if (!c.passed) return c.malformed ? "FAIL (malformed)" : c.missing ? "FAIL (missing)" : c.shape_mismatch ? "FAIL (shape)" : "FAIL";
  return c.vacuous ? "VACUOUS" : "ok";
}

std::string activations_list(const MlpSpec& spec) {
  std::string s;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) s += (s.empty() ? "" : ",") + written_activation(spec, k);
  return s;
}

void append_rows(std::string& out, const std::vector<TensorComparison>& rows) {
  for (const auto& c : rows) {
    const bool compared = !c.missing && !c.shape_mismatch;
    out += fmt::format("  {:<6} {:<10} {:>13} {:>13}  {:<9} {:>17} {:>17}  {}\n", c.name, shape_to_string(c.shape),
                       compared ? number(c.max_abs_diff) : "-", compared ? number(c.max_rel_diff) : "-",
                       compared ? shape_to_string(c.worst_index) : "-", compared ? value(c.worst_actual) : "-",
                       compared ? value(c.worst_reference) : "-", verdict_label(c));
  }
}

using Groups = std::vector<const std::vector<TensorComparison>*>;

std::string and_list(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return s;
}

// A gradient by the key an answer gives it: dW1 for W1, dz1 for z1; an op's dW as it is.
std::string key_of(const std::string& name) { return name[0] == 'd' ? name : gradient_key(name); }

// What failed, by how: "1 of 16 gradients differ from LibTorch: dW1 (4 of 8 elements); dW3 is
// not in your answer". Missing and malformed ones are named as such, never counted as wrong maths.
std::string failures(const Groups& groups, const std::string& source) {
  int64_t total = 0;
  std::vector<std::string> differ, absent, malformed;
  for (const auto* group : groups)
    for (const auto& c : *group) {
      ++total;
      if (c.passed) continue;
      const std::string key = key_of(c.name);
      if (c.malformed) malformed.push_back(key);
      else if (c.missing) absent.push_back(key);
      else if (c.shape_mismatch) differ.push_back(key + " (shape)");
      else differ.push_back(fmt::format("{} ({} of {} elements)", key, c.mismatched, c.elements));
    }
  std::vector<std::string> parts;
  if (!differ.empty()) {
    std::string names;
    for (const auto& n : differ) names += (names.empty() ? "" : ", ") + n;
    parts.push_back(fmt::format("{} of {} gradients {} from LibTorch: {}", differ.size(), total,
                                differ.size() == 1 ? "differs" : "differ", names));
  }
  if (!absent.empty())
    parts.push_back(fmt::format("{} {} not in {}", and_list(absent), absent.size() == 1 ? "is" : "are", source));
  if (!malformed.empty())
    parts.push_back(fmt::format("{} {} not numbers", and_list(malformed), malformed.size() == 1 ? "is" : "are"));
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : "; ") + p;
  return s;
}

std::string overall_line(const CheckReport& r) {
  const int64_t total = static_cast<int64_t>(r.parameters.size() + r.intermediates.size());
  switch (r.verdict()) {
    case Verdict::pass:
      return fmt::format("PASS: all {} gradients match LibTorch", total);
    case Verdict::vacuous: {
      const auto vacuous_parameters = std::count_if(r.parameters.begin(), r.parameters.end(),
                                                    [](const TensorComparison& c) { return c.vacuous; });
      const std::string all_parameters =
          vacuous_parameters == static_cast<int64_t>(r.parameters.size()) && r.vacuous_count() > vacuous_parameters
              ? fmt::format(" (all {} parameter gradients)", vacuous_parameters)
              : "";
      return fmt::format(
          "VACUOUS: nothing differs, but {} of {} gradients are vacuous{}, so the check proved nothing about them",
          r.vacuous_count(), total, all_parameters);
    }
    case Verdict::fail:
      break;
  }
  std::string what = failures({&r.parameters, &r.intermediates}, r.actual_source);
  if (!r.loss_passed) what += std::string(what.empty() ? "" : "; ") + "the loss differs from LibTorch's";
  return "FAIL: " + what;
}

const std::string kTableHeader = fmt::format("  {:<6} {:<10} {:>13} {:>13}  {:<9} {:>17} {:>17}  {}\n", "grad", "shape",
                                             "max abs diff", "max rel diff", "worst/tol", "under test", "LibTorch",
                                             "verdict");

// Under the table: each failure's message one per line; identical messages (vacuous ones,
// typically) once with all names. A gradient simply absent is said in the last line instead.
std::string messages(const Groups& groups) {
  std::vector<std::pair<std::string, std::string>> details;  // message, names
  for (const auto* group : groups)
    for (const auto& c : *group) {
      if (c.message.empty() || (c.missing && !c.malformed)) continue;
      auto same = std::find_if(details.begin(), details.end(), [&](const auto& d) { return d.first == c.message; });
      if (same == details.end() || !c.passed) details.emplace_back(c.message, c.name);
      else same->second += ", " + c.name;
    }
  std::string out = details.empty() ? "" : "\n";
  for (const auto& [message, names] : details) out += fmt::format("  {}: {}\n", names, message);
  return out;
}

// The diagnosis in words: where it first goes wrong (for a net), then the hints, each once
// with the gradients it applies to.
std::string what_this_looks_like(const Groups& groups, const std::optional<FirstDivergence>& first_divergence) {
  std::vector<std::pair<std::string, std::string>> hints;  // hint, names
  for (const auto* group : groups)
    for (const auto& c : *group) {
      if (c.passed || c.hint.empty()) continue;
      auto same = std::find_if(hints.begin(), hints.end(), [&](const auto& h) { return h.first == c.hint; });
      if (same == hints.end()) hints.emplace_back(c.hint, c.name);
      else same->second += ", " + c.name;
    }
  if (!first_divergence && hints.empty()) return "";
  std::string out = "\n  what this looks like:\n";
  if (first_divergence) out += fmt::format("    first divergence: {}\n", first_divergence->message);
  for (const auto& [hint, names] : hints) out += fmt::format("    hint ({}): {}\n", names, hint);
  return out;
}

std::string finite_difference_summary(const CheckReport& r) {
  if (!r.finite_differences) return "";
  const FiniteDifferenceReport& fd = *r.finite_differences;
  std::string out;
  if (fd.mode == FiniteDifferenceMode::direction && fd.direction) {
    const DirectionalDifference& d = *fd.direction;
    out += fmt::format("\n  finite differences (float64 loss) along one random direction u (seed {}, step {:.2g}):\n",
                       fd.seed, d.step);
    if (d.near_kink) return out + "    the step crosses a ReLU kink even at float64's step, so nothing is judged\n";
    out += fmt::format("    D = {}; LibTorch's gradient·u = {} {}", value(d.finite_difference), value(d.reference),
                       d.reference_agrees ? "agrees" : "DISAGREES (a finding about the problem, not the code under test)");
    if (d.actual)
      out += fmt::format("; under test {} {}", value(*d.actual), *d.actual_agrees ? "agrees" : "DISAGREES");
    return out + fmt::format(" (bound {})\n", number(d.tolerance));
  }
  if (fd.mode != FiniteDifferenceMode::elements) return "";
  int64_t elements = 0;
  for (const auto& e : fd.elements) elements += e.elements;
  const int64_t judged = elements - fd.near_kink();
  out += fmt::format("\n  finite differences (float64 loss, step {:.2g}·max(1,|θ|), every parameter element):\n",
                     fd.relative_step);
  if (fd.reference_disagreements() == 0) {
    out += fmt::format("    LibTorch agrees on all {} judged elements", judged);
  } else {
    const auto worst = std::max_element(fd.elements.begin(), fd.elements.end(), [](const auto& a, const auto& b) {
      return a.reference_disagreements < b.reference_disagreements;
    });
    out += fmt::format("    LibTorch DISAGREES on {} of {} judged elements (e.g. {}{}: {} vs {}): a finding about the "
                       "problem (the BCE log clamp, a saturated unit), not about the code under test",
                       fd.reference_disagreements(), judged, worst->name, shape_to_string(worst->worst_index),
                       value(worst->worst_finite_difference), value(worst->worst_reference));
  }
  if (fd.near_kink() > 0)
    out += fmt::format("; {} {} within a step of a ReLU kink: counted, not judged", fd.near_kink(),
                       fd.near_kink() == 1 ? "element lies" : "elements lie");
  out += "\n";
  if (fd.actual_disagreements() > 0)
    out += fmt::format("    the gradients under test disagree with them on {} of the {} judged elements\n",
                       fd.actual_disagreements(), judged);
  return out;
}

}  // namespace

std::string format_comparison_table(const std::vector<TensorComparison>& tensors, const std::string& source,
                                    const std::vector<std::string>& notes) {
  std::string out = kTableHeader;
  append_rows(out, tensors);
  const Groups groups = {&tensors};
  out += messages(groups) + what_this_looks_like(groups, std::nullopt);
  for (const auto& note : notes) out += fmt::format("  note: {}\n", note);
  const bool passed = std::all_of(tensors.begin(), tensors.end(), [](const TensorComparison& c) { return c.passed; });
  if (!passed) out += "\nFAIL: " + failures(groups, source) + "\n";
  return out;
}

std::string format_report_table(const CheckReport& r) {
  std::string out;
  out += fmt::format("gradverify: {} vs LibTorch autograd\n", r.actual_source);
  out += fmt::format("  net      {}  {}  loss {}  {}\n", layers_to_string(r.spec.layers), activations_list(r.spec),
                     to_string(r.spec.loss), to_string(r.spec.dtype));
  out += fmt::format("  data     {}, batch {}\n", r.data_description, r.batch);
  out += fmt::format("  pass if  |a - b| <= atol + rtol*|b| for every element (a: under test, b: LibTorch),\n"
                     "           rtol {:g}, atol {:g} + {:g} * max|b| of each tensor\n",
                     r.tolerances.rtol, r.tolerances.atol_abs, r.tolerances.atol_scale);
  if (r.actual_loss)
    out += fmt::format("  loss     {} {}, LibTorch {}  {}\n", "under test", value(*r.actual_loss), value(r.reference_loss),
                       r.loss_passed ? "ok" : "FAIL");
  else
    out += fmt::format("  loss     LibTorch {}\n", value(r.reference_loss));
  if (r.spec.weight_decay > 0)
    out += fmt::format("           = data loss {} + weight decay (λ/2)·Σ‖W‖² {} (λ = {:g}, weights only)\n",
                       value(r.reference_loss - r.weight_penalty), value(r.weight_penalty), r.spec.weight_decay);
  // Small outputs are worth seeing: the notebook's dead net shows as [0.5, 0.5, 0.5, 0.5].
  const auto& pred = r.reference_prediction;
  if (!pred.values.empty() && pred.numel() <= 16) {
    std::string values;
    for (double v : pred.values) values += (values.empty() ? "" : ", ") + fmt::format("{:.6g}", v);
    out += fmt::format("  output   LibTorch [{}]\n", values);
  }
  out += "\n" + kTableHeader;
  append_rows(out, r.parameters);
  if (!r.intermediates.empty()) {
    out += "  intermediates: dL/dz_k (pre-activation) and dL/dh_k (layer output)\n";
    append_rows(out, r.intermediates);
  }

  const Groups groups = {&r.parameters, &r.intermediates};
  out += messages(groups);

  // Dead units explain a wrong gradient; with no gradient given at all there is none to explain.
  const bool any_given = std::any_of(r.parameters.begin(), r.parameters.end(), [](const auto& c) { return !c.missing; }) ||
                         !r.intermediates.empty();
  if (!r.dead_relu_units.empty() && any_given) {
    std::string dead;
    for (const auto& d : r.dead_relu_units)
      dead += fmt::format("{}layer {}: {} of {}", dead.empty() ? "" : ", ", d.layer, d.dead, d.units);
    out += fmt::format("\n  dead ReLU units (zero for every sample): {}\n", dead);
  }
  out += what_this_looks_like(groups, r.first_divergence);
  out += finite_difference_summary(r);
  for (const auto& note : r.notes) out += fmt::format("  note: {}\n", note);
  out += "\n" + overall_line(r) + "\n";
  return out;
}

namespace {

nlohmann::json finite_differences_json(const FiniteDifferenceReport& fd) {
  using nlohmann::json;
  json j;
  j["mode"] = to_string(fd.mode);
  j["relative_step"] = fd.relative_step;
  j["seed"] = fd.seed;
  j["near_kink"] = fd.near_kink();
  j["reference_disagreements"] = fd.reference_disagreements();
  j["actual_disagreements"] = fd.actual_disagreements();
  j["elements"] = json::array();
  for (const auto& e : fd.elements)
    j["elements"].push_back({{"name", e.name},
                             {"elements", e.elements},
                             {"near_kink", e.near_kink},
                             {"reference_disagreements", e.reference_disagreements},
                             {"actual_disagreements", e.actual_disagreements},
                             {"max_abs_diff_reference", detail::number_to_json(e.max_abs_diff_reference)},
                             {"worst_index", e.worst_index.empty() ? json(nullptr) : json(e.worst_index)},
                             {"worst_finite_difference", e.worst_index.empty() ? json(nullptr) : detail::number_to_json(e.worst_finite_difference)},
                             {"worst_reference", e.worst_index.empty() ? json(nullptr) : detail::number_to_json(e.worst_reference)}});
  if (fd.direction) {
    const DirectionalDifference& d = *fd.direction;
    j["direction"] = {{"step", d.step},
                      {"finite_difference", detail::number_to_json(d.finite_difference)},
                      {"reference", detail::number_to_json(d.reference)},
                      {"actual", d.actual ? detail::number_to_json(*d.actual) : json(nullptr)},
                      {"tolerance", detail::number_to_json(d.tolerance)},
                      {"near_kink", d.near_kink},
                      {"reference_agrees", d.reference_agrees},
                      {"actual_agrees", d.actual_agrees ? json(*d.actual_agrees) : json(nullptr)}};
  } else {
    j["direction"] = nullptr;
  }
  j["seconds"] = fd.seconds;  // a time: the one field that differs between identical runs
  return j;
}

}  // namespace

std::string format_report_json(const CheckReport& r) {
  using nlohmann::json;
  auto comparison = [](const TensorComparison& c) {
    json j;
    j["name"] = c.name;
    j["shape"] = c.shape;
    j["passed"] = c.passed;
    j["vacuous"] = c.vacuous;
    j["missing"] = c.missing;
    j["malformed"] = c.malformed;
    j["shape_mismatch"] = c.shape_mismatch;
    j["elements"] = c.elements;
    j["mismatched"] = c.mismatched;
    j["nonfinite"] = c.nonfinite;
    j["max_abs_diff"] = detail::number_to_json(c.max_abs_diff);
    j["max_rel_diff"] = detail::number_to_json(c.max_rel_diff);
    j["reference_max_abs"] = detail::number_to_json(c.reference_max_abs);
    j["atol"] = detail::number_to_json(c.atol);
    j["worst_index"] = c.worst_index.empty() ? json(nullptr) : json(c.worst_index);
    j["worst_actual"] = c.worst_index.empty() ? json(nullptr) : detail::number_to_json(c.worst_actual);
    j["worst_reference"] = c.worst_index.empty() ? json(nullptr) : detail::number_to_json(c.worst_reference);
    j["message"] = c.message;
    j["signature"] = c.signature ? json{{"scale", detail::number_to_json(c.signature->scale)},
                                        {"cosine", detail::number_to_json(c.signature->cosine)},
                                        {"transposed", c.signature->transposed}}
                                 : json(nullptr);
    if (!c.passed) {
      j["hint"] = c.hint;
      j["hint_kinds"] = c.hint_kinds;
    }
    return j;
  };
  json doc;
  doc["passed"] = r.passed();
  doc["verdict"] = to_string(r.verdict());
  doc["failed"] = r.failed_count();
  doc["vacuous"] = r.vacuous_count();
  detail::write_spec(doc, r.spec);
  doc["data"] = r.data_description;
  doc["batch"] = r.batch;
  doc["actual_source"] = r.actual_source;
  doc["tolerances"] = {
      {"rtol", r.tolerances.rtol}, {"atol_abs", r.tolerances.atol_abs}, {"atol_scale", r.tolerances.atol_scale}};
  doc["loss_value"] = {{"actual", r.actual_loss ? detail::number_to_json(*r.actual_loss) : json(nullptr)},
                       {"reference", detail::number_to_json(r.reference_loss)},
                       {"passed", r.loss_passed}};
  if (r.spec.weight_decay > 0)
    doc["loss_value"]["weight_decay"] = {{"lambda", r.spec.weight_decay},
                                         {"penalty", detail::number_to_json(r.weight_penalty)},
                                         {"data_loss", detail::number_to_json(r.reference_loss - r.weight_penalty)}};
  doc["prediction"] = r.reference_prediction.values.empty() ? json(nullptr) : detail::tensor_to_json(r.reference_prediction);
  doc["parameters"] = json::array();
  for (const auto& c : r.parameters) doc["parameters"].push_back(comparison(c));
  doc["intermediates"] = json::array();
  for (const auto& c : r.intermediates) doc["intermediates"].push_back(comparison(c));
  doc["dead_relu_units"] = json::array();
  for (const auto& d : r.dead_relu_units)
    doc["dead_relu_units"].push_back({{"layer", d.layer}, {"dead", d.dead}, {"units", d.units}});
  if (r.first_divergence) {
    const FirstDivergence& d = *r.first_divergence;
    doc["first_divergence"] = {{"layer", d.layer},
                               {"last_match", d.last_match.empty() ? json(nullptr) : json(d.last_match)},
                               {"mismatched", d.mismatched},
                               {"suspects", d.suspects},
                               {"message", d.message}};
  } else {
    doc["first_divergence"] = nullptr;
  }
  doc["finite_differences"] = r.finite_differences ? finite_differences_json(*r.finite_differences) : json(nullptr);
  doc["notes"] = r.notes;
  return doc.dump(2) + "\n";
}

}  // namespace gradverify
