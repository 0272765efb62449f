#pragma once
// A problem is everything a gradient check needs besides the code under test: the network,
// its weights, and a batch of data. It is what problem.json holds:
//
//   {"layers":[2,4,3,2,1], "activations":["relu","relu","relu","sigmoid"], "loss":"mse",
//    "dtype":"float64", "params":{"W1":[[...],[...]], "b1":[...], ...},
//    "X":[[...],...], "y":[[...],...]}
//
// W_k is [layers[k-1]][layers[k]]; b_k is [layers[k]] (a nested [1][layers[k]] is accepted).
// "dtype" is optional (float64). "params" is optional: without it the weights come from
// init_params with the caller's init and seed.
#include <cstdint>
#include <optional>
#include <string>

#include "gradverify/mlp_spec.h"
#include "gradverify/tensor.h"

namespace gradverify {

struct Problem {
  MlpSpec spec;
  TensorMap params;  // W1, b1, ...; empty until loaded or initialised
  Tensor X;          // [batch, layers[0]]
  Tensor y;          // [batch, layers.back()]
  std::string data_description;  // "xor", "random:16 (seed 3)", a file name: for reports

  int64_t batch() const { return X.shape.empty() ? 0 : X.shape[0]; }
};

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

// Built-in data sets.
void set_xor_data(Problem& problem);  // the lab's 4 XOR samples; needs layers 2-...-1
// n samples with X ~ N(0,1); y ~ N(0,1) for mse, Bernoulli(0.5) labels for the BCE losses.
// Drawn from a generator seeded with seed + 1, so data and weights are independent draws.
void set_random_data(Problem& problem, int64_t n, uint32_t seed);
// A CSV file of numbers: per row layers[0] inputs then layers.back() targets. A first line
// that is not all numbers is taken as a header.
void set_csv_data(Problem& problem, const std::string& path);

// Throws InputError naming `source` unless the problem is complete and consistent: a valid
// spec, every parameter present with its shape, X and y with the same non-zero batch and the
// right widths, every number finite (and within float32 range for a float32 problem), and
// targets in [0, 1] for the BCE losses.
void validate_problem(const Problem& problem, const std::string& source);

// problem.json in and out. load_problem_file validates everything but missing "params";
// parse_problem_json does the same for a document already in memory, naming `source`.
Problem load_problem_file(const std::string& path);
Problem parse_problem_json(const std::string& text, const std::string& source);
std::string problem_to_json(const Problem& problem);

// The manual MLP run on a problem in its dtype: the loss and every gradient, named as the
// variable they are with respect to (W1, b1, ..., z1, h1, ...), converted to double.
struct ManualResult {
  double loss = 0;
  TensorMap gradients;
};
ManualResult run_manual_mlp(const Problem& problem);

// ReLU units that are zero for every sample of the batch: no gradient flows through them,
// so every weight feeding them is checked only against zero.
struct DeadUnits {
  int64_t layer = 0;  // 1-based
  int64_t dead = 0;
  int64_t units = 0;
};
std::vector<DeadUnits> dead_relu_units(const Problem& problem);

}  // namespace gradverify
