// gradverify bench: the manual MLP against its LibTorch twin, one training step (forward and
// backward) at a time, in the same process on the same data. Rounds of the two sides
// alternate, so a noisy neighbour slows both; the figures are medians over rounds.
#include "bench_command.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_report.h"
#include "gradverify/check/check.h"
#include "gradverify/check/finite_differences.h"
#include "gradverify/check/report.h"
#include "gradverify/errors.h"
#include "gradverify/grading/isolation.h"
#include "gradverify/grading/references.h"
#include "gradverify/grading/rubric.h"
#include "gradverify/grading/sandbox.h"
#include "gradverify/net/gemm.h"
#include "gradverify/net/mlp.h"
#include "gradverify/problem/manual_mlp.h"
#include "net_options.h"
#include "output.h"
#include "torch_backend.h"
#include "usage.h"

extern char** environ;

namespace gradverify::cli {

void add_bench_command(CLI::App& app, BenchOptions& o) {
  CLI::App* bench = app.add_subcommand("bench", "Time the manual MLP against LibTorch, and the check itself");
  bench->footer(R"(
Times one training step, forward and backward, of the manual MLP and of its LibTorch twin
(zero_grad, forward, loss, backward) on the same weights and data, in the same dtype:

  tiny     2-4-3-2-1         batch 4     target: manual >= 100x faster than LibTorch
  mnist    784-256-128-10    batch 64    target: manual at least as fast as LibTorch
  softmax  784-256-128-10    batch 64    the same, with a softmax cross_entropy over 10 classes
  wide     1024-1024-1024-1  batch 256   target: as fast as LibTorch, and >= 80% of the machine's
                                                 gemm rate (dgemm for float64, sgemm for float32)

ReLU hidden layers, sigmoid output, MSE (softmax: identity output, cross_entropy), He init,
random data, seed 1. Each side runs in its
best setting here: LibTorch with 1 intra-op thread, both on OpenBLAS with its default threads
(one per core). Rounds of the two sides alternate; each round runs enough steps to last
--round-ms, and the figures are the median, min and max over --rounds rounds. The gemm rate
is a 1024x1024x1024 product measured in the same run. Each case also checks that the two
sides' gradients agree, as `check` would.

Checks at scale: finite differences along one random direction on a 1000-998-1 net
(999,997 parameters), target under a second, and the refusal of per-element differences there.

Then the check itself: the default `gradverify check` timed in this process and from process
start to exit (run --process-runs times), with where the time goes.

Nothing here is a test: the machine is shared and noisy, so compare ratios from one run.
Progress goes to stderr.

Exit status: 0 measured (whatever the figures), 2 a bad option, 4 an internal error.

Examples:
  gradverify bench
  gradverify bench --format json --output bench.json
  gradverify bench --cases tiny --dtypes float64 --rounds 3)");
  bench->add_option("--cases", o.cases, "Comma-separated: tiny, mnist, softmax, wide")->capture_default_str();
  bench->add_option("--dtypes", o.dtypes, "Comma-separated: float64, float32")->capture_default_str();
  bench->add_option("--rounds", o.rounds, "Timed rounds per side (medians are over these)")
      ->capture_default_str()
      ->check(whole_number_from(1, 1000));
  bench->add_option("--round-ms", o.round_ms, "Target length of one round, in milliseconds")
      ->capture_default_str()
      ->check(number_from(1.0, 60000.0));
  bench->add_option("--process-runs", o.process_runs,
                    "Start-to-exit runs of 'gradverify check' and '--version' (0: skip)")
      ->capture_default_str()
      ->check(whole_number_from(0, 100));
  bench->add_flag("!--no-scale", o.scale, "Skip the finite-difference check on a 10^6-parameter net");
  bench->add_option("--format", o.format, "table or json")->capture_default_str()->check(one_of({"table", "json"}));
  bench->add_option("--output,-o", o.output_path, "Write the report to this file instead of stdout");
}

namespace {

using Clock = std::chrono::steady_clock;
using StepFn = std::function<void(int64_t steps)>;

double seconds_of(const std::function<void()>& work) {
  const auto start = Clock::now();
  work();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

BenchTiming summarize(const std::vector<double>& per_step, int64_t steps_per_round) {
  return {median_of(per_step), *std::min_element(per_step.begin(), per_step.end()),
          *std::max_element(per_step.begin(), per_step.end()), steps_per_round};
}

// Steps per round so that a round lasts about round_s: grow until a run is long enough to
// time, then scale.
int64_t calibrate(const StepFn& run, double round_s) {
  run(1);  // warm-up: first-touch allocations, LibTorch's lazy initialisation
  int64_t n = 1;
  double t = 0;
  for (;;) {
    t = seconds_of([&] { run(n); });
    if (t >= 0.2 * round_s || n >= (int64_t{1} << 26)) break;
    n *= 4;
  }
  return std::max<int64_t>(1, std::llround(static_cast<double>(n) * round_s / std::max(t, 1e-9)));
}

// Rounds of each side in turn: a, b, a, b, ...
std::vector<BenchTiming> alternate(const std::vector<StepFn>& sides, int rounds, double round_s) {
  std::vector<int64_t> steps;
  for (const auto& run : sides) steps.push_back(calibrate(run, round_s));
  std::vector<std::vector<double>> per_step(sides.size());
  for (int r = 0; r < rounds; ++r)
    for (size_t s = 0; s < sides.size(); ++s)
      per_step[s].push_back(seconds_of([&] { sides[s](steps[s]); }) / static_cast<double>(steps[s]));
  std::vector<BenchTiming> out;
  for (size_t s = 0; s < sides.size(); ++s) out.push_back(summarize(per_step[s], steps[s]));
  return out;
}

// The manual MLP's training step with its buffers kept, as a training loop keeps them.
template <typename T>
StepFn manual_step(const Problem& problem) {
  struct State {
    MlpSpec spec;
    MlpParams<T> params;
    MlpForwardCache<T> cache;
    MlpGradients<T> grads;
    T sink = T(0);
  };
  auto state = std::make_shared<State>();
  state->spec = problem.spec;
  state->params = params_from_tensors<T>(problem.spec, problem.params);
  state->cache.X = to_matrix<T>(problem.X);
  state->cache.y = to_matrix<T>(problem.y);
  return [state](int64_t steps) {
    for (int64_t s = 0; s < steps; ++s) {
      state->sink += mlp_forward(state->cache, state->spec, state->params, state->cache.X, state->cache.y);
      mlp_backward(state->grads, state->cache, state->spec, state->params);
    }
  };
}

template <typename T>
StepFn gemm_step(int64_t n) {
  auto buffers = std::make_shared<std::vector<T>>(static_cast<size_t>(3 * n * n));
  for (size_t i = 0; i < buffers->size(); ++i) (*buffers)[i] = static_cast<T>(std::sin(static_cast<double>(i)));
  return [buffers, n](int64_t steps) {
    T* A = buffers->data();
    for (int64_t s = 0; s < steps; ++s) gemm(false, false, n, n, n, T(1), A, n, A + n * n, n, T(0), A + 2 * n * n, n);
  };
}

// Multiply-adds of one training step, times two: every layer's forward product, its dW, and
// its dX except the first layer's (dL/dX is not needed).
double step_flops(const MlpSpec& spec, int64_t batch) {
  double flops = 0;
  for (int64_t k = 1; k <= spec.num_layers(); ++k)
    flops += 2.0 * static_cast<double>(batch * spec.fan_in(k) * spec.fan_out(k)) * (k == 1 ? 2 : 3);
  return flops;
}

struct BenchCase {
  const char* name;
  const char* layers;
  int64_t batch;
  double min_speedup;
  bool gemm_rate_target;
  const char* loss = "mse";
};
constexpr BenchCase kCases[] = {
    {"tiny", "2,4,3,2,1", 4, 100, false},
    {"mnist", "784,256,128,10", 64, 1, false},
    {"softmax", "784,256,128,10", 64, 1, false, "cross_entropy"},
    {"wide", "1024,1024,1024,1", 256, 1, true},
};
constexpr double kGemmRateTarget = 0.8;
constexpr int64_t kGemmSize = 1024;

// Both sides' gradients once, compared as `check` compares them: the speed is worth nothing
// if the answers differ.
void check_agreement(const Problem& problem, const ReferenceBackend& backend, BenchCaseResult& r) {
  const ManualResult manual = run_manual_mlp(problem);
  const CheckReport report = check_gradients(problem, manual_mlp_under_test(manual),
                                             backend.compute_reference(problem));
  r.agreement = report.verdict();
  for (const auto* list : {&report.parameters, &report.intermediates})
    for (const auto& t : *list)
      r.agreement_gap = std::max(r.agreement_gap, t.max_abs_diff / std::max(t.reference_max_abs, 1e-300));
}

// Start to exit of this binary with the given arguments, output discarded.
// One run of this binary with `args`, start to exit: its wall time and its peak resident memory.
struct ProcessRun {
  double seconds = 0;
  double peak_mb = 0;
};

ProcessRun run_process(const std::vector<std::string>& args) {
  std::vector<char> self(4096);
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n <= 0) throw std::runtime_error("bench: cannot find its own binary in /proc/self/exe");
  const std::string binary(self.data(), static_cast<size_t>(n));
  std::vector<std::string> argv_strings{binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int status = 0;
  double peak_kb = 0;
  const auto start = Clock::now();
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  // The child's peak memory is its VmHWM, read until it exits: getrusage's ru_maxrss would
  // carry this process's own (LibTorch's) peak over from before the child's exec.
  const std::string status_file = "/proc/" + std::to_string(pid) + "/status";
  while (rc == 0 && waitpid(pid, &status, WNOHANG) == 0) {
    std::ifstream in(status_file);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmHWM:", 0) == 0) peak_kb = std::max(peak_kb, std::stod(line.substr(6)));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // VmHWM only grows: sampling misses little
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("bench: cannot start " + binary);
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3))
    throw std::runtime_error("bench: '" + binary + " " + args.front() + "' failed while being timed");
  return {seconds, peak_kb / 1024.0};
}

double process_seconds(const std::vector<std::string>& args) { return run_process(args).seconds; }

BenchTiming time_processes(const std::vector<std::string>& args, int runs) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) t.push_back(process_seconds(args));
  return summarize(t, 1);
}

