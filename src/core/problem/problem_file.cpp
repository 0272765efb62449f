#include "gradverify/problem/problem_file.h"

#include "core/problem/json_tensor.h"
#include "gradverify/errors.h"

namespace gradverify {

namespace {

using nlohmann::json;
using detail::FieldError;
using detail::NonFinite;

const json& require(const json& object, const std::string& key, const std::string& source) {
  const auto it = object.find(key);
  if (it == object.end()) throw InputError(source, key, "missing");
  return *it;
}

std::string read_name(const json& value, const std::string& field, const std::string& source) {
  if (!value.is_string()) throw InputError(source, field, "expected a string, got " + detail::json_kind(value));
  return value.get<std::string>();
}

Tensor read_tensor_field(const json& value, const std::string& field, const std::string& source) {
  try {
    return detail::read_tensor(value, field, NonFinite::reject);
  } catch (const FieldError& e) {
    throw InputError(source, e.field, e.what());
  }
}

MlpSpec read_spec(const json& doc, const std::string& source) {
  MlpSpec spec;
  const json& layers = require(doc, "layers", source);
  if (!layers.is_array()) throw InputError(source, "layers", "expected an array of widths, got " + detail::json_kind(layers));
  for (size_t i = 0; i < layers.size(); ++i) {
    // 4 and 4.0 are the same width; 4.5, -1 and 1e300 are refused here, widths beyond the
    // limit by validate_spec.
    const auto width = detail::exact_integer(layers[i]);
    if (!width || *width < 1)
      throw InputError(source, "layers[" + std::to_string(i) + "]",
                       "expected a positive integer width, got " + detail::describe(layers[i]));
    spec.layers.push_back(*width);
  }
  const json& acts = require(doc, "activations", source);
  if (!acts.is_array()) throw InputError(source, "activations", "expected an array of names, got " + detail::json_kind(acts));
  for (size_t i = 0; i < acts.size(); ++i) {
    const std::string field = "activations[" + std::to_string(i) + "]";
    append_activation(spec, read_name(acts[i], field, source), source, field);
  }
  const std::string loss = read_name(require(doc, "loss", source), "loss", source);
  const auto parsed_loss = parse_loss(loss);
  if (!parsed_loss) throw InputError(source, "loss", "unknown loss '" + loss + "'; expected one of " + loss_names());
  spec.loss = *parsed_loss;
  if (const auto it = doc.find("weight_decay"); it != doc.end()) {
    if (!it->is_number() || !(it->get<double>() >= 0))
      throw InputError(source, "weight_decay",
                       "expected a number >= 0 (the λ of the loss's (λ/2)·Σ‖W‖²), got " + detail::describe(*it));
    spec.weight_decay = it->get<double>();
  }
  if (const auto it = doc.find("dtype"); it != doc.end()) {
    const std::string dtype = read_name(*it, "dtype", source);
    const auto parsed = parse_dtype(dtype);
    if (!parsed) throw InputError(source, "dtype", "unknown dtype '" + dtype + "'; expected one of " + dtype_names());
    spec.dtype = *parsed;
  }
  validate_spec(spec, source);
  return spec;
}

Problem problem_from_json(const json& doc, const std::string& path);

}  // namespace

Problem load_problem_file(const std::string& path) { return problem_from_json(detail::parse_json_file(path), path); }

Problem parse_problem_json(const std::string& text, const std::string& source) {
  return problem_from_json(detail::parse_json_text(text, source), source);
}

namespace {

Problem problem_from_json(const json& doc, const std::string& path) {
  if (!doc.is_object()) throw InputError(path, "", "expected a JSON object with layers, activations, loss, X and y");
  Problem problem;
  problem.spec = read_spec(doc, path);
  const MlpSpec& spec = problem.spec;

  if (const auto it = doc.find("params"); it != doc.end()) {
    if (!it->is_object()) throw InputError(path, "params", "expected an object {\"W1\": ..., \"b1\": ...}, got " + detail::json_kind(*it));
    const auto known = parameter_names(spec);
    for (const auto& [name, value] : it->items()) {
      if (std::find(known.begin(), known.end(), name) == known.end())
        throw InputError(path, "params." + name,
                         "no such parameter in a " + std::to_string(spec.num_layers()) + "-layer net; expected W1..W" +
                             std::to_string(spec.num_layers()) + " and b1..b" + std::to_string(spec.num_layers()));
      Tensor t = read_tensor_field(value, "params." + name, path);
      if (name[0] == 'b' && t.shape.size() == 2 && t.shape[0] == 1) t.shape = {t.shape[1]};  // [1][n] -> [n]
      problem.params[name] = std::move(t);
    }
  }
  problem.X = read_tensor_field(require(doc, "X", path), "X", path);
  problem.y = read_tensor_field(require(doc, "y", path), "y", path);
  // A single-output net's targets may be a flat list, [batch] for [batch, 1]; cross_entropy's,
  // class indices.
  if (problem.y.shape.size() == 1 && spec.layers.back() == 1) problem.y.shape.push_back(1);
  if (problem.y.shape.size() == 1 && spec.loss == Loss::cross_entropy)
    problem.y = one_hot_targets(problem.y, spec.layers.back(), path, "y");
  problem.data_description = path;

  // Without params the caller initialises the weights later; the rest is validated now.
  if (!problem.params.empty()) validate_problem(problem, path);
  else validate_data(problem, path);
  return problem;
}

}  // namespace

std::string problem_to_json(const Problem& problem) {
  json doc;
  detail::write_spec(doc, problem.spec);
  json params = json::object();
  for (const auto& name : parameter_names(problem.spec)) params[name] = detail::tensor_to_json(problem.params.at(name));
  doc["params"] = params;
  doc["X"] = detail::tensor_to_json(problem.X);
  doc["y"] = detail::tensor_to_json(problem.y);
  return doc.dump(1) + "\n";
}

}  // namespace gradverify
