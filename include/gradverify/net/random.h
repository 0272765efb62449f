#pragma once
// numpy's legacy global generator, reproduced bit for bit, so that `--seed S` here gives the
// same weights as `np.random.seed(S); np.random.randn(...)` in the lab's notebook:
//  - MT19937 seeded as RandomState.seed(int) does (the reference init_genrand);
//  - doubles from two 32-bit draws with 53 random bits: ((a >> 5) * 2^26 + (b >> 6)) / 2^53;
//  - Gaussians by the Marsaglia polar method, returning the second value of each pair first
//    and caching the other for the next call, as numpy's legacy_gauss does.
#include <cstdint>
#include <random>

namespace gradverify {

class NumpyLegacyRandom {
 public:
  explicit NumpyLegacyRandom(uint32_t seed) : engine_(seed) {}

  double next_double();    // uniform in [0, 1)
  double next_gaussian();  // standard normal

 private:
  std::mt19937 engine_;  // std::mt19937(seed) is exactly numpy's mt19937_seed(seed)
  bool has_cached_gaussian_ = false;
  double cached_gaussian_ = 0.0;
};

}  // namespace gradverify
