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
  if (spec.loss == Loss::cross_entropy) {
    // Loose enough for probabilities written to a few digits (0.333, 0.333, 0.334), tight
    // enough for a row that is not a distribution at all.
    constexpr double kSumTolerance = 1e-4;
    const int64_t classes = spec.layers.back();
    for (int64_t r = 0; r < batch; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c) sum += problem.y.values[static_cast<size_t>(r * classes + c)];
      if (std::fabs(sum - 1) > kSumTolerance)
        throw InputError(source, "y[" + std::to_string(r) + "]",
                         "loss 'cross_entropy' needs each row of targets to be class probabilities summing to 1 "
                         "(or y to be a list of class indices), got a row summing to " + show(sum));
    }
  }
}

Tensor one_hot_targets(const Tensor& classes, int64_t num_classes, const std::string& source,
                       const std::string& field) {
  if (classes.shape.size() != 1)
    throw InputError(source, field, "expected class indices, a list [batch], got shape " + shape_to_string(classes.shape));
  const int64_t batch = classes.shape[0];
  // Before allocating: a short file of indices must not ask for gigabytes of one-hot rows.
  try {
    validate_batch_size(MlpSpec{{num_classes, num_classes}, {Activation::identity}}, batch, source);
  } catch (const InputError&) {
    throw InputError(source, field,
                     std::to_string(batch) + " class indices of " + std::to_string(num_classes) +
                         " classes are more one-hot targets than a batch may hold; use a smaller batch");
  }
  Tensor one_hot{{batch, num_classes}, std::vector<double>(static_cast<size_t>(batch * num_classes), 0.0)};
  for (int64_t r = 0; r < batch; ++r) {
    const double v = classes.values[static_cast<size_t>(r)];
    if (const std::string why = why_not_class_index(v, num_classes); !why.empty())
      throw InputError(source, field + "[" + std::to_string(r) + "]", why);
    one_hot.values[static_cast<size_t>(r * num_classes + static_cast<int64_t>(v))] = 1.0;
  }
  return one_hot;
}

std::string why_not_class_index(double v, int64_t num_classes) {
  if (v >= 0 && v < static_cast<double>(num_classes) && v == std::floor(v)) return "";
  return "expected a class index, an integer from 0 to " + std::to_string(num_classes - 1) + " (the last layer has " +
         std::to_string(num_classes) + " classes), got " + show(v);
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
