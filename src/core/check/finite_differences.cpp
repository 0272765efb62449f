#include "gradverify/check/finite_differences.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "gradverify/errors.h"
#include "gradverify/net/kernels.h"
#include "gradverify/net/mlp.h"
#include "gradverify/net/random.h"

namespace gradverify {

std::optional<FiniteDifferenceMode> parse_finite_difference_mode(const std::string& name) {
  if (name == "off") return FiniteDifferenceMode::off;
  if (name == "elements") return FiniteDifferenceMode::elements;
  if (name == "direction") return FiniteDifferenceMode::direction;
  if (name == "auto") return FiniteDifferenceMode::automatic;
  return std::nullopt;
}

const char* to_string(FiniteDifferenceMode mode) {
  switch (mode) {
    case FiniteDifferenceMode::off: return "off";
    case FiniteDifferenceMode::elements: return "elements";
    case FiniteDifferenceMode::direction: return "direction";
    case FiniteDifferenceMode::automatic: return "auto";
  }
  return "?";
}

int64_t FiniteDifferenceReport::near_kink() const {
  int64_t n = direction && direction->near_kink ? 1 : 0;
  for (const auto& e : elements) n += e.near_kink;
  return n;
}
int64_t FiniteDifferenceReport::reference_disagreements() const {
  int64_t n = direction && !direction->near_kink && !direction->reference_agrees ? 1 : 0;
  for (const auto& e : elements) n += e.reference_disagreements;
  return n;
}
int64_t FiniteDifferenceReport::actual_disagreements() const {
  int64_t n = direction && !direction->near_kink && direction->actual_agrees && !*direction->actual_agrees ? 1 : 0;
  for (const auto& e : elements) n += e.actual_disagreements;
  return n;
}

double element_mode_work(const Problem& problem) {
  const MlpSpec& spec = problem.spec;
  double work = 0, downstream = 0;  // downstream: multiply-adds per sample from layer k on
  for (int64_t k = spec.num_layers(); k >= 1; --k) {
    const double layer_params = static_cast<double>((spec.fan_in(k) + 1) * spec.fan_out(k));
    downstream += layer_params;
    work += layer_params * 4 * static_cast<double>(problem.batch()) * downstream;
  }
  return work;
}

namespace {

constexpr double kEps64 = std::numeric_limits<double>::epsilon();

// The float64 loss at shifted parameters. Forward passes start at the first layer whose
// parameters moved, from the unshifted pass's cached inputs, and record whether any ReLU
// unit changed side of 0 (a kink inside the step).
class ShiftedLoss {
 public:
  explicit ShiftedLoss(const Problem& problem)
      : spec_(problem.spec),
        params_(params_from_tensors<double>(problem.spec, problem.params)),
        X_(to_matrix<double>(problem.X)),
        y_(to_matrix<double>(problem.y)) {
    base_loss_ = mlp_forward(base_, spec_, params_, X_, y_);
    const int64_t N = X_.rows;
    for (int64_t k = 1; k <= spec_.num_layers(); ++k) {
      z_.emplace_back(N, spec_.fan_out(k));
      h_.emplace_back(N, spec_.fan_out(k));
    }
  }

  double base_loss() const { return base_loss_; }

  // The loss with the current (shifted) params, recomputed from layer first_layer on.
  double operator()(int64_t first_layer, bool& crossed_kink) {
    const int64_t N = X_.rows;
    const auto L = static_cast<size_t>(spec_.num_layers());
    const Matrix<double>* input = first_layer == 1 ? &X_ : &base_.h[static_cast<size_t>(first_layer - 2)];
    for (auto i = static_cast<size_t>(first_layer - 1); i < L; ++i) {
      const int64_t k = static_cast<int64_t>(i) + 1;
      kernels::linear_forward(z_[i].data.data(), input->data.data(), params_.W[i].data.data(), params_.b[i].data.data(),
                              N, spec_.fan_in(k), spec_.fan_out(k));
      if (spec_.activation(k) == Activation::relu || spec_.activation(k) == Activation::leaky_relu)
        for (size_t e = 0; e < z_[i].data.size(); ++e)
          crossed_kink = crossed_kink || ((z_[i].data[e] > 0) != (base_.z[i].data[e] > 0));
      kernels::activation_forward(spec_.activation(k), h_[i].data.data(), z_[i].data.data(), z_[i].size(),
                                  spec_.negative_slope);
      input = &h_[i];
    }
    double loss = kernels::loss_forward(spec_.loss, h_[L - 1].data.data(), y_.data.data(), N, h_[L - 1].cols);
    if (spec_.weight_decay > 0)  // every layer's: a shifted weight of any layer changes it
      for (const auto& W : params_.W) loss += kernels::l2_penalty_forward(W.data.data(), W.size(), spec_.weight_decay);
    return loss;
  }

