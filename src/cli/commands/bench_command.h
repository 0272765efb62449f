#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace gradverify::cli {

// Options of `gradverify bench`.
struct BenchOptions {
  std::string cases = "tiny,mnist,softmax,wide";  // which of the four nets
  std::string dtypes = "float64,float32";
  int rounds = 7;          // timed rounds per side; medians are over these
  double round_ms = 50;    // each round runs enough steps to last about this long
  int process_runs = 5;    // start-to-exit runs of `gradverify check` and `--version`
  bool scale = true;       // time the direction check on a 10^6-parameter net
  std::string format = "table";
  std::string output_path;
};

void add_bench_command(CLI::App& app, BenchOptions& options);

// Runs the benchmark and returns 0; the targets it reports are findings, not an exit status
// (a shared machine's noise should not fail a script). Throws InputError (exit 2).
int run_bench(const BenchOptions& options);

}  // namespace gradverify::cli
