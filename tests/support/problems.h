#pragma once
// Free helpers that build test problems: no fixtures with hidden state.
#include <ostream>
#include <string>
#include <vector>

#include "gradverify/problem/problem.h"

namespace gradverify {
// Readable parameter values in GoogleTest's output, found by argument-dependent lookup.
inline void PrintTo(Activation value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(Loss value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(Dtype value, std::ostream* os) { *os << to_string(value); }
}  // namespace gradverify

namespace gradverify::testing {

// A complete, validated problem: He-initialised weights from `seed`; data "xor" or
// "random:N" (drawn from seed + 1).
Problem make_problem(std::vector<int64_t> layers, std::vector<Activation> activations, Loss loss, Dtype dtype,
                     const std::string& data, uint32_t seed);

// The lab's network: 2-4-3-2-1, relu x3, sigmoid, MSE, XOR.
Problem lab_problem(uint32_t seed, Dtype dtype = Dtype::float64);

}  // namespace gradverify::testing
