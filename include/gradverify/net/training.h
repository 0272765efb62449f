#pragma once
// Training the manual MLP with hand-written optimizers whose update rules are torch::optim's
// (LibTorch 1.13), written out, so the manual MLP and its LibTorch twin can train in
// lockstep from the same weights and stay within rounding of each other.
//
// SGD with momentum m (dampening 0, no Nesterov), per parameter p with gradient g:
//     step 1: v = g;   later: v = m·v + g;        p = p - lr·v       (m = 0: p = p - lr·g)
// Adam (no weight decay, no AMSGrad), at step t:
//     m1 = β1·m1 + (1-β1)·g;   m2 = β2·m2 + (1-β2)·g²
//     p  = p - (lr / (1-β1^t)) · m1 / (sqrt(m2) / sqrt(1-β2^t) + eps)
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gradverify/problem/problem.h"

namespace gradverify {

enum class OptimizerKind { sgd, adam };
const char* to_string(OptimizerKind kind);
std::optional<OptimizerKind> parse_optimizer(const std::string& name);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 0.5;        // the defaults learn the lab's XOR net from seed 0 in 2000 steps
  double momentum = 0.9;  // SGD only
  double beta1 = 0.9;     // Adam only
  double beta2 = 0.999;
  double eps = 1e-8;
};

// Throws InputError naming `source` unless lr > 0, 0 <= momentum < 1, 0 <= beta < 1, eps > 0.
void validate_optimizer(const OptimizerConfig& config, const std::string& source);

// The manual side of a lockstep run: the manual MLP in the problem's dtype and its optimizer.
class ManualTrainer {
 public:
  ManualTrainer(const Problem& problem, const OptimizerConfig& config);
  ~ManualTrainer();
  ManualTrainer(const ManualTrainer&) = delete;
  ManualTrainer& operator=(const ManualTrainer&) = delete;

  // One step: forward, backward, update. Returns the loss before the update.
  double step();
  // The current weights, W1, b1, ..., as doubles.
  TensorMap params() const;

  struct Impl;  // per dtype, in training.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

// The loss of the problem's net at other weights (the problem's dtype), for the landscape.
double loss_at(const Problem& problem, const TensorMap& params);

}  // namespace gradverify
