#include "gradverify/check/mistakes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "gradverify/net/mlp.h"
#include "gradverify/net/op.h"

namespace gradverify {

const char* to_string(Mistake mistake) {
  switch (mistake) {
    case Mistake::loss_summed: return "loss_summed";
    case Mistake::loss_summed_over_all: return "loss_summed_over_all";
    case Mistake::loss_mean_over_batch_only: return "loss_mean_over_batch_only";
    case Mistake::loss_sign_flipped: return "loss_sign_flipped";
    case Mistake::mse_factor_two_missing: return "mse_factor_two_missing";
    case Mistake::mse_factor_two_doubled: return "mse_factor_two_doubled";
    case Mistake::bias_averaged: return "bias_averaged";
    case Mistake::bias_first_row: return "bias_first_row";
    case Mistake::relu_grad_one_at_zero: return "relu_grad_one_at_zero";
    case Mistake::derivative_of_output: return "derivative_of_output";
    case Mistake::activation_derivative_forgotten: return "activation_derivative_forgotten";
    case Mistake::bce_extra_sigmoid_derivative: return "bce_extra_sigmoid_derivative";
  }
  return "?";
}

namespace {

bool is_loss_mistake(Mistake m) {
  return m == Mistake::loss_summed || m == Mistake::loss_summed_over_all || m == Mistake::loss_mean_over_batch_only ||
         m == Mistake::loss_sign_flipped || m == Mistake::mse_factor_two_missing ||
         m == Mistake::mse_factor_two_doubled || m == Mistake::bce_extra_sigmoid_derivative;
}

// Whether a layer-specific mistake can be made in layer k.
bool applies_to_layer(const MlpSpec& spec, int64_t batch, Mistake m, int64_t k) {
  const Activation act = spec.activation(k);
  switch (m) {
    case Mistake::bias_averaged:
    case Mistake::bias_first_row: return batch > 1;  // with one sample, mean = sum = row 0
    case Mistake::relu_grad_one_at_zero: return act == Activation::relu;
    case Mistake::derivative_of_output: return act == Activation::sigmoid || act == Activation::tanh;
    case Mistake::activation_derivative_forgotten: return act != Activation::identity;
    default: return false;
  }
}

// The factor a loss mistake multiplies dL/dpred by.
// N is the batch, D the outputs per sample.
double loss_factor(int64_t batch, int64_t outputs, Mistake m) {
  const auto N = static_cast<double>(batch), D = static_cast<double>(outputs);
  switch (m) {
    case Mistake::loss_summed: return N;
    case Mistake::loss_summed_over_all: return N * D;
    case Mistake::loss_mean_over_batch_only: return D;
    case Mistake::loss_sign_flipped: return -1;
    case Mistake::mse_factor_two_missing: return 0.5;
    case Mistake::mse_factor_two_doubled: return 2;
    default: return 1;
  }
}

// " in layer 3 (relu)": where a net's mistake sits, with its leading space.
std::string where(const MlpSpec& spec, const MistakeSite& site) {
  if (site.layer == 0 && site.activation) return fmt::format(" in every {} layer", to_string(*site.activation));
  if (site.layer == 0) return " in every layer";
  return fmt::format(" in layer {} ({})", site.layer, to_string(spec.activation(site.layer)));
}

std::string factor_text(double f) {
  if (f == 0.5) return "1/2";
  return fmt::format("{:g}", f);
}

// The hint for a mistake, in a batch of N with D outputs; `site_text` says where it sits, with
// a leading space (empty for an op), and `activation` is the one it concerns, when one does.
std::string mistake_text(Mistake mistake, int64_t N, int64_t D, const std::string& site_text,
                         std::optional<Activation> activation) {
  const std::string times = factor_text(loss_factor(N, D, mistake));
  switch (mistake) {
    case Mistake::loss_summed:
      return fmt::format("the loss was summed over the batch, not averaged: every gradient is N = {} times "
                         "LibTorch's (dL/dŷ needs the 1/N of the mean)", N);
    case Mistake::loss_summed_over_all:
      return fmt::format("the loss was summed over all N·D = {} elements, not averaged: every gradient is {} times "
                         "LibTorch's (the mean is over all N·D elements)", N * D, times);
    case Mistake::loss_mean_over_batch_only:
      return fmt::format("the loss was averaged over the batch but not over the D = {} outputs: every gradient is {} "
                         "times LibTorch's (the mean is over all N·D elements)", D, times);
    case Mistake::loss_sign_flipped:
      return "a sign is flipped: every gradient is -1 times LibTorch's (dL/dŷ goes with ŷ - y, not y - ŷ)";
    case Mistake::mse_factor_two_missing:
      return "the factor 2 of the squared error is missing: d/dŷ (ŷ - y)² = 2(ŷ - y), so every gradient is 1/2 of "
             "LibTorch's";
    case Mistake::mse_factor_two_doubled:
      return "the factor 2 of the squared error is counted twice: every gradient is 2 times LibTorch's";
    case Mistake::bce_extra_sigmoid_derivative:
      return "an extra σ'(z) on top of the fused gradient: for BCE after a sigmoid, dL/dz = (ŷ - y)/n already "
             "includes σ'(z), so don't multiply by s(1 - s) again";
    case Mistake::bias_averaged:
      return fmt::format("the bias gradient{} was averaged over the batch: it must be summed, dz.sum(axis=0) "
                         "(the 1/N is already in dL/dŷ)", site_text);
    case Mistake::bias_first_row:
      return fmt::format("the bias gradient{} is one sample's row of dL/dz: it must be summed over the batch, "
                         "dz.sum(axis=0)", site_text);
    case Mistake::relu_grad_one_at_zero:
      return fmt::format("ReLU'(0) must be 0, as in torch: the gradients differ only where a pre-activation is "
                         "exactly 0{} (use z > 0, not z >= 0)", site_text);
    case Mistake::derivative_of_output: {
      // Name the formula of the layer's own activation; "every layer" may mix both.
      const bool tanh_only = activation == Activation::tanh;
      const bool sigmoid_only = activation == Activation::sigmoid;
      const std::string formula = tanh_only      ? "tanh'(z) = 1 - h² with h the output itself, so don't apply tanh to h again"
                                  : sigmoid_only ? "σ'(z) = h(1 - h) with h = σ(z) the output itself, so don't apply σ to h again"
                                                 : "σ'(z) = h(1 - h) and tanh'(z) = 1 - h² use the output h itself, so "
                                                   "don't apply the activation to h again";
      return fmt::format("the activation derivative was taken of the layer's output h instead of z{}: {}", site_text,
                         formula);
    }
    case Mistake::activation_derivative_forgotten:
      return fmt::format("the activation derivative is missing{}: dL/dz = dL/dh ⊙ act'(z), not dL/dh", site_text);
  }
  return "";
}

// The manual MLP's own backward (mlp.cpp) with one mistake planted through its hook: the
// rest is the same pass, so a replay differs from the right answer only by the mistake.
template <typename T>
TensorMap replay_as(const Problem& problem, const MistakeSite& site) {
  const MlpSpec& spec = problem.spec;
  const MlpParams<T> params = params_from_tensors<T>(spec, problem.params);
  MlpForwardCache<T> cache;
  mlp_forward(cache, spec, params, to_matrix<T>(problem.X), to_matrix<T>(problem.y));
  const int64_t N = cache.X.rows;
  const int64_t L = spec.num_layers();
  const Mistake m = site.mistake;
  const auto planted_in = [&](int64_t k) {
    return !is_loss_mistake(m) && (site.layer == 0 || site.layer == k) &&
           (!site.activation || spec.activation(k) == *site.activation) && applies_to_layer(spec, N, m, k);
  };

  const BackwardHook<T> plant = [&](BackwardStep step, int64_t k, MlpGradients<T>& grads) {
    const auto i = static_cast<size_t>(k - 1);
    if (step == BackwardStep::loss) {
      const T factor = static_cast<T>(loss_factor(N, spec.layers.back(), m));
      for (T& v : grads.dh[static_cast<size_t>(L - 1)].data) v *= factor;
    } else if (step == BackwardStep::activation) {
      const Activation act = spec.activation(k);
      Matrix<T>& dz = grads.dz[i];
      const Matrix<T>& dh = grads.dh[i];
      const Matrix<T>& z = cache.z[i];
      const Matrix<T>& h = cache.h[i];
      if (planted_in(k)) {
        for (int64_t e = 0; e < dz.size(); ++e) {
          const auto j = static_cast<size_t>(e);
          if (m == Mistake::relu_grad_one_at_zero) {
            dz.data[j] = z.data[j] >= T(0) ? dh.data[j] : T(0);
          } else if (m == Mistake::activation_derivative_forgotten) {
            dz.data[j] = dh.data[j];
          } else if (m == Mistake::derivative_of_output && act == Activation::sigmoid) {
            const T s = T(1) / (T(1) + std::exp(-h.data[j]));  // sigma applied to the output again
            dz.data[j] = dh.data[j] * s * (T(1) - s);
          } else if (m == Mistake::derivative_of_output) {
            const T t = std::tanh(h.data[j]);
            dz.data[j] = dh.data[j] * (T(1) - t * t);
          }
        }
      }
      if (m == Mistake::bce_extra_sigmoid_derivative && k == L) {
        // The fused gradient (pred - y)/n already is dL/dz; the mistake multiplies in s(1-s).
        const T inv_n = T(1) / static_cast<T>(dz.size());
        for (int64_t e = 0; e < dz.size(); ++e) {
          const auto j = static_cast<size_t>(e);
          dz.data[j] = (h.data[j] - cache.y.data[j]) * inv_n * h.data[j] * (T(1) - h.data[j]);
        }
      }
    } else if (planted_in(k)) {
      Matrix<T>& db = grads.params.b[i];
      if (m == Mistake::bias_averaged)
        for (T& v : db.data) v /= static_cast<T>(N);
      if (m == Mistake::bias_first_row)
        for (int64_t o = 0; o < spec.fan_out(k); ++o) db(0, o) = grads.dz[i](0, o);
    }
  };
  MlpGradients<T> grads;
  mlp_backward(grads, cache, spec, params, plant);
  return gradients_to_tensors(spec, grads, N);
}

}  // namespace

bool mistake_applies(const MlpSpec& spec, int64_t batch, const MistakeSite& site) {
  const Mistake m = site.mistake;
  const int64_t L = spec.num_layers();
  const int64_t D = spec.layers.back();
  if (site.layer < 0 || site.layer > L) return false;
  if (site.activation && (site.layer != 0 || is_loss_mistake(m))) return false;
  switch (m) {
    case Mistake::loss_summed: return site.layer == 0 && batch > 1;
    case Mistake::loss_summed_over_all:
    case Mistake::loss_mean_over_batch_only: return site.layer == 0 && D > 1;
    case Mistake::loss_sign_flipped: return site.layer == 0;
    case Mistake::mse_factor_two_missing:
    case Mistake::mse_factor_two_doubled: return site.layer == 0 && spec.loss == Loss::mse;
    case Mistake::bce_extra_sigmoid_derivative:
      return site.layer == 0 && spec.loss == Loss::bce && spec.activation(L) == Activation::sigmoid;
    default: break;
  }
  if (site.layer > 0) return applies_to_layer(spec, batch, m, site.layer);
  for (int64_t k = 1; k <= L; ++k)
    if (applies_to_layer(spec, batch, m, k) && (!site.activation || spec.activation(k) == *site.activation)) return true;
  return false;
}

std::vector<MistakeSite> applicable_sites(const MlpSpec& spec, int64_t batch) {
  std::vector<MistakeSite> sites;
  for (const Mistake m : {Mistake::loss_summed, Mistake::loss_summed_over_all, Mistake::loss_mean_over_batch_only,
                          Mistake::loss_sign_flipped, Mistake::mse_factor_two_missing, Mistake::mse_factor_two_doubled,
                          Mistake::bce_extra_sigmoid_derivative, Mistake::bias_averaged, Mistake::bias_first_row,
                          Mistake::relu_grad_one_at_zero, Mistake::derivative_of_output,
                          Mistake::activation_derivative_forgotten}) {
    if (is_loss_mistake(m)) {
      if (mistake_applies(spec, batch, {m, 0, std::nullopt})) sites.push_back({m, 0, std::nullopt});
      continue;
    }
    std::vector<MistakeSite> layers;
    for (int64_t k = 1; k <= spec.num_layers(); ++k)
      if (mistake_applies(spec, batch, {m, k, std::nullopt})) layers.push_back({m, k, std::nullopt});
    // "Every layer" is a distinct replay only when the mistake fits more than one layer, and
    // "every layer of one activation" only when that is more than one but not all of them.
    if (layers.size() > 1) sites.push_back({m, 0, std::nullopt});
    for (const Activation act : {Activation::relu, Activation::sigmoid, Activation::tanh, Activation::identity}) {
      const auto count = std::count_if(layers.begin(), layers.end(),
                                       [&](const MistakeSite& s) { return spec.activation(s.layer) == act; });
      if (count > 1 && static_cast<size_t>(count) < layers.size()) sites.push_back({m, 0, act});
    }
    sites.insert(sites.end(), layers.begin(), layers.end());
  }
  return sites;
}

TensorMap replay_mistake(const Problem& problem, const MistakeSite& site) {
  if (!mistake_applies(problem.spec, problem.batch(), site))
    throw std::logic_error(std::string("replay_mistake: ") + to_string(site.mistake) + " does not apply here");
  return problem.spec.dtype == Dtype::float32 ? replay_as<float>(problem, site) : replay_as<double>(problem, site);
}

std::string mistake_hint(const MlpSpec& spec, int64_t batch, const MistakeSite& site) {
  const std::optional<Activation> activation =
      site.layer > 0 ? std::optional(spec.activation(site.layer)) : site.activation;
  return mistake_text(site.mistake, batch, spec.layers.back(), where(spec, site), activation);
}

// ---- one op --------------------------------------------------------------------------------

namespace {

// The op's batch N and, for a loss, its outputs per sample D.
int64_t op_batch(const OpCase& c) {
  const Tensor& first = c.op == Op::linear ? c.inputs.at("x") : op_loss(c.op) ? c.inputs.at("pred") : c.inputs.at("z");
  return first.shape.empty() ? 1 : first.shape[0];
}
int64_t op_outputs(const OpCase& c) {
  const Tensor& pred = c.inputs.at("pred");
  return pred.shape.size() < 2 ? 1 : pred.shape[1];
}

}  // namespace

std::vector<Mistake> op_mistakes(const OpCase& c) {
  const int64_t N = op_batch(c);
  if (const auto act = op_activation(c.op)) {
    if (*act == Activation::identity) return {};
    std::vector<Mistake> m = {Mistake::activation_derivative_forgotten};
    if (*act == Activation::relu) m.push_back(Mistake::relu_grad_one_at_zero);
    else m.push_back(Mistake::derivative_of_output);
    return m;
  }
  if (c.op == Op::linear) {
    if (N == 1) return {};  // mean = sum = row 0
    return {Mistake::bias_averaged, Mistake::bias_first_row};
  }
  const int64_t D = op_outputs(c);
  std::vector<Mistake> m = {Mistake::loss_sign_flipped};
  if (N > 1) m.push_back(Mistake::loss_summed);
  if (D > 1) m.push_back(Mistake::loss_summed_over_all), m.push_back(Mistake::loss_mean_over_batch_only);
  if (c.op == Op::mse) m.push_back(Mistake::mse_factor_two_missing), m.push_back(Mistake::mse_factor_two_doubled);
  return m;
}

TensorMap replay_op_mistake(const OpCase& c, Mistake mistake) {
  const auto listed = op_mistakes(c);
  if (std::find(listed.begin(), listed.end(), mistake) == listed.end())
    throw std::logic_error(std::string("replay_op_mistake: ") + to_string(mistake) + " does not apply to " +
                           to_string(c.op));
  TensorMap out = manual_op_gradients(c);
  // Computed in double and rounded once to the case's dtype, as the kit's answer is printed.
  const auto round = [&](Tensor& t) {
    for (double& v : t.values) v = round_to(c.dtype, v);
  };
  if (const auto act = op_activation(c.op)) {
    const auto &z = c.inputs.at("z").values, &dh = c.inputs.at("dh").values;
    auto& dz = out.at("dz").values;
    for (size_t i = 0; i < dz.size(); ++i) {
      if (mistake == Mistake::activation_derivative_forgotten) {
        dz[i] = dh[i];
      } else if (mistake == Mistake::relu_grad_one_at_zero) {
        dz[i] = z[i] >= 0 ? dh[i] : 0.0;
      } else if (*act == Activation::sigmoid) {  // derivative_of_output: σ applied to σ(z) again
        const double s = 1 / (1 + std::exp(-1 / (1 + std::exp(-z[i]))));
        dz[i] = dh[i] * s * (1 - s);
      } else {
        const double t = std::tanh(std::tanh(z[i]));
        dz[i] = dh[i] * (1 - t * t);
      }
    }
    round(out.at("dz"));
  } else if (c.op == Op::linear) {
    Tensor& db = out.at("db");
    const Tensor& dz = c.inputs.at("dz");
    const int64_t N = op_batch(c);
    for (size_t o = 0; o < db.values.size(); ++o)
      db.values[o] = mistake == Mistake::bias_averaged ? db.values[o] / static_cast<double>(N) : dz.values[o];
    round(db);
  } else {
    const double factor = loss_factor(op_batch(c), op_outputs(c), mistake);
    for (double& v : out.at("dpred").values) v *= factor;
    round(out.at("dpred"));
  }
  return out;
}

std::string op_mistake_hint(const OpCase& c, Mistake mistake) {
  return mistake_text(mistake, op_batch(c), op_loss(c.op) ? op_outputs(c) : 1, "", op_activation(c.op));
}

}  // namespace gradverify
