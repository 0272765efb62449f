#pragma once
// The data of a problem: the lab's XOR samples, random data, or a CSV file.
#include <cstdint>
#include <optional>
#include <string>

#include "gradverify/problem/problem.h"

namespace gradverify {

// Built-in data sets.
void set_xor_data(Problem& problem);  // the lab's 4 XOR samples; needs layers 2-...-1
// n samples with X ~ N(0,1); y ~ N(0,1) for mse, Bernoulli(0.5) labels for the BCE losses.
// Drawn from a generator seeded with seed + 1, so data and weights are independent draws.
void set_random_data(Problem& problem, int64_t n, uint32_t seed);
// A CSV file of numbers: per row layers[0] inputs then layers.back() targets. A first line
// that is not all numbers is taken as a header.
void set_csv_data(Problem& problem, const std::string& path);

// The data a net gets when none is named, on the command line and in rubrics alike: "xor"
// for a 2-...-1 net (the lab's), otherwise "random:8".
std::string default_data(const MlpSpec& spec);
// N of a "random:N" data choice, for any integer N (each caller bounds it for its use); empty
// when `choice` is not of that form.
std::optional<long long> random_data_samples(const std::string& choice);

}  // namespace gradverify