std::set<std::string> mapped_libraries() {
  std::set<std::string> libs;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash != std::string::npos && line.find(".so", slash) != std::string::npos) libs.insert(line.substr(slash));
  }
  return libs;
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::vector<std::string> checked_list(const std::string& list, const std::set<std::string>& allowed,
                                      const std::string& option) {
  std::vector<std::string> items = split_list(list);
  if (items.empty()) throw InputError(option, "", "expected a comma-separated list, got nothing");
  for (const auto& item : items)
    if (!allowed.count(item)) {
      std::string names;
      for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
      throw InputError(option, "", "unknown '" + item + "'; expected some of " + names);
    }
  return items;
}

void progress(const std::string& line) { std::cerr << "bench: " << line << std::endl; }

// A target is value >= required, or value <= required when at_most.
void add_target(BenchReport& report, const std::string& name, double value, double required, bool at_most = false) {
  const bool met = at_most ? value <= required : value >= required;
  report.all_targets_met = report.all_targets_met && met;
  report.targets.push_back({name, value, required, at_most, met, false});
}

void add_yes_no_target(BenchReport& report, const std::string& name, bool holds) {
  add_target(report, name, holds ? 1 : 0, 1);
  report.targets.back().yes_no = true;
}

// The machine's gemm rate, the yardstick of the wide net.
BenchGemm measure_gemm(int rounds, double round_s) {
  progress(fmt::format("gemm {0}x{0}x{0}, float64 and float32", kGemmSize));
  const auto timings = alternate({gemm_step<double>(kGemmSize), gemm_step<float>(kGemmSize)}, rounds, round_s);
  const double flops = 2.0 * std::pow(static_cast<double>(kGemmSize), 3);
  return {kGemmSize, timings[0], timings[1], flops / timings[0].median / 1e9, flops / timings[1].median / 1e9};
}

