#pragma once
// What a network is, independent of its weights: widths, activations, loss and dtype.
// The lab's convention: h_k = act_k(h_{k-1} @ W_k + b_k), h_0 = X, W_k is [fan_in, fan_out].
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gradverify {

enum class Activation { relu, sigmoid, tanh, identity, leaky_relu };
enum class Loss { mse, bce, bce_with_logits, cross_entropy };
enum class Dtype { float32, float64 };

// v as the nearest value of the dtype, held in a double (float32: rounded to nearest even;
// beyond float32's range, ±inf).
inline double round_to(Dtype dtype, double v) {
  return dtype == Dtype::float32 ? static_cast<double>(static_cast<float>(v)) : v;
}

const char* to_string(Activation activation);
const char* to_string(Loss loss);
const char* to_string(Dtype dtype);
std::optional<Activation> parse_activation(const std::string& name);
std::optional<Loss> parse_loss(const std::string& name);
std::optional<Dtype> parse_dtype(const std::string& name);
// "relu, sigmoid, tanh, identity": for messages that list what is accepted.
std::string activation_names();
std::string loss_names();
std::string dtype_names();

struct MlpSpec {
  std::vector<int64_t> layers;          // widths, input first: {2, 4, 3, 2, 1}
  std::vector<Activation> activations;  // one per layer after the input: layers.size() - 1
  Loss loss = Loss::mse;
  Dtype dtype = Dtype::float64;
  // L2 weight decay as a term of the loss, as CS231n writes it: loss + (λ/2)·Σ_k ‖W_k‖², over
  // the weights only, never the biases. 0: none.
  double weight_decay = 0;
  // leaky_relu's slope for z < 0, one for the net ("leaky_relu:0.2"); torch's default 0.01.
  double negative_slope = 0.01;

  int64_t num_layers() const { return static_cast<int64_t>(layers.size()) - 1; }
  int64_t fan_in(int64_t k) const { return layers[static_cast<size_t>(k - 1)]; }  // k is 1-based
  int64_t fan_out(int64_t k) const { return layers[static_cast<size_t>(k)]; }
  Activation activation(int64_t k) const { return activations[static_cast<size_t>(k - 1)]; }
  int64_t parameter_count() const {  // weights and biases of every layer
    int64_t n = 0;
    for (int64_t k = 1; k <= num_layers(); ++k) n += (fan_in(k) + 1) * fan_out(k);
    return n;
  }
};

// An activation as written in --activations, problem.json and rubrics: its name, or
// "leaky_relu:0.2" with leaky_relu's negative slope. Appends it to spec.activations (and sets
// spec.negative_slope); throws InputError(source, field, ...) for an unknown name, a slope not
// in (0, 1), or a second slope unlike the first (a net has one).
void append_activation(MlpSpec& spec, const std::string& written, const std::string& source, const std::string& field);
// Layer k's activation as append_activation reads it: "leaky_relu:0.2" when the slope is not 0.01.
std::string written_activation(const MlpSpec& spec, int64_t k);

// Whether the loss takes logits (its sigmoid or softmax inside): bce_with_logits, cross_entropy.
bool takes_logits(Loss loss);

// The activations a net gets when none are named, on the command line and in rubrics alike:
// relu in the hidden layers, then the output the loss expects, sigmoid (probabilities for mse
// and bce) or identity (logits for bce_with_logits and cross_entropy).
std::vector<Activation> default_activations(int64_t num_layers, Loss loss);

// Throws InputError(source, field, ...) unless the spec describes a network both the manual
// MLP and LibTorch can run: at least one layer, positive widths, one activation per layer,
// a sigmoid output under "bce" (which takes probabilities, as torch's BCE does), an identity
// output of at least 2 classes under "cross_entropy" (which takes logits), and at most
// 2^16 units per layer and 2^26 parameters in all.
void validate_spec(const MlpSpec& spec, const std::string& source);

// Throws InputError unless a batch of this size fits the activation-size limit.
void validate_batch_size(const MlpSpec& spec, int64_t batch, const std::string& source);

// "2-4-3-2-1"
std::string layers_to_string(const std::vector<int64_t>& layers);

// Parameter and intermediate names, 1-based as in problem.json: W1, b1, ..., z1, h1, ...
std::string weight_name(int64_t k);
std::string bias_name(int64_t k);
std::string preactivation_name(int64_t k);  // z_k = h_{k-1} @ W_k + b_k
std::string activation_name(int64_t k);     // h_k = act_k(z_k); h_L is the prediction
// The key an answer gives a variable's gradient: dW1 for W1, dz1 for z1 (gradients.json, the
// grading protocol); the variable a key names, or "" when it names none.
std::string gradient_key(const std::string& variable);
std::string variable_of_key(const std::string& key);
// W1, b1, W2, b2, ... in layer order.
std::vector<std::string> parameter_names(const MlpSpec& spec);
// z1, h1, z2, h2, ... in layer order.
std::vector<std::string> intermediate_names(const MlpSpec& spec);
// The expected shape of a parameter or intermediate gradient, for a batch of n samples.
std::vector<int64_t> expected_shape(const MlpSpec& spec, const std::string& name, int64_t batch);

}  // namespace gradverify
