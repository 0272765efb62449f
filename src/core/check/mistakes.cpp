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
    case Mistake::mse_half_summed: return "mse_half_summed";
    case Mistake::bce_extra_sigmoid_derivative: return "bce_extra_sigmoid_derivative";
    case Mistake::logits_extra_sigmoid_derivative: return "logits_extra_sigmoid_derivative";
    case Mistake::bias_averaged: return "bias_averaged";
    case Mistake::bias_first_row: return "bias_first_row";
    case Mistake::batch_mean_twice: return "batch_mean_twice";
    case Mistake::update_returned: return "update_returned";
    case Mistake::relu_grad_one_at_zero: return "relu_grad_one_at_zero";
    case Mistake::relu_mask_on_upstream: return "relu_mask_on_upstream";
    case Mistake::derivative_of_output: return "derivative_of_output";
    case Mistake::derivative_formula_on_z: return "derivative_formula_on_z";
    case Mistake::activation_derivative_forgotten: return "activation_derivative_forgotten";
    case Mistake::input_gradient_untransposed: return "input_gradient_untransposed";
    case Mistake::softmax_onehot_not_subtracted: return "softmax_onehot_not_subtracted";
    case Mistake::softmax_jacobian_after_fused: return "softmax_jacobian_after_fused";
    case Mistake::softmax_without_max_shift: return "softmax_without_max_shift";
    case Mistake::cross_entropy_mean_over_classes: return "cross_entropy_mean_over_classes";
    case Mistake::weight_decay_on_biases: return "weight_decay_on_biases";
    case Mistake::weight_decay_doubled: return "weight_decay_doubled";
    case Mistake::weight_decay_halved: return "weight_decay_halved";
    case Mistake::weight_decay_forgotten: return "weight_decay_forgotten";
    case Mistake::leaky_slope_forgotten: return "leaky_slope_forgotten";
  }
  return "?";
}