// The case's net in `dtype` on random data, seed 1.
Problem case_problem(const BenchCase& bc, const std::string& dtype) {
  NetOptions net;
  net.layers = bc.layers;
  net.loss = bc.loss;
  net.data = "random:" + std::to_string(bc.batch);
  net.dtype = dtype;
  net.seed = 1;
  return problem_from_options(net);
}

// Rounds of the manual MLP's training step alternating with its LibTorch twin's, then the
// agreement of their gradients.
BenchCaseResult measure_case(const BenchCase& bc, const Problem& problem, const BenchGemm& gemm,
                             const ReferenceBackend& backend, int rounds, double round_s) {
  auto timer = std::shared_ptr<ReferenceStepTimer>(backend.make_step_timer(problem));
  const StepFn manual = problem.spec.dtype == Dtype::float32 ? manual_step<float>(problem) : manual_step<double>(problem);
  const auto timings = alternate({manual, [timer](int64_t steps) { timer->run(steps); }}, rounds, round_s);
  BenchCaseResult r;
  r.name = bc.name;
  r.layers = problem.spec.layers;
  r.batch = bc.batch;
  r.dtype = problem.spec.dtype;
  r.manual = timings[0];
  r.libtorch = timings[1];
  r.flops_per_step = step_flops(problem.spec, bc.batch);
  r.speedup = r.libtorch.median / r.manual.median;
  r.manual_gflops = r.flops_per_step / r.manual.median / 1e9;
  r.libtorch_gflops = r.flops_per_step / r.libtorch.median / 1e9;
  if (bc.gemm_rate_target)
    r.gemm_rate_fraction = r.manual_gflops / (r.dtype == Dtype::float32 ? gemm.sgemm_gflops : gemm.dgemm_gflops);
  check_agreement(problem, backend, r);
  return r;
}

