#include "gradverify/problem/init.h"

#include <cmath>

#include "gradverify/net/random.h"

namespace gradverify {

const char* to_string(Init init) {
  switch (init) {
    case Init::he: return "he";
    case Init::xavier: return "xavier";
    case Init::torch: return "torch";
  }
  return "?";
}

std::optional<Init> parse_init(const std::string& name) {
  if (name == "he" || name == "numpy") return Init::he;  // the lab's numpy init is He's
  if (name == "xavier") return Init::xavier;
  if (name == "torch") return Init::torch;
  return std::nullopt;
}

std::string init_names() { return "he, numpy, xavier, torch"; }

TensorMap init_params(const MlpSpec& spec, Init init, uint32_t seed) {
  NumpyLegacyRandom rng(seed);
  TensorMap params;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    const int64_t in = spec.fan_in(k), out = spec.fan_out(k);
    const double scale = init == Init::he     ? std::sqrt(2.0 / static_cast<double>(in))
                         : init == Init::torch ? 1 / std::sqrt(static_cast<double>(in))
                                               : std::sqrt(2.0 / static_cast<double>(in + out));
    const auto draw = [&] { return init == Init::torch ? (2 * rng.next_double() - 1) * scale : rng.next_gaussian() * scale; };
    Tensor W{{in, out}, {}};
    W.values.reserve(static_cast<size_t>(in * out));
    for (int64_t i = 0; i < in * out; ++i) W.values.push_back(draw());
    params[weight_name(k)] = std::move(W);
    Tensor b{{out}, std::vector<double>(static_cast<size_t>(out), 0.0)};
    if (init == Init::torch)
      for (double& v : b.values) v = draw();
    params[bias_name(k)] = std::move(b);
  }
  return params;
}

}  // namespace gradverify
