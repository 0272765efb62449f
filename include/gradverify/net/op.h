#pragma once
// The backward pieces of the lab, one op at a time: what the grading protocol's op cases ask
// for, what LibTorch's op references compute, and what the manual kernels (kernels.h) answer.
//
//   activation  relu, sigmoid, tanh, identity,  inputs z, dh          answer dz = dh ⊙ act'(z)
//               leaky_relu (with its slope)
//   linear      z = x @ W + b                   inputs x, W, b, dz    answer dW, db, dx
//   loss        mse, bce, bce_with_logits       inputs pred, y        answer dpred of the mean loss
//               cross_entropy                   inputs logits, y      answer dlogits of the batch mean
//
// dW is in W's [in, out] layout; cross_entropy's y holds one row of class probabilities per
// sample (one-hot for class indices). Torch-free.
#include <optional>
#include <string>
#include <vector>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/tensor.h"

namespace gradverify {

enum class Op { relu, sigmoid, tanh, identity, leaky_relu, linear, mse, bce, bce_with_logits, cross_entropy };

const char* to_string(Op op);
std::optional<Op> parse_op(const std::string& name);
const std::vector<Op>& all_ops();
std::string op_names();  // "relu, sigmoid, ..., bce_with_logits": for messages

// The activation an activation op applies, or the loss a loss op takes; empty otherwise.
std::optional<Activation> op_activation(Op op);
std::optional<Loss> op_loss(Op op);
// A loss op's first input: "logits" for cross_entropy, "pred" for the others.
std::string op_loss_input(Op op);
// The answer's tensors: {"dz"}, {"dW", "db", "dx"}, {"dpred"} or {"dlogits"}.
std::vector<std::string> op_answer_names(Op op);

struct OpCase {
  Op op = Op::relu;
  Dtype dtype = Dtype::float64;
  TensorMap inputs;  // z, dh | x, W, b, dz | pred (or logits), y: values already rounded to the dtype
  double negative_slope = MlpSpec{}.negative_slope;  // leaky_relu's; the request carries it
};

// The op's gradients computed by the manual kernels, for checking the LibTorch references and
// for tests.
TensorMap manual_op_gradients(const OpCase& op_case);

}  // namespace gradverify