void add_case_targets(BenchReport& report, const BenchCase& bc, const BenchCaseResult& c) {
  const std::string label = c.name + " " + to_string(c.dtype);
  add_target(report, label + ": speedup over LibTorch", c.speedup, bc.min_speedup);
  if (c.gemm_rate_fraction)
    add_target(report, label + ": fraction of the " + (c.dtype == Dtype::float32 ? "sgemm" : "dgemm") + " rate",
               *c.gemm_rate_fraction, kGemmRateTarget);
  add_yes_no_target(report, label + ": gradients agree with LibTorch", c.agreement == Verdict::pass);
}

// Checks at scale: the random-direction finite difference on a net of 10^6 parameters, and
// the refusal of per-element differences there.
BenchScaleCheck measure_at_scale(const ReferenceBackend& backend, int rounds, double round_s) {
  progress("finite differences along one random direction, 1000-998-1 (999,997 parameters), batch 64");
  NetOptions big;
  big.layers = "1000,998,1";
  big.data = "random:64";
  big.seed = 1;
  const Problem problem = problem_from_options(big);
  const ReferenceResult reference = backend.compute_reference(problem);
  const ManualResult manual = run_manual_mlp(problem);
  const Tolerances tol = default_tolerances(problem.spec.dtype);
  BenchScaleCheck scale;
  scale.layers = problem.spec.layers;
  scale.parameters = problem.spec.parameter_count();
  scale.batch = problem.batch();
  scale.direction_check_agrees = true;
  const auto direction_check = [&](int64_t steps) {
    for (int64_t s = 0; s < steps; ++s) {
      const auto fd = run_finite_differences(problem, reference.gradients, &manual.gradients, tol,
                                             FiniteDifferenceMode::direction, 1);
      scale.direction_check_agrees =
          scale.direction_check_agrees && fd.reference_disagreements() == 0 && fd.actual_disagreements() == 0;
    }
  };
  scale.direction_check = alternate({direction_check}, rounds, round_s)[0];
  try {
    resolve_finite_difference_mode(problem, FiniteDifferenceMode::elements, false);
  } catch (const InputError& e) {
    scale.elements_refusal = e.what();
  }
  scale.elements_estimated_seconds = element_mode_work(problem) / kFiniteDifferenceRate;

  scale.op_rows = 64, scale.op_cols = 768;  // llm.c's GPT-2 small: a row of 768 channels
  progress(fmt::format("check_op on llm.c's layernorm, {}x{}, float32", scale.op_rows, scale.op_cols));
  const auto op_check = [&](int64_t steps) {
    for (int64_t s = 0; s < steps; ++s)
      scale.op_check_verdict = backend.check_layernorm_example(scale.op_rows, scale.op_cols, Dtype::float32);
  };
  scale.op_check = alternate({op_check}, rounds, round_s)[0];
  return scale;
}

// The default check, in this process (LibTorch already loaded) and, with process runs, as a
// user runs it.
BenchCheckLatency measure_check_latency(const ReferenceBackend& backend, double load_s, size_t libraries_loaded,
                                        int rounds, double round_s, int process_runs) {
  progress("the default check, in this process");
  // What `gradverify check` does with no options: the lab's net, both sides, the check with
  // automatic finite differences, and the table.
  const auto check_once = [&](int64_t steps) {
    for (int64_t s = 0; s < steps; ++s) {
      const Problem lab = problem_from_options(NetOptions{});
      GradientCheckOptions options;
      options.finite_differences = FiniteDifferenceMode::automatic;
      const ReferenceResult reference = backend.compute_reference(lab);
      const ManualResult manual = run_manual_mlp(lab);
      format_report_table(check_gradients(lab, manual_mlp_under_test(manual),
                                          reference, options));
    }
  };
  BenchCheckLatency latency;
  latency.in_process = alternate({check_once}, rounds, round_s)[0];
  latency.checks_per_second = 1 / latency.in_process.median;
  latency.libtorch_load_seconds = load_s;
  latency.libraries_loaded_with_libtorch = libraries_loaded;
  if (process_runs > 0) {
    progress(fmt::format("'gradverify check' and 'gradverify --version' from start to exit, {} runs each", process_runs));
    BenchProcessLatency process;
    process.version = time_processes({"--version"}, process_runs);
    process.check = time_processes({"check"}, process_runs);
    process.first_call_and_exit = process.check.median - process.version.median - load_s - latency.in_process.median;
    latency.process = process;
  }
  return latency;
}

