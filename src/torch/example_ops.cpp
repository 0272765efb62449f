#include "gradverify/torch/example_ops.h"

#include "gradverify/torch/reference_backend.h"

#include <cmath>
#include <random>

namespace gradverify {
namespace {

constexpr double eps = 1e-5;  // layernorm's variance epsilon, as torch's default

Tensor normal(Shape shape, std::mt19937& rng) {
  std::normal_distribution<double> dist(0, 1);
  Tensor t{shape, {}};
  int64_t n = 1;
  for (auto d : shape) n *= d;
  for (int64_t i = 0; i < n; ++i) t.values.push_back(dist(rng));
  return t;
}

}  // namespace

HandWrittenOp layernorm_example(int64_t rows, int64_t cols, Dtype dtype) {
  const int64_t N = rows, C = cols;
  HandWrittenOp op;
  op.name = "layernorm";
  op.dtype = dtype;
  op.make_inputs = [N, C](std::mt19937& rng) {
    return TensorMap{{"x", normal({N, C}, rng)}, {"w", normal({C}, rng)}, {"b", normal({C}, rng)}};
  };
  op.differentiated = {"x", "w", "b"};
  op.forward_outputs = [N, C](const TensorMap& in, TensorMap& saved) {
    const auto &x = in.at("x").values, &w = in.at("w").values, &b = in.at("b").values;
    Tensor out{{N, C}, std::vector<double>(static_cast<size_t>(N * C))}, mean{{N}, {}}, rstd{{N}, {}};
    for (int64_t n = 0; n < N; ++n) {
      double m = 0, v = 0;
      for (int64_t c = 0; c < C; ++c) m += x[static_cast<size_t>(n * C + c)] / static_cast<double>(C);
      for (int64_t c = 0; c < C; ++c) v += std::pow(x[static_cast<size_t>(n * C + c)] - m, 2) / static_cast<double>(C);
      const double r = 1 / std::sqrt(v + eps);
      for (int64_t c = 0; c < C; ++c) {
        const auto i = static_cast<size_t>(n * C + c);
        out.values[i] = (x[i] - m) * r * w[static_cast<size_t>(c)] + b[static_cast<size_t>(c)];
      }
      mean.values.push_back(m);
      rstd.values.push_back(r);
    }
    saved["mean"] = mean;
    saved["rstd"] = rstd;
    return TensorMap{{"out", out}, {"mean", mean}, {"rstd", rstd}};
  };
  op.backward_outputs = [N, C](const TensorMap& in, const TensorMap& saved, const TensorMap& up) {
    const auto &x = in.at("x").values, &w = in.at("w").values;
    const auto &mean = saved.at("mean").values, &rstd = saved.at("rstd").values;
    const auto &dout = up.at("out").values, &dmean = up.at("mean").values, &drstd = up.at("rstd").values;
    Tensor dx{{N, C}, std::vector<double>(static_cast<size_t>(N * C))};
    Tensor dw{{C}, std::vector<double>(static_cast<size_t>(C))}, db{{C}, std::vector<double>(static_cast<size_t>(C))};
    for (int64_t n = 0; n < N; ++n) {
      const auto row = static_cast<size_t>(n);
      double dnorm_mean = 0, dnorm_norm_mean = 0;
      for (int64_t c = 0; c < C; ++c) {
        const auto i = static_cast<size_t>(n * C + c);
        const double norm = (x[i] - mean[row]) * rstd[row], dnorm = dout[i] * w[static_cast<size_t>(c)];
        dnorm_mean += dnorm / static_cast<double>(C);
        dnorm_norm_mean += dnorm * norm / static_cast<double>(C);
        dw.values[static_cast<size_t>(c)] += dout[i] * norm;
        db.values[static_cast<size_t>(c)] += dout[i];
      }
      for (int64_t c = 0; c < C; ++c) {
        const auto i = static_cast<size_t>(n * C + c);
        const double norm = (x[i] - mean[row]) * rstd[row], dnorm = dout[i] * w[static_cast<size_t>(c)];
        dx.values[i] = rstd[row] * (dnorm - dnorm_mean - norm * dnorm_norm_mean) + dmean[row] / static_cast<double>(C);
        // d rstd / dx_i = -rstd³ (x_i - mean) / C
        dx.values[i] -= drstd[row] * std::pow(rstd[row], 3) * (x[i] - mean[row]) / static_cast<double>(C);
      }
    }
    return TensorMap{{"x", dx}, {"w", dw}, {"b", db}};
  };
  op.torch_forward_outputs = [](const std::map<std::string, torch::Tensor>& in) {
    const auto& x = in.at("x");
    const auto mean = x.mean(-1);
    const auto rstd = (x.var(-1, /*unbiased=*/false) + eps).rsqrt();
    const auto out = (x - mean.unsqueeze(1)) * rstd.unsqueeze(1) * in.at("w") + in.at("b");
    return std::map<std::string, torch::Tensor>{{"out", out}, {"mean", mean}, {"rstd", rstd}};
  };
  return op;
}

Verdict check_layernorm_example(int64_t rows, int64_t cols, Dtype dtype) {
  return check_op(layernorm_example(rows, cols, dtype)).verdict();
}

}  // namespace gradverify
