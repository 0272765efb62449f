#pragma once
// What `gradverify train` found, rendered for people (the curve as a table, then the
// verdict) or for programs (JSON).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/net/training.h"
#include "gradverify/torch/lockstep.h"
#include "plots.h"

namespace gradverify::cli {

struct TrainReport {
  // What was trained.
  MlpSpec spec;                  // the net: widths, activations, loss, dtype
  std::string data_description;  // e.g. "xor", "random:32"
  int64_t batch = 0;             // samples; every step is full batch
  int64_t seed = 0;              // of the weights (--seed)
  OptimizerConfig optimizer;     // the same on both sides
  int64_t steps_asked = 0;       // --steps; fewer ran if the loss became non-finite (see curve)
  double drift_tolerance = 0;    // the lockstep bound on |manual - LibTorch|, before max(1, max|θ|)
  double target_loss = 0;        // --target-loss

  // How it went.
  std::vector<LockstepStep> curve;        // every step run: both losses before it, the drift after it
  double final_manual_loss = 0;           // each side's loss at its weights after the last step
  double final_reference_loss = 0;
  ParameterGap largest;                   // the largest drift of the run, and where
  std::optional<int64_t> departure_step;  // the first step where the drift left rounding level
  ParameterGap departure;                 // ... and where, then
  std::optional<int64_t> diverged_at;     // the first step with a NaN or Inf loss, where training stopped
  bool in_lockstep = false;               // neither departed nor diverged
  std::vector<PlotResult> plots;          // with --plots: the training curve, then the loss landscape
};

// The header, every (steps / 20)th step of the curve, the final losses, the drift, the plots
// and a PASS or FAIL line.
std::string format_train_table(const TrainReport& report);

// {"lockstep", "layers", "loss", "dtype", "data", "seed", "optimizer", "steps",
//  "drift_tolerance", "curve": [...], "final", "departure", "diverged_at_step", "plots": [...]}
std::string format_train_json(const TrainReport& report);

}  // namespace gradverify::cli