// Grading: one submission of the built-in rubric by the student kit's reference runner,
// built next to this binary, from start to exit; the cases' own rate excludes start-up.
std::optional<BenchGrading> measure_grading(const BenchCheckLatency& latency, int process_runs) {
  const std::string runner = running_binary_directory() + "/student_runner_solution";
  if (process_runs <= 0 || access(runner.c_str(), X_OK) != 0) return std::nullopt;
  progress("grading the student kit's reference runner on the built-in rubric");
  // The runner in a submission directory of its own, as a student hands it in: each case
  // copies that directory. Removed however the timing ends, an exception included.
  char dir_template[] = "/tmp/gradverify-bench-XXXXXX";
  if (mkdtemp(dir_template) == nullptr)
    throw std::runtime_error(std::string("bench: cannot create a directory in /tmp: ") + std::strerror(errno));
  const std::string dir = dir_template;
  const std::unique_ptr<const char, void (*)(const char*)> remove_dir(
      dir_template, [](const char* path) { std::filesystem::remove_all(path); });
  std::filesystem::copy_file(runner, dir + "/runner");
  const std::string out = dir + "/results.json";
  BenchGrading grading;
  grading.cases_per_submission = builtin_rubric().cases.size();
  grading.submission = time_processes({"grade", "-q", "--submission-cmd", "./runner", "--submission-dir", dir,
                                       "--format", "json", "--output", out}, std::min(process_runs, 3));
  const double startup = (latency.process ? latency.process->version.median : 0) + latency.libtorch_load_seconds;
  grading.cases_per_second_per_worker =
      static_cast<double>(grading.cases_per_submission) / std::max(grading.submission.median - startup, 1e-3);

  // The same submission with stored references (no LibTorch), the two paths interleaved: start
  // to exit, peak memory, and what the grader takes beyond the cases' own wall time (each
  // case from its start to its exit, as the sandbox times it: the copy, the scoring, the
  // isolation probe and the start-up are the grader's).
  progress("grading the same submission with stored references, against computing them with LibTorch");
  // Beside the submission's directory, not in it: each case copies that.
  const std::string references = dir + "-references.json";
  const std::unique_ptr<const char, void (*)(const char*)> remove_references(
      dir_template, [](const char* path) { std::filesystem::remove(std::string(path) + "-references.json"); });
  write_file(references,
             references_to_json(compute_references(builtin_rubric(), torch_reference_source(), 1)),
             0600);
  std::vector<double> stored_wall, computed_wall, overhead;
  for (int run = 0; run < std::max(process_runs, 3); ++run) {
    const ProcessRun computed = run_process({"grade", "-q", "--submission-cmd", "./runner", "--submission-dir", dir,
                                             "--format", "json", "--output", out});
    computed_wall.push_back(computed.seconds);
    grading.computed_peak_mb = std::max(grading.computed_peak_mb, computed.peak_mb);
    const ProcessRun stored = run_process({"grade", "-q", "--references", references, "--submission-cmd", "./runner",
                                           "--submission-dir", dir, "--format", "json", "--output", out});
    stored_wall.push_back(stored.seconds);
    grading.stored_peak_mb = std::max(grading.stored_peak_mb, stored.peak_mb);
    double cases = 0;
    const nlohmann::json results = nlohmann::json::parse(std::ifstream(out));
    for (const auto& c : results["cases"]) cases += c["seconds"].get<double>();
    overhead.push_back(stored.seconds - cases);
  }
  grading.stored_submission = summarize(stored_wall, 1);
  grading.computed_submission = summarize(computed_wall, 1);
  grading.stored_overhead = summarize(overhead, 1);

  // The sandbox's own cost per case, the two modes interleaved so that load hits both alike.
  progress("one case's sandbox, basic and with namespaces");
  SandboxLimits limits;
  limits.working_directory = dir;
  limits.isolation = IsolationMode::basic;
  const IsolationStatus status = isolation_status(SandboxLimits{});
  grading.isolation = status.summary();
  std::vector<double> basic, namespaces;
  for (int run = 0; run < 21; ++run) {
    limits.isolation = IsolationMode::basic;
    basic.push_back(seconds_of([&] { run_sandboxed("exit 0", "", limits); }));
    if (!status.namespaces) continue;
    limits.isolation = IsolationMode::namespaces;
    namespaces.push_back(seconds_of([&] { run_sandboxed("exit 0", "", limits); }));
  }
  grading.case_basic = summarize(basic, 1);
  if (!namespaces.empty()) grading.case_namespaces = summarize(namespaces, 1);
  return grading;
}

