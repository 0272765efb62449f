#include "gradverify/problem.h"

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "gradverify/errors.h"
#include "gradverify/mlp.h"
#include "gradverify/random.h"
#include "json_tensor.h"

namespace gradverify {

// ---- init --------------------------------------------------------------------------------

const char* to_string(Init init) { return init == Init::he ? "he" : "xavier"; }

std::optional<Init> parse_init(const std::string& name) {
  if (name == "he" || name == "numpy") return Init::he;  // the lab's numpy init is He's
  if (name == "xavier") return Init::xavier;
  return std::nullopt;
}

TensorMap init_params(const MlpSpec& spec, Init init, uint32_t seed) {
  NumpyLegacyRandom rng(seed);
  TensorMap params;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    const int64_t in = spec.fan_in(k), out = spec.fan_out(k);
    const double scale = init == Init::he ? std::sqrt(2.0 / static_cast<double>(in))
                                          : std::sqrt(2.0 / static_cast<double>(in + out));
    Tensor W{{in, out}, {}};
    W.values.reserve(static_cast<size_t>(in * out));
    for (int64_t i = 0; i < in * out; ++i) W.values.push_back(rng.next_gaussian() * scale);
    params[weight_name(k)] = std::move(W);
    params[bias_name(k)] = Tensor{{out}, std::vector<double>(static_cast<size_t>(out), 0.0)};
  }
  return params;
}

// ---- data --------------------------------------------------------------------------------

void set_xor_data(Problem& problem) {
  const auto& layers = problem.spec.layers;
  if (layers.front() != 2 || layers.back() != 1)
    throw InputError("--data xor", "layers",
                     "XOR has 2 inputs and 1 output, so layers must start with 2 and end with 1, got " +
                         layers_to_string(layers));
  problem.X = Tensor{{4, 2}, {0, 0, 0, 1, 1, 0, 1, 1}};
  problem.y = Tensor{{4, 1}, {0, 1, 1, 0}};
  problem.data_description = "xor";
}

void set_random_data(Problem& problem, int64_t n, uint32_t seed) {
  if (n < 1) throw InputError("--data", "random:N", "expected N >= 1 samples, got " + std::to_string(n));
  validate_batch_size(problem.spec, n, "--data random:" + std::to_string(n));
  NumpyLegacyRandom rng(seed + 1u);
  const int64_t in = problem.spec.layers.front(), out = problem.spec.layers.back();
  problem.X = Tensor{{n, in}, {}};
  for (int64_t i = 0; i < n * in; ++i) problem.X.values.push_back(rng.next_gaussian());
  problem.y = Tensor{{n, out}, {}};
  const bool labels = problem.spec.loss != Loss::mse;
  for (int64_t i = 0; i < n * out; ++i)
    problem.y.values.push_back(labels ? (rng.next_double() < 0.5 ? 0.0 : 1.0) : rng.next_gaussian());
  problem.data_description = "random:" + std::to_string(n) + " (seed " + std::to_string(seed) + ")";
}

namespace {

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r");
  const auto end = s.find_last_not_of(" \t\r");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) fields.push_back(trim(field));
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

// strtod that must consume the whole field.
std::optional<double> parse_number(const std::string& field) {
  if (field.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(field.c_str(), &end);
  if (end != field.c_str() + field.size()) return std::nullopt;
  return value;
}

}  // namespace

