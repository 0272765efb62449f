#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "net_options.h"

namespace gradverify::cli {

// Options of `gradverify check`, with the defaults that reproduce the lab's network.
struct CheckOptions {
  NetOptions net;              // the problem: --problem, or --layers, --loss, ... and --seed
  std::string gradients_path;  // --gradients: check these gradients instead of the manual MLP's
  std::optional<double> rtol, atol, atol_scale;
  std::string format = "table";
  std::string output_path;
  std::string save_problem_path;
  std::string save_gradients_path;
  std::string finite_differences = "auto";  // auto, elements, direction or off
  bool force_finite_differences = false;    // run per-element differences however long they take
};

void add_check_command(CLI::App& app, CheckOptions& options);

// Runs the check and returns the exit code: 0 pass, 1 mismatch, 3 vacuous. Throws
// InputError (exit 2) on a bad file or option value.
int run_check(const CheckOptions& options);

}  // namespace gradverify::cli