BenchMachine describe_machine(const ReferenceBackend& backend) {
  BenchMachine machine;
  machine.openblas_threads = gemm_blas_threads();
  machine.cpu = cpu_model();
  machine.cores = std::thread::hardware_concurrency();
  machine.gemm_backend = gemm_backend();
  machine.blas = gemm_blas_config();
  machine.libtorch_version = backend.torch_version;
  machine.libtorch_package = GRADVERIFY_LIBTORCH_PACKAGE;
  machine.libtorch_intra_op_threads = backend.intra_op_threads();
  return machine;
}

// Everything bench times, in order; progress goes to stderr as it goes.
BenchReport measure_bench(const BenchOptions& o, const std::vector<std::string>& case_names,
                          const std::vector<std::string>& dtype_names) {
  const double round_s = o.round_ms / 1e3;
  BenchReport report;
  report.rounds = o.rounds;
  report.round_ms = o.round_ms;

  const auto libraries_before = mapped_libraries();
  const ReferenceBackend& backend = torch_backend();
  const double load_s = torch_backend_load_seconds();
  const size_t libraries_loaded = mapped_libraries().size() - libraries_before.size();

  report.gemm = measure_gemm(o.rounds, round_s);

  size_t done = 0;
  const size_t total = case_names.size() * dtype_names.size();
  for (const BenchCase& bc : kCases) {
    if (std::find(case_names.begin(), case_names.end(), bc.name) == case_names.end()) continue;
    for (const auto& dtype : dtype_names) {
      const Problem problem = case_problem(bc, dtype);
      progress(fmt::format("[{}/{}] {} {} batch {} {}", ++done, total, bc.name, layers_to_string(problem.spec.layers),
                           bc.batch, dtype));
      report.cases.push_back(measure_case(bc, problem, report.gemm, backend, o.rounds, round_s));
      add_case_targets(report, bc, report.cases.back());
    }
  }

  if (o.scale) {
    report.checks_at_scale = measure_at_scale(backend, o.rounds, round_s);
    add_target(report, "direction check on 10^6 parameters: seconds", report.checks_at_scale->direction_check.median,
               1.0, true);
    add_target(report, "op check of a 64x768 float32 layernorm: seconds", report.checks_at_scale->op_check.median, 1.0,
               true);
    add_yes_no_target(report, "op check of a 64x768 float32 layernorm: passes",
                      report.checks_at_scale->op_check_verdict == Verdict::pass);
  }

  report.check_latency = measure_check_latency(backend, load_s, libraries_loaded, o.rounds, round_s, o.process_runs);
  report.grading = measure_grading(report.check_latency, o.process_runs);
  if (const auto& g = report.grading) {
    add_target(report, "grading with stored references: the grader's own ms, start to exit, beyond its cases'",
               g->stored_overhead.median * 1e3, 50, true);
    add_target(report, "grading with stored references: peak resident MB", g->stored_peak_mb, 100, true);
  }
  report.machine = describe_machine(backend);
  return report;
}

}  // namespace

int run_bench(const BenchOptions& o) {
  require_writable_file(o.output_path);
  const auto case_names = checked_list(o.cases, {"tiny", "mnist", "softmax", "wide"}, "--cases");
  const auto dtype_names = checked_list(o.dtypes, {"float64", "float32"}, "--dtypes");
  const BenchReport report = measure_bench(o, case_names, dtype_names);
  write_output(o.format == "json" ? format_bench_json(report) : format_bench_table(report), o.output_path,
               "gradverify: benchmark written to " + o.output_path +
                   (report.all_targets_met ? "" : " (some targets missed)"), o.format == "table" ? Audience::people : Audience::programs);
  return kPass;
}

}  // namespace gradverify::cli
