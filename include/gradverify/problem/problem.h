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
// init_params (init.h) with the caller's init and seed. Its parts, one header each:
//   init.h          weight initialisation, as the lab's numpy code does it
//   data.h          the built-in data sets and CSV files
//   problem_file.h  problem.json in and out
//   manual_mlp.h    the manual MLP run on a problem: the side under test in `check`
#include <cstdint>
#include <optional>
#include <string>

#include "gradverify/net/mlp_spec.h"
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

// Throws InputError naming `source` unless the problem is complete and consistent: a valid
// spec, every parameter present with its shape, X and y with the same non-zero batch and the
// right widths, every number finite (and within float32 range for a float32 problem), and
// targets in [0, 1] for the BCE losses.
void validate_problem(const Problem& problem, const std::string& source);
// Everything validate_problem checks but the parameters, for a problem whose weights come later.
// Under cross_entropy each row of y holds class probabilities: in [0, 1], summing to 1.
void validate_data(const Problem& problem, const std::string& source);

// cross_entropy's targets given as class indices ([batch] integers in [0, num_classes)) as the
// one-hot rows [batch, num_classes] the loss computes with (torch gives both the same loss and
// gradients). Throws InputError naming `field` and the element for anything else.
Tensor one_hot_targets(const Tensor& classes, int64_t num_classes, const std::string& source, const std::string& field);
// Empty when v is a class index of num_classes classes; otherwise what was expected.
std::string why_not_class_index(double v, int64_t num_classes);

}  // namespace gradverify
