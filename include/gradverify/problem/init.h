#pragma once
// Weight initialisation of a problem that has no params of its own.
#include <cstdint>
#include <optional>
#include <string>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/tensor.h"

namespace gradverify {

// Weight initialisation. Both draw W_k = randn(fan_in, fan_out) * scale layer by layer from
// one generator seeded once, exactly as the lab's numpy code does after np.random.seed(seed)
// (see random.h), and set every bias to zero.
enum class Init {
  he,      // scale sqrt(2 / fan_in): the lab's init
  xavier,  // scale sqrt(2 / (fan_in + fan_out)): Glorot normal
};
const char* to_string(Init init);
std::optional<Init> parse_init(const std::string& name);

TensorMap init_params(const MlpSpec& spec, Init init, uint32_t seed);

}  // namespace gradverify
