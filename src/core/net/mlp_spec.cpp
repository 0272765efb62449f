#include "gradverify/net/mlp_spec.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "gradverify/errors.h"

namespace gradverify {
namespace {

constexpr std::array<std::pair<const char*, Activation>, 5> kActivations{{
    {"relu", Activation::relu}, {"sigmoid", Activation::sigmoid},
    {"tanh", Activation::tanh}, {"identity", Activation::identity}, {"leaky_relu", Activation::leaky_relu}}};
const double kDefaultNegativeSlope = MlpSpec{}.negative_slope;  // torch's
constexpr std::array<std::pair<const char*, Loss>, 4> kLosses{{
    {"mse", Loss::mse}, {"bce", Loss::bce}, {"bce_with_logits", Loss::bce_with_logits},
    {"cross_entropy", Loss::cross_entropy}}};
constexpr std::array<std::pair<const char*, Dtype>, 2> kDtypes{{
    {"float64", Dtype::float64}, {"float32", Dtype::float32}}};

template <typename Table, typename Enum>
const char* name_of(const Table& table, Enum value) {
  for (const auto& [name, v] : table)
    if (v == value) return name;
  return "?";
}

template <typename Table>
auto value_of(const Table& table, const std::string& name) -> std::optional<decltype(table[0].second)> {
  for (const auto& [n, v] : table)
    if (name == n) return v;
  return std::nullopt;
}

template <typename Table>
std::string names_of(const Table& table) {
  std::string s;
  for (const auto& entry : table) s += (s.empty() ? "" : ", ") + std::string(entry.first);
  return s;
}

}  // namespace

const char* to_string(Activation activation) { return name_of(kActivations, activation); }
const char* to_string(Loss loss) { return name_of(kLosses, loss); }
const char* to_string(Dtype dtype) { return name_of(kDtypes, dtype); }
std::optional<Activation> parse_activation(const std::string& name) { return value_of(kActivations, name); }
std::optional<Loss> parse_loss(const std::string& name) { return value_of(kLosses, name); }
std::optional<Dtype> parse_dtype(const std::string& name) { return value_of(kDtypes, name); }
std::string activation_names() { return names_of(kActivations) + " (or leaky_relu:SLOPE)"; }

void append_activation(MlpSpec& spec, const std::string& written, const std::string& source, const std::string& field) {
  const auto colon = written.find(':');
  const std::string name = written.substr(0, colon);
  const auto act = parse_activation(name);
  if (!act) throw InputError(source, field, "unknown activation '" + written + "'; expected one of " + activation_names());
  if (colon != std::string::npos) {
    if (*act != Activation::leaky_relu)
      throw InputError(source, field, "'" + written + "': only leaky_relu takes a parameter (leaky_relu:0.2, its slope for z < 0)");
    const std::string text = written.substr(colon + 1);
    char* end = nullptr;
    const double slope = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(slope > 0 && slope < 1))
      throw InputError(source, field, "'" + written + "': expected leaky_relu's slope for z < 0, a number in (0, 1), "
                                      "like leaky_relu:0.2");
    const bool set_before = std::find(spec.activations.begin(), spec.activations.end(), Activation::leaky_relu) !=
                                spec.activations.end() && spec.negative_slope != slope;
    if (set_before)
      throw InputError(source, field, "'" + written + "': a net has one leaky_relu slope, and an earlier layer's is " +
                                          fmt::format("{:g}", spec.negative_slope));
    spec.negative_slope = slope;
  } else if (*act == Activation::leaky_relu && spec.negative_slope != kDefaultNegativeSlope &&
             std::find(spec.activations.begin(), spec.activations.end(), Activation::leaky_relu) != spec.activations.end()) {
    throw InputError(source, field, fmt::format("'leaky_relu' is 0.01's, and an earlier layer's slope is {:g}: a net has one",
                                                spec.negative_slope));
  }
  spec.activations.push_back(*act);
}

std::string written_activation(const MlpSpec& spec, int64_t k) {
  const Activation act = spec.activation(k);
  if (act == Activation::leaky_relu && spec.negative_slope != kDefaultNegativeSlope)
    return fmt::format("leaky_relu:{}", spec.negative_slope);  // the shortest form that reads back exactly
  return to_string(act);
}
std::string loss_names() { return names_of(kLosses); }
std::string dtype_names() { return names_of(kDtypes); }

// Sizes beyond these are refused rather than attempted: a typo like 60000,60000 should get a
// message, not an out-of-memory kill. 2^26 float64 parameters are 512 MiB per copy, and a
// check holds a few copies (weights and gradients, manual and LibTorch).
constexpr int64_t kMaxWidth = 1 << 16;
constexpr int64_t kMaxParameters = int64_t{1} << 26;
constexpr size_t kMaxLayers = 1024;  // layers after the input; the report has a row for each

bool takes_logits(Loss loss) { return loss == Loss::bce_with_logits || loss == Loss::cross_entropy; }

std::vector<Activation> default_activations(int64_t num_layers, Loss loss) {
  std::vector<Activation> activations(static_cast<size_t>(std::max<int64_t>(num_layers - 1, 0)), Activation::relu);
  activations.push_back(takes_logits(loss) ? Activation::identity : Activation::sigmoid);
  return activations;
}

