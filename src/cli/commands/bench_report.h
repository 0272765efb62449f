#pragma once
// What `gradverify bench` measured, rendered for people (a column-aligned table) or for
// programs (JSON). Times are kept in seconds; the formatters show microseconds or ms.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradverify/check/check.h"
#include "gradverify/net/mlp_spec.h"

namespace gradverify::cli {

// Rounds of one piece of work: the median and spread of its time per step.
struct BenchTiming {
  double median = 0, min = 0, max = 0;  // seconds per step (per run, for a process)
  int64_t steps_per_round = 0;          // steps each round ran (1 for a process)
};

// The machine's gemm rate, the yardstick of the wide net.
struct BenchGemm {
  int64_t size = 0;                           // the product is size x size x size
  BenchTiming dgemm, sgemm;                   // one product in float64, in float32
  double dgemm_gflops = 0, sgemm_gflops = 0;  // 10^9 flop/s at the median
};

// One net in one dtype: the manual MLP's training step (forward and backward) against its
// LibTorch twin's.
struct BenchCaseResult {
  std::string name;                               // "tiny", "mnist" or "wide"
  std::vector<int64_t> layers;                    // widths, input first
  int64_t batch = 0;                              // samples per step
  Dtype dtype = Dtype::float64;                   // of both sides
  BenchTiming manual, libtorch;                   // one training step of each side
  double flops_per_step = 0;                      // flop of one training step
  double speedup = 0;                             // LibTorch's median time over the manual MLP's
  double manual_gflops = 0, libtorch_gflops = 0;  // 10^9 flop/s at each side's median
  std::optional<double> gemm_rate_fraction;       // manual_gflops over the dtype's gemm rate; wide only
  Verdict agreement = Verdict::fail;              // the two sides' gradients, compared as `check` does
  double agreement_gap = 0;                       // max over tensors of max|a - b| / max|b|
};

// Finite differences on a net of 10^6 parameters, and an op check of llm.c's size.
struct BenchScaleCheck {
  std::vector<int64_t> layers;            // widths, input first
  int64_t parameters = 0;                 // weights and biases
  int64_t batch = 0;                      // samples
  BenchTiming direction_check;            // finite differences along one random direction, per check
  bool direction_check_agrees = false;    // autograd and the manual gradients agreed with it every time
  double elements_estimated_seconds = 0;  // what per-element finite differences would take
  std::string elements_refusal;           // the InputError refusing them; empty if they were not refused
  int64_t op_rows = 0, op_cols = 0;       // the layernorm example's x (torch/example_ops.h), float32
  BenchTiming op_check;                   // check_op on it: forward, backward over 3 draws, sampled differences
  Verdict op_check_verdict = Verdict::fail;  // what that check found
};

// `gradverify check` and `gradverify --version`, each from process start to exit.
struct BenchProcessLatency {
  BenchTiming check, version;      // seconds per run
  double first_call_and_exit = 0;  // seconds of check's run that are not version's, the load or the check
};

// The default `gradverify check`: the lab's net, both sides, automatic finite differences.
struct BenchCheckLatency {
  BenchTiming in_process;                      // one check, LibTorch already loaded
  double checks_per_second = 0;                // in process: 1 / in_process.median
  double libtorch_load_seconds = 0;            // this process's loading of the plug-in and LibTorch
  size_t libraries_loaded_with_libtorch = 0;   // shared libraries that loading mapped
  std::optional<BenchProcessLatency> process;  // empty with --process-runs 0
};

// One submission of the built-in rubric by the student kit's reference runner.
struct BenchGrading {
  BenchTiming submission;                  // `gradverify grade`, start to exit: seconds per run
  size_t cases_per_submission = 0;         // the built-in rubric's cases
  double cases_per_second_per_worker = 0;  // after start-up: a process without LibTorch, and the load
  // One case's sandbox alone (`exit 0` in a copy of the runner's directory), interleaved runs:
  BenchTiming case_basic;                   // --isolation basic: the copy, the cgroup, the uid, rlimits
  std::optional<BenchTiming> case_namespaces;  // and bubblewrap's world, where it works here
  std::string isolation;                    // IsolationStatus::summary()
  // The same submission graded with stored references (grade --references), interleaved with
  // the path that computes them with LibTorch: start to exit, and peak resident memory.
  BenchTiming stored_submission, computed_submission;
  BenchTiming stored_overhead;  // start to exit minus the cases' own wall time (each start to exit)
  double stored_peak_mb = 0, computed_peak_mb = 0;
};

// What the figures ran on.
struct BenchMachine {
  std::string cpu;                    // /proc/cpuinfo's model name
  unsigned cores = 0;                 // std::thread::hardware_concurrency()
  std::string gemm_backend;           // what the manual MLP's products run on
  std::string blas;                   // OpenBLAS's build line; empty without CBLAS
  int openblas_threads = 0;           // 0 without CBLAS
  std::string libtorch_version;       // the headers' TORCH_VERSION, e.g. "1.13.0"
  std::string libtorch_package;       // the package that installed it, e.g. "libtorch-dev 1.13.1+dfsg-4"; or empty
  int libtorch_intra_op_threads = 0;  // as set for the reference
};

// A figure and the bound it should reach. Missing one is a finding, not an exit status.
struct BenchTarget {
  std::string name;      // e.g. "tiny float64: speedup over LibTorch"
  double value = 0;      // the figure; 1 or 0 for a yes-or-no one
  double required = 0;   // the bound
  bool at_most = false;  // met when value <= required; otherwise when value >= required
  bool met = false;
  bool yes_no = false;   // a yes-or-no target: shown as yes or no, not as 1 (needs >= 1)
};

struct BenchReport {
  int rounds = 0;                                  // timed rounds per side (--rounds)
  double round_ms = 0;                             // target length of a round, in milliseconds
  BenchGemm gemm;
  std::vector<BenchCaseResult> cases;              // tiny, mnist, wide as asked; each in the dtypes asked
  std::optional<BenchScaleCheck> checks_at_scale;  // empty with --no-scale
  BenchCheckLatency check_latency;
  std::optional<BenchGrading> grading;             // empty without process runs or the kit's runner
  BenchMachine machine;
  std::vector<BenchTarget> targets;                // each case's, then the check at scale's
  bool all_targets_met = true;
};

std::string format_bench_table(const BenchReport& report);

// {"gradverify_version", "gemm", "cases": [...], "checks_at_scale", "check_latency", "grading",
//  "settings", "targets": [...], "targets_met"}, times in microseconds.
std::string format_bench_json(const BenchReport& report);

}  // namespace gradverify::cli
