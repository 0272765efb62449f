#pragma once
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "net_options.h"

namespace gradverify::cli {

// Options of `gradverify train`.
struct TrainOptions {
  NetOptions net;                 // the problem; train's default seed is 1 (see the help)
  std::string optimizer = "sgd";  // sgd (with momentum) or adam
  std::optional<double> lr;       // default: 0.5 for sgd, 0.05 for adam
  double momentum = 0.9;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t steps = 2000;
  double target_loss = 0.01;      // reported: whether training got below it
  std::string format = "table";
  std::string output_path;
  bool quiet = false;  // no progress on stderr
  std::string plots_dir;          // empty: no plots
  int64_t landscape_resolution = 41;
};

void add_train_command(CLI::App& app, TrainOptions& options);

// Trains both sides in lockstep and returns the exit code: 0 they stayed within rounding of
// each other, 1 they drifted apart or the loss became non-finite. Throws InputError (exit 2).
int run_train(const TrainOptions& options);

}  // namespace gradverify::cli