void set_csv_data(Problem& problem, const std::string& path) {
  std::istringstream in(detail::read_text_file(path));
  const int64_t n_in = problem.spec.layers.front(), n_out = problem.spec.layers.back();
  const auto width = static_cast<size_t>(n_in + n_out);
  problem.X = Tensor{{0, n_in}, {}};
  problem.y = Tensor{{0, n_out}, {}};
  std::string line;
  int64_t line_number = 0, rows = 0;
  bool first_content_line = true;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const auto fields = split_csv_line(line);
    std::vector<double> numbers;
    for (const auto& f : fields)
      if (auto v = parse_number(f)) numbers.push_back(*v);
    const bool is_header = first_content_line && numbers.size() != fields.size();
    first_content_line = false;
    if (is_header) continue;
    const std::string where = "line " + std::to_string(line_number);
    if (fields.size() != width)
      throw InputError(path, where,
                       "expected " + std::to_string(width) + " comma-separated numbers (" + std::to_string(n_in) +
                           " inputs then " + std::to_string(n_out) + " targets), got " +
                           std::to_string(fields.size()));
    for (size_t c = 0; c < fields.size(); ++c) {
      const auto v = parse_number(fields[c]);
      if (!v || !std::isfinite(*v))
        throw InputError(path, where + ", column " + std::to_string(c + 1),
                         "expected a finite number, got '" + fields[c] + "'");
    }
    problem.X.values.insert(problem.X.values.end(), numbers.begin(), numbers.begin() + n_in);
    problem.y.values.insert(problem.y.values.end(), numbers.begin() + n_in, numbers.end());
    ++rows;
  }
  if (rows == 0) throw InputError(path, "", "no data rows: expected at least one row of numbers");
  problem.X.shape[0] = rows;
  problem.y.shape[0] = rows;
  problem.data_description = path;
}

// ---- validation --------------------------------------------------------------------------

namespace {

std::string show(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// "X[1][2]": the element's path as it is written in the JSON file.
std::string element_path(const std::string& field, const Shape& shape, int64_t flat_index) {
  std::string path = field;
  for (int64_t i : unravel_index(shape, flat_index)) path += "[" + std::to_string(i) + "]";
  return path;
}

void check_shape(const Tensor& tensor, const Shape& expected, const std::string& source, const std::string& field,
                 const std::string& meaning) {
  if (tensor.shape != expected)
    throw InputError(source, field,
                     "shape " + shape_to_string(tensor.shape) + ", expected " + shape_to_string(expected) + " " +
                         meaning);
}

void check_values(const Tensor& tensor, Dtype dtype, const std::string& source, const std::string& field) {
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    const double v = tensor.values[static_cast<size_t>(i)];
    const std::string element = element_path(field, tensor.shape, i);
    if (!std::isfinite(v)) throw InputError(source, element, "expected a finite number, got " + show(v));
    if (dtype == Dtype::float32 && std::fabs(v) > FLT_MAX)
      throw InputError(source, element,
                       "value " + show(v) + " is outside the float32 range (about 3.4e38) of this float32 problem");
    // Both sides would compute with 0 here, so the check would agree; but it would not be
    // checking the number that was written. Float32's denormals (down to 1.4e-45) are kept.
    if (dtype == Dtype::float32 && v != 0 && static_cast<float>(v) == 0.0f)
      throw InputError(source, element,
                       "value " + show(v) + " is not 0 but rounds to 0 in float32 (the smallest float32 is about "
                       "1.4e-45); write 0, or use dtype float64");
  }
}

// Everything validate_problem checks but the parameters.
void validate_data(const Problem& problem, const std::string& source) {
  const MlpSpec& spec = problem.spec;
  validate_spec(spec, source);
  if (problem.X.shape.size() != 2 || problem.X.shape[0] < 1)
    throw InputError(source, "X", "expected a non-empty batch [batch, " + std::to_string(spec.layers.front()) +
                                      "], got shape " + shape_to_string(problem.X.shape));
  const int64_t batch = problem.X.shape[0];
  validate_batch_size(spec, batch, source);
  check_shape(problem.X, {batch, spec.layers.front()}, source, "X", "([batch, layers[0]])");
  check_shape(problem.y, {batch, spec.layers.back()}, source, "y", "([batch, last layer width], the batch of X)");
  check_values(problem.X, spec.dtype, source, "X");
  check_values(problem.y, spec.dtype, source, "y");
  if (spec.loss != Loss::mse)
    for (int64_t i = 0; i < problem.y.numel(); ++i) {
      const double v = problem.y.values[static_cast<size_t>(i)];
      if (v < 0 || v > 1)
        throw InputError(source, element_path("y", problem.y.shape, i),
                         std::string("loss '") + to_string(spec.loss) + "' needs targets in [0, 1], got " + show(v));
    }
}

}  // namespace

