#include "gradverify/net/random.h"

#include <cmath>

namespace gradverify {

double NumpyLegacyRandom::next_double() {
  const uint32_t a = static_cast<uint32_t>(engine_()) >> 5;  // 27 bits
  const uint32_t b = static_cast<uint32_t>(engine_()) >> 6;  // 26 bits
  return (a * 67108864.0 + b) / 9007199254740992.0;          // (a * 2^26 + b) / 2^53
}

double NumpyLegacyRandom::next_gaussian() {
  if (has_cached_gaussian_) {
    has_cached_gaussian_ = false;
    return cached_gaussian_;
  }
  double x1, x2, r2;
  do {  // a point uniform in the unit disc, origin excluded
    x1 = 2.0 * next_double() - 1.0;
    x2 = 2.0 * next_double() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  cached_gaussian_ = f * x1;
  has_cached_gaussian_ = true;
  return f * x2;
}

}  // namespace gradverify
