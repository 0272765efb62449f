#include "gradverify/problem/problem.h"

#include <cfloat>
#include <cmath>
#include <cstdio>

#include "gradverify/errors.h"

namespace gradverify {

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

}  // namespace

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

}  // namespace gradverify
