// Given: the runner the grader starts. It reads one JSON request from stdin, calls your
// functions, and prints one JSON answer to stdout (the protocol: gradverify's
// docs/grading.md). Print any debugging output to stderr: stdout is the answer.
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>
#include <stdexcept>

#include "backprop.h"

using nlohmann::json;

namespace {

lab::Matrix to_matrix(const json& value) {
  if (!value.is_array()) throw std::invalid_argument("expected an array");
  if (value.empty() || !value[0].is_array()) {  // a vector: one row
    lab::Matrix m(1, static_cast<int>(value.size()));
    for (size_t j = 0; j < value.size(); ++j) m.data[j] = value[j].get<double>();
    return m;
  }
  lab::Matrix m(static_cast<int>(value.size()), static_cast<int>(value[0].size()));
  for (int i = 0; i < m.rows; ++i) {
    if (value[i].size() != static_cast<size_t>(m.cols)) throw std::invalid_argument("ragged matrix");
    for (int j = 0; j < m.cols; ++j) m(i, j) = value[i][j].get<double>();
  }
  return m;
}

// NaN and Inf as the protocol's "nan", "inf" and "-inf" (JSON has no such numbers), so that
// the grader can say where an overflow happened.
json number_json(double x) {
  if (std::isfinite(x)) return x;
  return std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf";
}

json to_json(const lab::Matrix& m) {
  json rows = json::array();
  for (int i = 0; i < m.rows; ++i) {
    json row = json::array();
    for (int j = 0; j < m.cols; ++j) row.push_back(number_json(m(i, j)));
    rows.push_back(row);
  }
  return rows;
}

json vector_json(const lab::Matrix& m) {  // a (1, n) bias gradient as a vector
  json v = json::array();
  for (double x : m.data) v.push_back(number_json(x));
  return v;
}

json answer_op(const json& req) {
  const std::string op = req.at("op");
  if (op == "linear") {
    const auto g = lab::linear_backward(to_matrix(req.at("x")), to_matrix(req.at("W")), to_matrix(req.at("dz")));
    return {{"dW", to_json(g.dW)}, {"db", vector_json(g.db)}, {"dx", to_json(g.dx)}};
  }
  if (op == "mse") return {{"dpred", to_json(lab::mse_backward(to_matrix(req.at("pred")), to_matrix(req.at("y"))))}};
  if (op == "bce") return {{"dpred", to_json(lab::bce_backward(to_matrix(req.at("pred")), to_matrix(req.at("y"))))}};
  if (op == "bce_with_logits")
    return {{"dpred", to_json(lab::bce_with_logits_backward(to_matrix(req.at("pred")), to_matrix(req.at("y"))))}};
  if (op == "cross_entropy")
    return {{"dlogits", to_json(lab::cross_entropy_backward(to_matrix(req.at("logits")), to_matrix(req.at("y"))))}};
  const lab::Matrix z = to_matrix(req.at("z")), dh = to_matrix(req.at("dh"));
  if (op == "relu") return {{"dz", to_json(lab::relu_backward(z, dh))}};
  if (op == "leaky_relu") return {{"dz", to_json(lab::leaky_relu_backward(z, dh, req.at("negative_slope")))}};
  if (op == "sigmoid") return {{"dz", to_json(lab::sigmoid_backward(z, dh))}};
  if (op == "tanh") return {{"dz", to_json(lab::tanh_backward(z, dh))}};
  if (op == "identity") return {{"dz", to_json(lab::identity_backward(z, dh))}};
  throw std::invalid_argument("unknown op " + op);
}

json answer_mlp(const json& req) {
  lab::Mlp net;
  const size_t layers = req.at("layers").size() - 1;
  for (size_t k = 1; k <= layers; ++k) {
    net.W.push_back(to_matrix(req.at("params").at("W" + std::to_string(k))));
    net.b.push_back(to_matrix(req.at("params").at("b" + std::to_string(k))));
  }
  // "leaky_relu:0.2" names leaky_relu with its slope (one for the whole net).
  for (std::string activation : req.at("activations").get<std::vector<std::string>>()) {
    if (const size_t colon = activation.find(':'); colon != std::string::npos) {
      net.negative_slope = std::stod(activation.substr(colon + 1));
      activation.resize(colon);
    }
    net.activations.push_back(activation);
  }
  net.loss = req.at("loss");
  net.weight_decay = req.value("weight_decay", 0.0);
  const lab::MlpGrads g = lab::mlp_backward(net, to_matrix(req.at("X")), to_matrix(req.at("y")));
  json answer;
  for (size_t k = 0; k < g.dW.size(); ++k) answer["dW" + std::to_string(k + 1)] = to_json(g.dW[k]);
  for (size_t k = 0; k < g.db.size(); ++k) answer["db" + std::to_string(k + 1)] = vector_json(g.db[k]);
  for (size_t k = 0; k < g.dz.size(); ++k) answer["dz" + std::to_string(k + 1)] = to_json(g.dz[k]);
  for (size_t k = 0; k < g.dh.size(); ++k) answer["dh" + std::to_string(k + 1)] = to_json(g.dh[k]);
  return answer;
}

}  // namespace

int main() {
  try {
    const json request = json::parse(std::cin);
    const json answer = request.at("kind") == "mlp" ? answer_mlp(request) : answer_op(request);
    std::cout << answer.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "runner: " << e.what() << "\n";
    return 2;
  }
}
