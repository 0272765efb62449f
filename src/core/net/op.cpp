#include "gradverify/net/op.h"

#include "gradverify/net/kernels.h"

namespace gradverify {

const char* to_string(Op op) {
  switch (op) {
    case Op::relu: return "relu";
    case Op::sigmoid: return "sigmoid";
    case Op::tanh: return "tanh";
    case Op::identity: return "identity";
    case Op::leaky_relu: return "leaky_relu";
    case Op::linear: return "linear";
    case Op::mse: return "mse";
    case Op::bce: return "bce";
    case Op::bce_with_logits: return "bce_with_logits";
    case Op::cross_entropy: return "cross_entropy";
  }
  return "?";
}

const std::vector<Op>& all_ops() {
  static const std::vector<Op> ops = {Op::relu,   Op::sigmoid, Op::tanh, Op::identity,        Op::leaky_relu,
                                      Op::linear, Op::mse,     Op::bce,  Op::bce_with_logits, Op::cross_entropy};
  return ops;
}

std::optional<Op> parse_op(const std::string& name) {
  for (Op op : all_ops())
    if (name == to_string(op)) return op;
  return std::nullopt;
}

std::string op_names() {
  std::string out;
  for (Op op : all_ops()) out += (out.empty() ? "" : ", ") + std::string(to_string(op));
  return out;
}

std::optional<Activation> op_activation(Op op) {
  switch (op) {
    case Op::relu: return Activation::relu;
    case Op::sigmoid: return Activation::sigmoid;
    case Op::tanh: return Activation::tanh;
    case Op::identity: return Activation::identity;
    case Op::leaky_relu: return Activation::leaky_relu;
    default: return std::nullopt;
  }
}

std::optional<Loss> op_loss(Op op) {
  switch (op) {
    case Op::mse: return Loss::mse;
    case Op::bce: return Loss::bce;
    case Op::bce_with_logits: return Loss::bce_with_logits;
    case Op::cross_entropy: return Loss::cross_entropy;
    default: return std::nullopt;
  }
}

std::string op_loss_input(Op op) { return op == Op::cross_entropy ? "logits" : "pred"; }

std::vector<std::string> op_answer_names(Op op) {
  if (op_activation(op)) return {"dz"};
  if (op == Op::linear) return {"dW", "db", "dx"};
  return {"d" + op_loss_input(op)};
}

TensorMap manual_op_gradients(const OpCase& c) {
  TensorMap out;
  const auto& in = c.inputs;
  if (const auto act = op_activation(c.op)) {
    const Tensor& z = in.at("z");
    const int64_t n = static_cast<int64_t>(z.values.size());
    std::vector<double> h(z.values.size()), dz(z.values.size());
    kernels::activation_forward(*act, h.data(), z.values.data(), n, c.negative_slope);
    kernels::activation_backward(*act, dz.data(), in.at("dh").values.data(), h.data(), n, c.negative_slope);
    out["dz"] = Tensor{z.shape, dz};
  } else if (c.op == Op::linear) {
    const Tensor &x = in.at("x"), &W = in.at("W"), &dz = in.at("dz");
    const int64_t N = x.shape[0], IN = x.shape[1], OUT = W.shape[1];
    Tensor dW{{IN, OUT}, std::vector<double>(static_cast<size_t>(IN * OUT))};
    Tensor db{{OUT}, std::vector<double>(static_cast<size_t>(OUT))};
    Tensor dx{{N, IN}, std::vector<double>(static_cast<size_t>(N * IN))};
    kernels::linear_backward(dx.values.data(), dW.values.data(), db.values.data(), dz.values.data(), x.values.data(),
                             W.values.data(), N, IN, OUT);
    out["dW"] = dW, out["db"] = db, out["dx"] = dx;
  } else {
    const Tensor &pred = in.at(op_loss_input(c.op)), &y = in.at("y");
    std::vector<double> d(pred.values.size());
    const int64_t N = pred.shape.empty() ? 1 : pred.shape[0];
    kernels::loss_backward(*op_loss(c.op), d.data(), pred.values.data(), y.values.data(), N,
                           N > 0 ? static_cast<int64_t>(pred.values.size()) / N : 0);
    out[op_answer_names(c.op)[0]] = Tensor{pred.shape, d};
  }
  return out;
}

}  // namespace gradverify