namespace {

bool is_loss_mistake(Mistake m) {
  switch (m) {
    case Mistake::loss_summed:
    case Mistake::loss_summed_over_all:
    case Mistake::loss_mean_over_batch_only:
    case Mistake::loss_sign_flipped:
    case Mistake::mse_factor_two_missing:
    case Mistake::mse_factor_two_doubled:
    case Mistake::mse_half_summed:
    case Mistake::bce_extra_sigmoid_derivative:
    case Mistake::logits_extra_sigmoid_derivative:
    case Mistake::softmax_onehot_not_subtracted:
    case Mistake::softmax_jacobian_after_fused:
    case Mistake::softmax_without_max_shift:
    case Mistake::cross_entropy_mean_over_classes: return true;
    default: return false;
  }
}

// Made in every layer's dW_k or db_k at once, as one line of a training loop would: like a loss
// mistake, it has one site, layer 0.
bool is_weight_decay_mistake(Mistake m) {
  return m == Mistake::weight_decay_on_biases || m == Mistake::weight_decay_doubled ||
         m == Mistake::weight_decay_halved || m == Mistake::weight_decay_forgotten;
}

// Whether a layer-specific mistake can be made in layer k.
bool applies_to_layer(const MlpSpec& spec, int64_t batch, Mistake m, int64_t k) {
  const Activation act = spec.activation(k);
  switch (m) {
    case Mistake::bias_averaged:
    case Mistake::bias_first_row:
    case Mistake::batch_mean_twice: return batch > 1;  // with one sample, mean = sum = row 0
    case Mistake::relu_grad_one_at_zero: return act == Activation::relu || act == Activation::leaky_relu;
    case Mistake::relu_mask_on_upstream: return act == Activation::relu;
    case Mistake::leaky_slope_forgotten: return act == Activation::leaky_relu;
    case Mistake::derivative_of_output:
    case Mistake::derivative_formula_on_z: return act == Activation::sigmoid || act == Activation::tanh;
    case Mistake::activation_derivative_forgotten: return act != Activation::identity;
    // dh_{k-1} exists from layer 2 on; a 1x1 W is its own transpose.
    case Mistake::input_gradient_untransposed: return k >= 2 && spec.fan_in(k) == spec.fan_out(k) && spec.fan_in(k) > 1;
    default: return false;
  }
}

// The factor a loss mistake multiplies dL/dŷ by, in a batch of N with D outputs per sample.
double loss_factor(int64_t batch, int64_t outputs, Mistake m) {
  const auto N = static_cast<double>(batch), D = static_cast<double>(outputs);
  switch (m) {
    case Mistake::loss_summed: return N;
    case Mistake::loss_summed_over_all: return N * D;
    case Mistake::loss_mean_over_batch_only: return D;
    case Mistake::loss_sign_flipped: return -1;
    case Mistake::mse_factor_two_missing: return 0.5;
    case Mistake::mse_factor_two_doubled: return 2;
    case Mistake::mse_half_summed: return N * D / 2;
    case Mistake::cross_entropy_mean_over_classes: return 1 / D;
    default: return 1;
  }
}

// " in layer 3 (relu)": where a net's mistake sits, with its leading space.
std::string where(const MlpSpec& spec, const MistakeSite& site) {
  if (site.layer == 0 && site.activation) return fmt::format(" in every {} layer", to_string(*site.activation));
  if (site.layer == 0 && site.hidden_only) return " in every hidden layer (the output layer is right)";
  if (site.layer == 0) return " in every layer";
  return fmt::format(" in layer {} ({})", site.layer, to_string(spec.activation(site.layer)));
}

std::string factor_text(double f) {
  if (f == 0.5) return "1/2";
  return fmt::format("{:g}", f);
}

// What a hint needs to know of where a mistake was made.
struct MistakeContext {
  int64_t N = 1, D = 1;                  // the batch, and the outputs per sample
  std::string site_text;                 // where it sits, with a leading space; empty for an op
  std::optional<Activation> activation;  // the one it concerns, when one does
  std::string layer;                     // the layer's number for "dz3·W3ᵀ"; empty for an op
  double learning_rate = 0;              // update_returned's
  bool has_intermediates = true;         // whether dz and dh are part of the answer (ops: none)
};

// The formula a derivative hint names: the layer's own activation's, or both when "every
// layer" mixes sigmoid and tanh.
std::string formula_for(std::optional<Activation> activation, const char* tanh_text, const char* sigmoid_text) {
  if (activation == Activation::tanh) return tanh_text;
  if (activation == Activation::sigmoid) return sigmoid_text;
  return std::string(sigmoid_text) + "; " + tanh_text;
}

// The hint for a mistake, one line a student can act on.
std::string mistake_text(Mistake mistake, const MistakeContext& c) {
  const std::string times = factor_text(loss_factor(c.N, c.D, mistake));
  const std::string& at = c.site_text;
  switch (mistake) {
    case Mistake::loss_summed:
      return fmt::format("the loss was summed over the batch, not averaged: every gradient is N = {} times "
                         "LibTorch's (dL/dŷ needs the 1/N of the mean)", c.N);
    case Mistake::loss_summed_over_all:
      return fmt::format("the loss was summed over all N·D = {} elements, not averaged: every gradient is {} times "
                         "LibTorch's (the mean is over all N·D elements)", c.N * c.D, times);
    case Mistake::loss_mean_over_batch_only:
      return fmt::format("the loss was averaged over the batch but not over the D = {} outputs: every gradient is {} "
                         "times LibTorch's (the mean is over all N·D elements)", c.D, times);
    case Mistake::loss_sign_flipped:
      return "a sign is flipped: every gradient is -1 times LibTorch's (dL/dŷ goes with ŷ - y, not y - ŷ)";
    case Mistake::mse_factor_two_missing:
      return "the factor 2 of the squared error is missing: d/dŷ (ŷ - y)² = 2(ŷ - y), so every gradient is 1/2 of "
             "LibTorch's";
    case Mistake::mse_factor_two_doubled:
      return "the factor 2 of the squared error is counted twice: every gradient is 2 times LibTorch's";
    case Mistake::mse_half_summed:
      return fmt::format("the cost was ½‖ŷ - y‖² per sample, summed over the batch, so dL/dŷ = ŷ - y: every gradient "
                         "is N·D/2 = {} times LibTorch's, whose MSE is the mean of (ŷ - y)² over all N·D elements",
                         times);
    case Mistake::bce_extra_sigmoid_derivative:
      return "an extra σ'(z) on top of the fused gradient: for BCE after a sigmoid, dL/dz = (ŷ - y)/n already "
             "includes σ'(z), so don't multiply by s(1 - s) again";
    case Mistake::logits_extra_sigmoid_derivative:
      return "an extra σ'(ŷ) on top of BCE with logits: dL/dŷ = (σ(ŷ) - y)/n is already the gradient with respect "
             "to the logits, so don't multiply by σ(ŷ)(1 - σ(ŷ)) again";
    case Mistake::softmax_onehot_not_subtracted:
      return "the one-hot target was not subtracted: for cross-entropy over a softmax, dL/dŷ = (softmax(ŷ) - "
             "onehot(y))/N, not softmax(ŷ)/N";
    case Mistake::softmax_jacobian_after_fused:
      return "the softmax's Jacobian was applied after the fused gradient: (softmax(ŷ) - onehot(y))/N is already "
             "dL/dŷ with respect to the logits (the softmax's derivative is in it), so don't multiply by "
             "diag(s) - s·sᵀ again";
    case Mistake::softmax_without_max_shift:
      return "the softmax was computed without subtracting each row's max first: exp(ŷ) overflows to inf for a "
             "large logit (past about 709 in float64, 88 in float32), or every exp underflows to 0, and inf/inf "
             "or 0/0 is NaN. The stable form gives the same softmax: s = exp(ŷ - max(ŷ)) / Σ exp(ŷ - max(ŷ)), as "
             "in the log-sum-exp";
    case Mistake::cross_entropy_mean_over_classes:
      return fmt::format("the cross-entropy was averaged over all N·C = {} logits, not over the N = {} samples: every "
                         "gradient is 1/C = {} of LibTorch's (cross_entropy sums over the classes and averages over the "
                         "batch alone)", c.N * c.D, c.N, times);
    case Mistake::weight_decay_forgotten:
      return "weight decay is missing from the weight gradients: the loss adds (λ/2)·Σ‖W‖², so each dW gets λ·W on top "
             "of the data's gradient (db gets none)";
    case Mistake::weight_decay_on_biases:
      return "weight decay was applied to the biases too: the penalty (λ/2)·Σ‖W‖² is over the weights only, so db "
             "takes no λ·b";
    case Mistake::weight_decay_doubled:
      return "the weight-decay term is 2λ·W: the penalty is (λ/2)·‖W‖², whose gradient is λ·W (the ½ cancels the "
             "square's 2)";
    case Mistake::weight_decay_halved:
      return "the weight-decay term is (λ/2)·W: d/dW (λ/2)·‖W‖² = λ·W, because the ½ cancels the square's 2";
    case Mistake::leaky_slope_forgotten:
      return fmt::format("leaky ReLU's slope was left out of its derivative{}: dL/dz = dL/dh where z > 0 and "
                         "slope·dL/dh elsewhere, not 0 as for ReLU", at);
    case Mistake::bias_averaged:
      return fmt::format("the bias gradient{} was averaged over the batch: it must be summed, dz.sum(axis=0) "
                         "(the 1/N is already in dL/dŷ)", at);
    case Mistake::bias_first_row:
      return fmt::format("the bias gradient{} is one sample's row of dL/dz: it must be summed over the batch, "
                         "dz.sum(axis=0)", at);
    case Mistake::batch_mean_twice:
      return fmt::format("the weight and bias gradients{} are divided by N = {} once more: the 1/N of the mean is "
                         "already in dL/dŷ, so dW = hᵀ·dz and db = dz.sum(axis=0) take no second 1/N", at, c.N);
    case Mistake::update_returned:
      return fmt::format("every parameter gradient is {:g} times LibTorch's{}: this is the {} (lr = {:g}), returned "
                         "instead of the gradient itself", c.learning_rate,
                         c.has_intermediates ? " while dL/dz and dL/dh are right" : "",
                         c.learning_rate < 0 ? "step -lr·gradient" : "update lr·gradient", std::fabs(c.learning_rate));
    case Mistake::relu_grad_one_at_zero:
      if (c.activation == Activation::leaky_relu)
        return fmt::format("leaky ReLU's derivative at 0 must be its slope, as in torch, not 1: the gradients differ "
                           "only where a pre-activation is exactly 0{} (use z > 0, not z >= 0)", at);
      return fmt::format("ReLU'(0) must be 0, as in torch: the gradients differ only where a pre-activation is "
                         "exactly 0{} (use z > 0, not z >= 0)", at);
    case Mistake::relu_mask_on_upstream:
      return fmt::format("ReLU's mask was taken on the upstream gradient{}: dL/dz = dL/dh where z > 0, else 0; "
                         "the test is z > 0, not dh > 0", at);
    case Mistake::derivative_of_output:
      return fmt::format("the activation derivative was taken of the layer's output h instead of z{}: {}", at,
                         formula_for(c.activation,
                                     "tanh'(z) = 1 - h² with h the output itself, so don't apply tanh to h again",
                                     "σ'(z) = h(1 - h) with h = σ(z) the output itself, so don't apply σ to h again"));
    case Mistake::derivative_formula_on_z:
      return fmt::format("the derivative's formula in terms of the output was used with z{}: {}", at,
                         formula_for(c.activation, "tanh'(z) = 1 - h² with h = tanh(z), not 1 - z²",
                                     "σ'(z) = s(1 - s) with s = σ(z), not z(1 - z)"));
    case Mistake::activation_derivative_forgotten:
      return fmt::format("the activation derivative is missing{}: dL/dz = dL/dh ⊙ act'(z), not dL/dh", at);
    case Mistake::input_gradient_untransposed:
      if (c.site_text.empty())  // an op
        return "dx was computed as dz·W instead of dz·Wᵀ: W is square, so the shapes fit but the numbers don't";
      if (c.layer.empty())
        return fmt::format("the gradient to each layer's input was computed as dz·W instead of dz·Wᵀ{}: those W are "
                           "square, so the shapes fit but the numbers don't", at);
      return fmt::format("the gradient to the layer's input was computed as dz{0}·W{0} instead of dz{0}·W{0}ᵀ{1}: "
                         "W{0} is square, so the shapes fit but the numbers don't", c.layer, at);
  }
  return "";
}

// One row's softmax, with the max shift or (the mistake) without: then exp(v) overflows to inf
// for v > ~709 in double (~88 in float), and inf/inf or 0/0 is NaN.
template <typename T>
void softmax_row(T* s, const T* logits, int64_t C, bool shifted) {
  T max = logits[0], sum = 0;
  for (int64_t c = 1; c < C; ++c) max = std::max(max, logits[c]);
  if (!shifted) max = 0;
  for (int64_t c = 0; c < C; ++c) sum += (s[c] = std::exp(logits[c] - max));
  for (int64_t c = 0; c < C; ++c) s[c] /= sum;
}

// The cross-entropy mistakes, applied to a row's right dL/dlogits d = (s - t)/N in place.
template <typename T>
void plant_softmax_mistake(Mistake m, T* d, const T* logits, const T* target, int64_t C, int64_t N) {
  std::vector<T> s(static_cast<size_t>(C));
  softmax_row(s.data(), logits, C, m != Mistake::softmax_without_max_shift);
  T dot = 0, target_sum = 0;
  for (int64_t c = 0; c < C; ++c) dot += s[static_cast<size_t>(c)] * d[c], target_sum += target[c];
  const T n = static_cast<T>(N);
  for (int64_t c = 0; c < C; ++c) {
    const T sc = s[static_cast<size_t>(c)];
    if (m == Mistake::softmax_onehot_not_subtracted) d[c] = sc / n;
    if (m == Mistake::softmax_jacobian_after_fused) d[c] = sc * (d[c] - dot);  // diag(s) - s·sᵀ applied to d
    if (m == Mistake::softmax_without_max_shift) d[c] = (sc * target_sum - target[c]) / n;
  }
}

bool is_softmax_mistake(Mistake m) {
  return m == Mistake::softmax_onehot_not_subtracted || m == Mistake::softmax_jacobian_after_fused ||
         m == Mistake::softmax_without_max_shift;
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
  const std::vector<int64_t> layers = planted_layers(spec, N, site);
  const auto planted_in = [&](int64_t k) { return std::find(layers.begin(), layers.end(), k) != layers.end(); };
  const auto sigmoid = [](T v) { return T(1) / (T(1) + std::exp(-v)); };

  const BackwardHook<T> plant = [&](BackwardStep step, int64_t k, MlpGradients<T>& grads) {
    const auto i = static_cast<size_t>(k - 1);
    if (step == BackwardStep::loss) {
      Matrix<T>& dh = grads.dh[static_cast<size_t>(L - 1)];
      const T factor = static_cast<T>(loss_factor(N, spec.layers.back(), m));
      for (T& v : dh.data) v *= factor;
      if (m == Mistake::logits_extra_sigmoid_derivative)
        for (int64_t e = 0; e < dh.size(); ++e) {
          const T s = sigmoid(cache.h[static_cast<size_t>(L - 1)].data[static_cast<size_t>(e)]);
          dh.data[static_cast<size_t>(e)] *= s * (T(1) - s);
        }
      if (is_softmax_mistake(m)) {
        const Matrix<T>& logits = cache.h[static_cast<size_t>(L - 1)];
        const auto row = [&](int64_t r) { return static_cast<size_t>(r * logits.cols); };
        for (int64_t r = 0; r < N; ++r)
          plant_softmax_mistake(m, dh.data.data() + row(r), logits.data.data() + row(r), cache.y.data.data() + row(r),
                                logits.cols, N);
      }
    } else if (step == BackwardStep::activation) {
      const Activation act = spec.activation(k);
      Matrix<T>& dz = grads.dz[i];
      const Matrix<T>& dh = grads.dh[i];
      const Matrix<T>& z = cache.z[i];
      const Matrix<T>& h = cache.h[i];
      if (planted_in(k)) {
        for (int64_t e = 0; e < dz.size(); ++e) {
          const auto j = static_cast<size_t>(e);
          if (m == Mistake::relu_grad_one_at_zero) {  // 1 at 0; leaky ReLU keeps its slope below
            const T below = act == Activation::leaky_relu ? static_cast<T>(spec.negative_slope) * dh.data[j] : T(0);
            dz.data[j] = z.data[j] >= T(0) ? dh.data[j] : below;
          } else if (m == Mistake::relu_mask_on_upstream) {
            dz.data[j] = dh.data[j] > T(0) ? dh.data[j] : T(0);
          } else if (m == Mistake::leaky_slope_forgotten) {
            dz.data[j] = z.data[j] > T(0) ? dh.data[j] : T(0);
          } else if (m == Mistake::activation_derivative_forgotten) {
            dz.data[j] = dh.data[j];
          } else if (m == Mistake::derivative_of_output && act == Activation::sigmoid) {
            const T s = sigmoid(h.data[j]);  // sigma applied to the output again
            dz.data[j] = dh.data[j] * s * (T(1) - s);
          } else if (m == Mistake::derivative_of_output) {
            const T t = std::tanh(h.data[j]);
            dz.data[j] = dh.data[j] * (T(1) - t * t);
          } else if (m == Mistake::derivative_formula_on_z && act == Activation::sigmoid) {
            dz.data[j] = dh.data[j] * z.data[j] * (T(1) - z.data[j]);
          } else if (m == Mistake::derivative_formula_on_z) {
            dz.data[j] = dh.data[j] * (T(1) - z.data[j] * z.data[j]);
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
    } else {
      Matrix<T>& dW = grads.params.W[i];
      Matrix<T>& db = grads.params.b[i];
      if (m == Mistake::update_returned) {
        for (T& v : dW.data) v *= static_cast<T>(site.learning_rate);
        for (T& v : db.data) v *= static_cast<T>(site.learning_rate);
      }
      const T lambda = static_cast<T>(spec.weight_decay);
      if (m == Mistake::weight_decay_on_biases)
        for (int64_t o = 0; o < db.cols; ++o) db(0, o) += lambda * params.b[i](0, o);
      if (m == Mistake::weight_decay_doubled || m == Mistake::weight_decay_halved || m == Mistake::weight_decay_forgotten) {
        const T extra = m == Mistake::weight_decay_doubled ? lambda          // to 2λ
                        : m == Mistake::weight_decay_halved ? -lambda / 2   // to λ/2
                                                            : -lambda;      // to none
        for (int64_t e = 0; e < dW.size(); ++e) dW.data[static_cast<size_t>(e)] += extra * params.W[i].data[static_cast<size_t>(e)];
      }
      if (!planted_in(k)) return;
      if (m == Mistake::bias_averaged || m == Mistake::batch_mean_twice)
        for (T& v : db.data) v /= static_cast<T>(N);
      if (m == Mistake::batch_mean_twice)
        for (T& v : dW.data) v /= static_cast<T>(N);
      if (m == Mistake::bias_first_row)
        for (int64_t o = 0; o < spec.fan_out(k); ++o) db(0, o) = grads.dz[i](0, o);
      if (m == Mistake::input_gradient_untransposed) {  // dh_{k-1} = dz_k W_k, W_k square
        const Matrix<T>& W = params.W[i];
        const Matrix<T>& dz = grads.dz[i];
        Matrix<T>& dh = grads.dh[i - 1];
        for (int64_t r = 0; r < N; ++r)
          for (int64_t a = 0; a < W.rows; ++a) {
            T sum = 0;
            for (int64_t o = 0; o < W.cols; ++o) sum += dz(r, o) * W(o, a);
            dh(r, a) = sum;
          }
      }
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
  if ((site.activation || site.hidden_only) && (site.layer != 0 || is_loss_mistake(m))) return false;
  switch (m) {
    case Mistake::loss_summed: return site.layer == 0 && batch > 1;
    case Mistake::loss_summed_over_all:  // cross_entropy's mean is over the batch alone
    case Mistake::loss_mean_over_batch_only: return site.layer == 0 && D > 1 && spec.loss != Loss::cross_entropy;
    case Mistake::loss_sign_flipped: return site.layer == 0;
    case Mistake::mse_factor_two_missing:
    case Mistake::mse_factor_two_doubled: return site.layer == 0 && spec.loss == Loss::mse;
    case Mistake::mse_half_summed:  // x N·D/2 is no mistake when N·D = 2
      return site.layer == 0 && spec.loss == Loss::mse && batch * D != 2;
    case Mistake::bce_extra_sigmoid_derivative:
      return site.layer == 0 && spec.loss == Loss::bce && spec.activation(L) == Activation::sigmoid;
    case Mistake::logits_extra_sigmoid_derivative: return site.layer == 0 && spec.loss == Loss::bce_with_logits;
    case Mistake::softmax_onehot_not_subtracted:
    case Mistake::softmax_jacobian_after_fused:
    case Mistake::softmax_without_max_shift: return site.layer == 0 && spec.loss == Loss::cross_entropy;
    case Mistake::cross_entropy_mean_over_classes: return site.layer == 0 && spec.loss == Loss::cross_entropy && D > 1;
    case Mistake::weight_decay_on_biases:
    case Mistake::weight_decay_doubled:
    case Mistake::weight_decay_halved:
    case Mistake::weight_decay_forgotten:
      return site.layer == 0 && !site.activation && !site.hidden_only && spec.weight_decay > 0;
    case Mistake::update_returned:
      return site.layer == 0 && !site.activation && !site.hidden_only &&
             learning_rate_near(site.learning_rate) == site.learning_rate;
    default: break;
  }
  return !planted_layers(spec, batch, site).empty();
}

std::vector<int64_t> planted_layers(const MlpSpec& spec, int64_t batch, const MistakeSite& site) {
  std::vector<int64_t> layers;
  if (is_loss_mistake(site.mistake) || is_weight_decay_mistake(site.mistake) || site.mistake == Mistake::update_returned)
    return layers;
  const int64_t L = spec.num_layers();
  for (int64_t k = 1; k <= L; ++k) {
    if (site.layer != 0 && site.layer != k) continue;
    if (site.activation && spec.activation(k) != *site.activation) continue;
    if (site.hidden_only && k == L) continue;
    if (applies_to_layer(spec, batch, site.mistake, k)) layers.push_back(k);
  }
  return layers;
}

std::vector<MistakeSite> applicable_sites(const MlpSpec& spec, int64_t batch) {
  std::vector<MistakeSite> sites;
  for (const Mistake m :
       {Mistake::loss_summed, Mistake::loss_summed_over_all, Mistake::loss_mean_over_batch_only,
        Mistake::loss_sign_flipped, Mistake::mse_factor_two_missing, Mistake::mse_factor_two_doubled,
        Mistake::mse_half_summed, Mistake::bce_extra_sigmoid_derivative, Mistake::logits_extra_sigmoid_derivative,
        Mistake::bias_averaged, Mistake::bias_first_row, Mistake::batch_mean_twice, Mistake::relu_grad_one_at_zero,
        Mistake::relu_mask_on_upstream, Mistake::derivative_of_output, Mistake::derivative_formula_on_z,
        Mistake::activation_derivative_forgotten, Mistake::input_gradient_untransposed,
        Mistake::softmax_onehot_not_subtracted, Mistake::softmax_jacobian_after_fused,
        Mistake::softmax_without_max_shift, Mistake::cross_entropy_mean_over_classes, Mistake::weight_decay_on_biases,
        Mistake::weight_decay_doubled, Mistake::weight_decay_halved, Mistake::weight_decay_forgotten,
        Mistake::leaky_slope_forgotten}) {
    if (is_loss_mistake(m) || is_weight_decay_mistake(m)) {
      const MistakeSite site{m, 0, std::nullopt, false, 0};
      if (mistake_applies(spec, batch, site)) sites.push_back(site);
      continue;
    }
    // Each set of layers once: "every layer", "every layer of one activation" and "the hidden
    // layers" are distinct replays only when they plant in distinct sets of more than one.
    // An activation's own layers come first, so a set they share with "every layer" is worded
    // for the activation ("every relu layer" when the output layer is a sigmoid).
    std::vector<MistakeSite> candidates;
    for (const Activation act :
         {Activation::relu, Activation::leaky_relu, Activation::sigmoid, Activation::tanh, Activation::identity})
      candidates.push_back({m, 0, act, false, 0});
    candidates.push_back({m, 0, std::nullopt, false, 0});
    candidates.push_back({m, 0, std::nullopt, true, 0});
    for (int64_t k = 1; k <= spec.num_layers(); ++k) candidates.push_back({m, k, std::nullopt, false, 0});
    std::vector<std::vector<int64_t>> seen;
    for (const MistakeSite& site : candidates) {
      const std::vector<int64_t> layers = planted_layers(spec, batch, site);
      if (layers.empty() || (site.layer == 0 && layers.size() == 1)) continue;
      if (std::find(seen.begin(), seen.end(), layers) != seen.end()) continue;
      seen.push_back(layers);
      sites.push_back(site);
    }
  }
  return sites;
}

std::optional<double> learning_rate_near(double scale) {
  for (double power = 10; power > 1e-7; power /= 10)
    for (const double m : {5.0, 3.0, 2.5, 2.0, 1.0}) {
      const double lr = m * power;
      if (lr == 1 || lr > 10) continue;
      if (std::fabs(std::fabs(scale) - lr) <= 1e-3 * lr) return scale < 0 ? -lr : lr;
    }
  return std::nullopt;
}

TensorMap replay_mistake(const Problem& problem, const MistakeSite& site) {
  if (!mistake_applies(problem.spec, problem.batch(), site))
    throw std::logic_error(std::string("replay_mistake: ") + to_string(site.mistake) + " does not apply here");
  return problem.spec.dtype == Dtype::float32 ? replay_as<float>(problem, site) : replay_as<double>(problem, site);
}

std::string mistake_hint(const MlpSpec& spec, int64_t batch, const MistakeSite& site, bool intermediates_given) {
  MistakeContext context;
  context.N = batch;
  context.D = spec.layers.back();
  context.site_text = where(spec, site);
  context.activation = site.layer > 0 ? std::optional(spec.activation(site.layer)) : site.activation;
  if (!context.activation) {  // one activation in every layer planted: its formula alone
    std::optional<Activation> only;
    bool mixed = false;
    for (const int64_t k : planted_layers(spec, batch, site)) {
      if (only && *only != spec.activation(k)) mixed = true;
      only = spec.activation(k);
    }
    if (!mixed) context.activation = only;
  }
  context.layer = site.layer > 0 ? std::to_string(site.layer) : "";
  context.learning_rate = site.learning_rate;
  context.has_intermediates = intermediates_given;
  return mistake_text(site.mistake, context);
}

// ---- one op --------------------------------------------------------------------------------

namespace {

// The op's batch N and, for a loss, its outputs per sample D.
int64_t op_batch(const OpCase& c) {
  const Tensor& first = c.inputs.at(c.op == Op::linear ? "x" : op_loss(c.op) ? op_loss_input(c.op) : "z");
  return first.shape.empty() ? 1 : first.shape[0];
}
int64_t op_outputs(const OpCase& c) {
  const Tensor& pred = c.inputs.at(op_loss_input(c.op));
  return pred.shape.size() < 2 ? 1 : pred.shape[1];
}

// Whether an unshifted softmax overflows (or underflows to 0/0) on some row of the logits, as
// the kits compute it, in double: only there is softmax_without_max_shift a mistake at all.
bool unshifted_softmax_fails(const Tensor& logits) {
  const int64_t C = logits.shape.size() < 2 ? 1 : logits.shape[1];
  std::vector<double> s(static_cast<size_t>(C));
  for (size_t r = 0; r + static_cast<size_t>(C) <= logits.values.size(); r += static_cast<size_t>(C)) {
    softmax_row(s.data(), logits.values.data() + r, C, false);
    if (std::any_of(s.begin(), s.end(), [](double v) { return !std::isfinite(v); })) return true;
  }
  return false;
}

}  // namespace

std::vector<Mistake> op_mistakes(const OpCase& c) {
  const int64_t N = op_batch(c);
  if (const auto act = op_activation(c.op)) {
    if (*act == Activation::identity) return {};
    std::vector<Mistake> m = {Mistake::activation_derivative_forgotten};
    if (*act == Activation::relu) m.push_back(Mistake::relu_grad_one_at_zero), m.push_back(Mistake::relu_mask_on_upstream);
    else if (*act == Activation::leaky_relu) m.push_back(Mistake::leaky_slope_forgotten), m.push_back(Mistake::relu_grad_one_at_zero);
    else m.push_back(Mistake::derivative_of_output), m.push_back(Mistake::derivative_formula_on_z);
    return m;
  }
  if (c.op == Op::linear) {
    std::vector<Mistake> m;
    if (N > 1) m = {Mistake::bias_averaged, Mistake::bias_first_row, Mistake::batch_mean_twice};  // mean = sum = row 0
    const Shape& W = c.inputs.at("W").shape;
    if (W.size() == 2 && W[0] == W[1] && W[0] > 1) m.push_back(Mistake::input_gradient_untransposed);
    return m;
  }
  const int64_t D = op_outputs(c);
  std::vector<Mistake> m = {Mistake::loss_sign_flipped};
  if (N > 1) m.push_back(Mistake::loss_summed);
  if (c.op == Op::cross_entropy) {  // its mean is over the batch alone
    m.push_back(Mistake::softmax_onehot_not_subtracted), m.push_back(Mistake::softmax_jacobian_after_fused);
    if (D > 1) m.push_back(Mistake::cross_entropy_mean_over_classes);
    if (unshifted_softmax_fails(c.inputs.at("logits"))) m.push_back(Mistake::softmax_without_max_shift);
    return m;
  }
  if (D > 1) m.push_back(Mistake::loss_summed_over_all), m.push_back(Mistake::loss_mean_over_batch_only);
  if (c.op == Op::mse) {
    m.push_back(Mistake::mse_factor_two_missing), m.push_back(Mistake::mse_factor_two_doubled);
    if (N * D != 2) m.push_back(Mistake::mse_half_summed);
  }
  if (c.op == Op::bce_with_logits) m.push_back(Mistake::logits_extra_sigmoid_derivative);
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
  const auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  if (const auto act = op_activation(c.op)) {
    const auto &z = c.inputs.at("z").values, &dh = c.inputs.at("dh").values;
    auto& dz = out.at("dz").values;
    for (size_t i = 0; i < dz.size(); ++i) {
      if (mistake == Mistake::activation_derivative_forgotten) {
        dz[i] = dh[i];
      } else if (mistake == Mistake::leaky_slope_forgotten) {
        dz[i] = z[i] > 0 ? dh[i] : 0.0;
      } else if (mistake == Mistake::relu_grad_one_at_zero) {  // leaky ReLU keeps its slope below 0
        dz[i] = z[i] >= 0 ? dh[i] : *act == Activation::leaky_relu ? c.negative_slope * dh[i] : 0.0;
      } else if (mistake == Mistake::relu_mask_on_upstream) {
        dz[i] = dh[i] > 0 ? dh[i] : 0.0;
      } else if (mistake == Mistake::derivative_formula_on_z) {
        dz[i] = dh[i] * (*act == Activation::sigmoid ? z[i] * (1 - z[i]) : 1 - z[i] * z[i]);
      } else if (*act == Activation::sigmoid) {  // derivative_of_output: σ applied to σ(z) again
        const double s = sigmoid(sigmoid(z[i]));
        dz[i] = dh[i] * s * (1 - s);
      } else {
        const double t = std::tanh(std::tanh(z[i]));
        dz[i] = dh[i] * (1 - t * t);
      }
    }
    round(out.at("dz"));
  } else if (c.op == Op::linear) {
    Tensor &dW = out.at("dW"), &db = out.at("db"), &dx = out.at("dx");
    const Tensor &dz = c.inputs.at("dz"), &W = c.inputs.at("W");
    const auto N = static_cast<size_t>(op_batch(c));
    if (mistake == Mistake::input_gradient_untransposed) {  // dx = dz W, W square
      const auto n = static_cast<size_t>(W.shape[0]);
      for (size_t r = 0; r < N; ++r)
        for (size_t a = 0; a < n; ++a) {
          double sum = 0;
          for (size_t o = 0; o < n; ++o) sum += dz.values[r * n + o] * W.values[o * n + a];
          dx.values[r * n + a] = sum;
        }
      round(dx);
    } else {
      for (size_t o = 0; o < db.values.size(); ++o)
        db.values[o] = mistake == Mistake::bias_first_row ? dz.values[o] : db.values[o] / static_cast<double>(N);
      if (mistake == Mistake::batch_mean_twice)
        for (double& v : dW.values) v /= static_cast<double>(N);
      round(db), round(dW);
    }
  } else {
    Tensor& dpred = out.at(op_answer_names(c.op)[0]);
    const double factor = loss_factor(op_batch(c), op_outputs(c), mistake);
    if (is_softmax_mistake(mistake)) {
      const int64_t C = op_outputs(c), N = op_batch(c);
      const auto &logits = c.inputs.at("logits").values, &y = c.inputs.at("y").values;
      for (size_t r = 0; r < static_cast<size_t>(N); ++r) {
        const size_t at = r * static_cast<size_t>(C);
        plant_softmax_mistake(mistake, dpred.values.data() + at, logits.data() + at, y.data() + at, C, N);
      }
    }
    for (size_t i = 0; i < dpred.values.size(); ++i) {
      dpred.values[i] *= factor;
      if (mistake == Mistake::logits_extra_sigmoid_derivative) {
        const double s = sigmoid(c.inputs.at(op_loss_input(c.op)).values[i]);
        dpred.values[i] *= s * (1 - s);
      }
    }
    round(dpred);
  }
  return out;
}

std::string op_mistake_hint(const OpCase& c, Mistake mistake) {
  MistakeContext context;
  context.N = op_batch(c);
  context.D = op_loss(c.op) ? op_outputs(c) : 1;
  context.activation = op_activation(c.op);
  context.has_intermediates = false;
  return mistake_text(mistake, context);
}

}  // namespace gradverify
