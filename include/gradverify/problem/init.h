#pragma once
// Weight initialisation of a problem that has no params of its own.
#include <cstdint>
#include <optional>
#include <string>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/tensor.h"

namespace gradverify {

// Weight initialisation. he and xavier draw W_k = randn(fan_in, fan_out) * scale layer by
// layer from one generator seeded once, exactly as the lab's numpy code does after
// np.random.seed(seed) (see random.h), and set every bias to zero. torch draws W_k and then
// b_k uniformly in ±1/sqrt(fan_in), the bounds of nn.Linear's default (not its stream): biases
// that are not zero, so that a mistake in a bias's own term (weight decay on biases) shows.
enum class Init {
  he,      // scale sqrt(2 / fan_in): the lab's init
  xavier,  // scale sqrt(2 / (fan_in + fan_out)): Glorot normal
  torch,   // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases
};
const char* to_string(Init init);
std::optional<Init> parse_init(const std::string& name);
std::string init_names();  // "he, numpy, xavier, torch": for messages

TensorMap init_params(const MlpSpec& spec, Init init, uint32_t seed);

}  // namespace gradverify