  MlpParams<double>& parameters() { return params_; }

 private:
  const MlpSpec& spec_;
  MlpParams<double> params_;
  Matrix<double> X_, y_;
  MlpForwardCache<double> base_;
  double base_loss_ = 0;
  std::vector<Matrix<double>> z_, h_;  // work buffers, reused by every pass
};

struct Difference {
  double d1 = 0;        // D(h)
  double margin = 0;    // 4|D(h) - D(2h)| + noise
  bool crossed = false;
};

// Central differences of `loss` along a shift applied by `shift(t)` (t: the multiple of
// the step, 0 restores), from layer first_layer on.
template <typename Shift>
Difference central_difference(ShiftedLoss& loss, int64_t first_layer, double step, Shift shift) {
  Difference d;
  double values[4];
  const double multiples[4] = {1, -1, 2, -2};
  for (int i = 0; i < 4; ++i) {
    shift(multiples[i]);
    values[i] = loss(first_layer, d.crossed);
  }
  shift(0);
  d.d1 = (values[0] - values[1]) / (2 * step);
  const double d2 = (values[2] - values[3]) / (4 * step);
  d.margin = 4 * std::fabs(d.d1 - d2) + 64 * kEps64 * std::max(std::fabs(loss.base_loss()), 1.0) / step;
  return d;
}

const Tensor* usable(const TensorMap* actual, const std::string& name, size_t numel) {
  if (!actual) return nullptr;
  const auto it = actual->find(name);
  if (it == actual->end() || it->second.values.size() != numel) return nullptr;
  return &it->second;
}

// A tensor that came transposed has the right size but not the layout: only a shape the
// comparison accepts as the same is differenced against.
bool same_layout(const Tensor& a, const Tensor& b) {
  if (a.shape == b.shape || a.shape.empty()) return true;
  return b.shape.size() == 1 && a.shape.size() == 2 && a.shape[0] == 1;
}

std::vector<ElementDifferences> element_differences(const Problem& problem, const TensorMap& reference,
                                                    const TensorMap* actual, const Tolerances& tol,
                                                    double relative_step) {
  ShiftedLoss loss(problem);
  std::vector<ElementDifferences> out;
  for (int64_t k = 1; k <= problem.spec.num_layers(); ++k) {
    const auto i = static_cast<size_t>(k - 1);
    for (const bool is_bias : {false, true}) {
      const std::string name = is_bias ? bias_name(k) : weight_name(k);
      std::vector<double>& theta = is_bias ? loss.parameters().b[i].data : loss.parameters().W[i].data;
      const Tensor& r = reference.at(name);
      const Tensor* a = usable(actual, name, theta.size());
      if (a && !same_layout(*a, r)) a = nullptr;
      double scale = 0;
      for (double v : r.values) scale = std::max(scale, std::fabs(v));
      ElementDifferences e;
      e.name = name;
      double worst_ratio = 1;  // only disagreements (ratio > 1) become the worst
      for (size_t j = 0; j < theta.size(); ++j) {
        const double original = theta[j];
        const double step = relative_step * std::max(1.0, std::fabs(original));
        const Difference d = central_difference(loss, k, step, [&](double t) { theta[j] = original + t * step; });
        ++e.elements;
        if (d.crossed) {
          ++e.near_kink;
          continue;
        }
        const double rj = r.values[j];
        const double allowed = d.margin + tol.atol_for_scale(scale) + tol.rtol * std::fabs(rj);
        const double diff = std::fabs(d.d1 - rj);
        e.max_abs_diff_reference = std::max(e.max_abs_diff_reference, diff);
        if (!(diff <= allowed)) {
          ++e.reference_disagreements;
          if (diff / allowed > worst_ratio) {
            worst_ratio = diff / allowed;
            e.worst_index = unravel_index(r.shape, static_cast<int64_t>(j));
            e.worst_finite_difference = d.d1;
            e.worst_reference = rj;
          }
        }
        if (a && !(std::fabs(d.d1 - a->values[j]) <= allowed)) ++e.actual_disagreements;
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

DirectionalDifference directional_difference(const Problem& problem, const TensorMap& reference,
                                             const TensorMap* actual, const Tolerances& tol,
                                             double relative_step, uint32_t seed) {
  ShiftedLoss loss(problem);
  const std::vector<std::string> names = parameter_names(problem.spec);
  // The parameters as one vector of references into the loss's tensors, and u beside them.
  std::vector<std::vector<double>*> tensors;
  for (int64_t k = 1; k <= problem.spec.num_layers(); ++k) {
    tensors.push_back(&loss.parameters().W[static_cast<size_t>(k - 1)].data);
    tensors.push_back(&loss.parameters().b[static_cast<size_t>(k - 1)].data);
  }
  NumpyLegacyRandom rng(seed);
  std::vector<std::vector<double>> u(tensors.size()), theta(tensors.size());
  double norm2 = 0, theta2 = 0, count = 0;
  for (size_t t = 0; t < tensors.size(); ++t) {
    theta[t] = *tensors[t];
    u[t].resize(theta[t].size());
    for (size_t j = 0; j < u[t].size(); ++j) {
      u[t][j] = rng.next_gaussian();
      norm2 += u[t][j] * u[t][j];
      theta2 += theta[t][j] * theta[t][j];
      count += 1;
    }
  }
  for (auto& ut : u)
    for (double& v : ut) v /= std::sqrt(norm2);
  // The step follows the parameters' rms scale. A step across a ReLU kink judges nothing, and
  // one direction through every unit of a big net meets one often at float32's step, so the
  // step shrinks tenfold until it crosses none, down to float64's own (the loss is float64).
  const double scale = std::max(1.0, std::sqrt(theta2 / count));
  const double smallest_step = std::cbrt(kEps64) * scale;
  DirectionalDifference out;
  Difference d;
  for (double step = relative_step * scale;; step /= 10) {
    d = central_difference(loss, 1, step, [&](double t) {
      for (size_t k = 0; k < tensors.size(); ++k)
        for (size_t j = 0; j < u[k].size(); ++j) (*tensors[k])[j] = theta[k][j] + t * step * u[k][j];
    });
    out.step = step;
    if (!d.crossed || step / 10 < smallest_step * 0.999) break;
  }
  out.finite_difference = d.d1;
  out.near_kink = d.crossed;

  // Projections, with the bound on their own rounding: sum |r_i u_i| and |r|.
  double r_dot = 0, r_abs_dot = 0, r_norm2 = 0, a_dot = 0;
  bool actual_complete = actual != nullptr;
  for (size_t t = 0; t < names.size(); ++t) {
    const Tensor& r = reference.at(names[t]);
    const Tensor* a = usable(actual, names[t], u[t].size());
    if (!a || !same_layout(*a, r)) actual_complete = false;
    for (size_t j = 0; j < u[t].size(); ++j) {
      r_dot += r.values[j] * u[t][j];
      r_abs_dot += std::fabs(r.values[j] * u[t][j]);
      r_norm2 += r.values[j] * r.values[j];
      if (actual_complete) {
        if (!std::isfinite(a->values[j])) actual_complete = false;
        else a_dot += a->values[j] * u[t][j];
      }
    }
  }
  out.reference = r_dot;
  out.tolerance = d.margin + tol.rtol * r_abs_dot + tol.atol_abs + tol.atol_scale * std::sqrt(r_norm2);
  out.reference_agrees = std::fabs(d.d1 - r_dot) <= out.tolerance;
  if (actual_complete) {
    out.actual = a_dot;
    out.actual_agrees = std::fabs(d.d1 - a_dot) <= out.tolerance;
  }
  return out;
}

}  // namespace

FiniteDifferenceMode resolve_finite_difference_mode(const Problem& problem, FiniteDifferenceMode requested,
                                                   bool force) {
  const double seconds_estimate = element_mode_work(problem) / kFiniteDifferenceRate;
  if (requested == FiniteDifferenceMode::automatic)
    return seconds_estimate <= 1 ? FiniteDifferenceMode::elements : FiniteDifferenceMode::direction;
  if (requested == FiniteDifferenceMode::elements && seconds_estimate > kMaxElementSeconds && !force)
    throw InputError("--finite-differences", "",
                     fmt::format("per-element finite differences on {} with a batch of {} would take about {:.0f} "
                                 "minutes; use 'direction' (one random direction, a fraction of a second), or "
                                 "--force-finite-differences to run them anyway",
                                 layers_to_string(problem.spec.layers), problem.batch(), seconds_estimate / 60));
  return requested;
}

FiniteDifferenceReport run_finite_differences(const Problem& problem, const TensorMap& reference,
                                              const TensorMap* actual, const Tolerances& tol,
                                              FiniteDifferenceMode mode, uint32_t seed, bool force) {
  const auto start = std::chrono::steady_clock::now();
  FiniteDifferenceReport report;
  report.seed = seed;
  report.relative_step = std::cbrt(problem.spec.dtype == Dtype::float32
                                       ? static_cast<double>(std::numeric_limits<float>::epsilon())
                                       : kEps64);
  mode = resolve_finite_difference_mode(problem, mode, force);
  report.mode = mode;
  if (mode == FiniteDifferenceMode::elements)
    report.elements = element_differences(problem, reference, actual, tol, report.relative_step);
  else if (mode == FiniteDifferenceMode::direction)
    report.direction = directional_difference(problem, reference, actual, tol, report.relative_step, seed);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace gradverify
