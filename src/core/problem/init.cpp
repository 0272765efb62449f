#include "gradverify/problem/init.h"

#include "gradverify/net/random.h"

namespace gradverify {

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

}  // namespace gradverify