void validate_spec(const MlpSpec& spec, const std::string& source) {
  if (spec.layers.size() < 2)
    throw InputError(source, "layers", "expected at least 2 widths (input and output), got " +
                                           std::to_string(spec.layers.size()));
  if (spec.layers.size() > kMaxLayers + 1)
    throw InputError(source, "layers", "expected at most " + std::to_string(kMaxLayers + 1) +
                                           " widths (an input and " + std::to_string(kMaxLayers) + " layers), got " +
                                           std::to_string(spec.layers.size()));
  for (size_t i = 0; i < spec.layers.size(); ++i)
    if (spec.layers[i] < 1 || spec.layers[i] > kMaxWidth)
      throw InputError(source, "layers[" + std::to_string(i) + "]",
                       "expected a width from 1 to " + std::to_string(kMaxWidth) + ", got " +
                           std::to_string(spec.layers[i]));
  const int64_t parameters = spec.parameter_count();
  if (parameters > kMaxParameters)
    throw InputError(source, "layers",
                     layers_to_string(spec.layers) + " has " + std::to_string(parameters) +
                         " parameters; at most " + std::to_string(kMaxParameters) + " are accepted");
  if (static_cast<int64_t>(spec.activations.size()) != spec.num_layers())
    throw InputError(source, "activations",
                     "expected " + std::to_string(spec.num_layers()) + " (one per layer after the input), got " +
                         std::to_string(spec.activations.size()));
  if (spec.loss == Loss::bce && spec.activations.back() != Activation::sigmoid)
    throw InputError(source, "activations",
                     std::string("loss 'bce' takes probabilities, so the last activation must be 'sigmoid', got '") +
                         to_string(spec.activations.back()) + "' (for logits use 'bce_with_logits' with 'identity')");
  if (!(spec.negative_slope > 0 && spec.negative_slope < 1))
    throw InputError(source, "activations", "leaky_relu's slope for z < 0 must be in (0, 1), got " +
                                                std::to_string(spec.negative_slope));
  if (!(spec.weight_decay >= 0) || !std::isfinite(spec.weight_decay))
    throw InputError(source, "weight_decay",
                     "expected a finite number >= 0 (the λ of the loss's (λ/2)·Σ‖W‖²), got " +
                         std::to_string(spec.weight_decay));
  if (spec.loss == Loss::cross_entropy && spec.activations.back() != Activation::identity)
    throw InputError(source, "activations",
                     std::string("loss 'cross_entropy' takes logits (the softmax is inside the loss, as in torch's "
                                 "cross_entropy), so the last activation must be 'identity', got '") +
                         to_string(spec.activations.back()) + "'");
  if (spec.loss == Loss::cross_entropy && spec.layers.back() < 2)
    throw InputError(source, "layers",
                     "loss 'cross_entropy' needs at least 2 classes in the last layer, got " +
                         std::to_string(spec.layers.back()) + " (for one output use 'bce_with_logits')");
}

void validate_batch_size(const MlpSpec& spec, int64_t batch, const std::string& source) {
  // Forward caches z_k and h_k for every layer: batch x (sum of widths) values, twice.
  int64_t widths = 0;
  for (int64_t w : spec.layers) widths += w;
  if (batch > 0 && widths > kMaxParameters / batch)
    throw InputError(source, "X", "a batch of " + std::to_string(batch) + " through " + layers_to_string(spec.layers) +
                                      " needs more than " + std::to_string(kMaxParameters) +
                                      " activations; use a smaller batch");
}

std::string layers_to_string(const std::vector<int64_t>& layers) {
  std::string s;
  for (size_t i = 0; i < layers.size(); ++i) s += (i ? "-" : "") + std::to_string(layers[i]);
  return s;
}

std::string weight_name(int64_t k) { return "W" + std::to_string(k); }
std::string bias_name(int64_t k) { return "b" + std::to_string(k); }
std::string preactivation_name(int64_t k) { return "z" + std::to_string(k); }
std::string activation_name(int64_t k) { return "h" + std::to_string(k); }

std::string gradient_key(const std::string& variable) { return "d" + variable; }
std::string variable_of_key(const std::string& key) { return key.size() > 1 && key[0] == 'd' ? key.substr(1) : ""; }

std::vector<std::string> parameter_names(const MlpSpec& spec) {
  std::vector<std::string> names;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    names.push_back(weight_name(k));
    names.push_back(bias_name(k));
  }
  return names;
}

std::vector<std::string> intermediate_names(const MlpSpec& spec) {
  std::vector<std::string> names;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    names.push_back(preactivation_name(k));
    names.push_back(activation_name(k));
  }
  return names;
}

std::vector<int64_t> expected_shape(const MlpSpec& spec, const std::string& name, int64_t batch) {
  if (name.size() < 2) throw std::logic_error("expected_shape: bad name " + name);
  const int64_t k = std::stoll(name.substr(1));
  if (k < 1 || k > spec.num_layers()) throw std::logic_error("expected_shape: no layer in " + name);
  switch (name[0]) {
    case 'W': return {spec.fan_in(k), spec.fan_out(k)};
    case 'b': return {spec.fan_out(k)};
    case 'z':
    case 'h': return {batch, spec.fan_out(k)};
    default: throw std::logic_error("expected_shape: bad name " + name);
  }
}

}  // namespace gradverify