void validate_problem(const Problem& problem, const std::string& source) {
  const MlpSpec& spec = problem.spec;
  validate_spec(spec, source);
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    const std::string kk = std::to_string(k);
    for (const auto& name : {weight_name(k), bias_name(k)}) {
      const auto it = problem.params.find(name);
      if (it == problem.params.end()) throw InputError(source, "params." + name, "missing");
      const bool is_weight = name[0] == 'W';
      check_shape(it->second, expected_shape(spec, name, 0), source, "params." + name,
                  is_weight ? "([layers[" + std::to_string(k - 1) + "], layers[" + kk + "]], i.e. [fan_in, fan_out])"
                            : "([layers[" + kk + "]])");
      check_values(it->second, spec.dtype, source, "params." + name);
    }
  }
  validate_data(problem, source);
}

// ---- problem.json ------------------------------------------------------------------------

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
    const std::string name = read_name(acts[i], field, source);
    const auto act = parse_activation(name);
    if (!act) throw InputError(source, field, "unknown activation '" + name + "'; expected one of " + activation_names());
    spec.activations.push_back(*act);
  }
  const std::string loss = read_name(require(doc, "loss", source), "loss", source);
  const auto parsed_loss = parse_loss(loss);
  if (!parsed_loss) throw InputError(source, "loss", "unknown loss '" + loss + "'; expected one of " + loss_names());
  spec.loss = *parsed_loss;
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
  // A single-output net's targets may be a flat list, [batch] for [batch, 1].
  if (problem.y.shape.size() == 1 && spec.layers.back() == 1) problem.y.shape.push_back(1);
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

// ---- running the manual MLP --------------------------------------------------------------

namespace {

template <typename T>
ManualResult run_manual_mlp_as(const Problem& problem) {
  const MlpSpec& spec = problem.spec;
  const auto params = params_from_tensors<T>(spec, problem.params);
  MlpForwardCache<T> cache;
  MlpGradients<T> grads;
  ManualResult result;
  result.loss = static_cast<double>(mlp_forward(cache, spec, params, to_matrix<T>(problem.X), to_matrix<T>(problem.y)));
  mlp_backward(grads, cache, spec, params);
  result.gradients = gradients_to_tensors(spec, grads, problem.batch());
  return result;
}

template <typename T>
std::vector<DeadUnits> dead_relu_units_as(const Problem& problem) {
  const MlpSpec& spec = problem.spec;
  MlpForwardCache<T> cache;
  mlp_forward(cache, spec, params_from_tensors<T>(spec, problem.params), to_matrix<T>(problem.X), to_matrix<T>(problem.y));
  std::vector<DeadUnits> result;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    if (spec.activation(k) != Activation::relu) continue;
    const Matrix<T>& z = cache.z[static_cast<size_t>(k - 1)];
    DeadUnits d{k, 0, z.cols};
    for (int64_t j = 0; j < z.cols; ++j) {
      bool alive = false;
      for (int64_t n = 0; n < z.rows && !alive; ++n) alive = z(n, j) > T(0);
      d.dead += alive ? 0 : 1;
    }
    result.push_back(d);
  }
  return result;
}

}  // namespace

ManualResult run_manual_mlp(const Problem& problem) {
  return problem.spec.dtype == Dtype::float32 ? run_manual_mlp_as<float>(problem) : run_manual_mlp_as<double>(problem);
}

std::vector<DeadUnits> dead_relu_units(const Problem& problem) {
  return problem.spec.dtype == Dtype::float32 ? dead_relu_units_as<float>(problem) : dead_relu_units_as<double>(problem);
}

}  // namespace gradverify
