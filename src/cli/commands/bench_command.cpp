// gradverify bench: the manual MLP against its LibTorch twin, one training step (forward and
// backward) at a time, in the same process on the same data. Rounds of the two sides
// alternate, so a noisy neighbour slows both; the figures are medians over rounds.
#include "bench_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <thread>

#include "gradverify/check/check.h"
#include "gradverify/errors.h"
#include "gradverify/check/finite_differences.h"
#include "gradverify/net/gemm.h"
#include "gradverify/net/mlp.h"
#include "gradverify/check/report.h"
#include "gradverify/grading/rubric.h"
#include "gradverify/version.h"
#include "gradverify/problem/manual_mlp.h"
#include "net_options.h"
#include "output.h"
#include "torch_backend.h"

extern char** environ;

namespace gradverify::cli {

void add_bench_command(CLI::App& app, BenchOptions& o) {
  CLI::App* bench = app.add_subcommand("bench", "Time the manual MLP against LibTorch, and the check itself");
  bench->footer(R"(
Times one training step, forward and backward, of the manual MLP and of its LibTorch twin
(zero_grad, forward, loss, backward) on the same weights and data, in the same dtype:

  tiny   2-4-3-2-1         batch 4     target: manual >= 100x faster than LibTorch
  mnist  784-256-128-10    batch 64    target: manual at least as fast as LibTorch
  wide   1024-1024-1024-1  batch 256   target: as fast as LibTorch, and >= 80% of the machine's
                                               gemm rate (dgemm for float64, sgemm for float32)

ReLU hidden layers, sigmoid output, MSE, He init, random data, seed 1. Each side runs in its
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

Examples:
  gradverify bench
  gradverify bench --format json --output bench.json
  gradverify bench --cases tiny --dtypes float64 --rounds 3)");
  bench->add_option("--cases", o.cases, "Comma-separated: tiny, mnist, wide")->capture_default_str();
  bench->add_option("--dtypes", o.dtypes, "Comma-separated: float64, float32")->capture_default_str();
  bench->add_option("--rounds", o.rounds, "Timed rounds per side (medians are over these)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  bench->add_option("--round-ms", o.round_ms, "Target length of one round, in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 60000.0));
  bench->add_option("--process-runs", o.process_runs,
                    "Start-to-exit runs of 'gradverify check' and '--version' (0: skip)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  bench->add_flag("!--no-scale", o.scale, "Skip the finite-difference check on a 10^6-parameter net");
  bench->add_option("--format", o.format, "table or json")->capture_default_str()->check(CLI::IsMember({"table", "json"}));
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

struct Timing {
  double median = 0, min = 0, max = 0;  // seconds per step
  int64_t steps_per_round = 0;
};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Timing summarize(const std::vector<double>& per_step, int64_t steps_per_round) {
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
std::vector<Timing> alternate(const std::vector<StepFn>& sides, int rounds, double round_s) {
  std::vector<int64_t> steps;
  for (const auto& run : sides) steps.push_back(calibrate(run, round_s));
  std::vector<std::vector<double>> per_step(sides.size());
  for (int r = 0; r < rounds; ++r)
    for (size_t s = 0; s < sides.size(); ++s)
      per_step[s].push_back(seconds_of([&] { sides[s](steps[s]); }) / static_cast<double>(steps[s]));
  std::vector<Timing> out;
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
};
constexpr BenchCase kCases[] = {
    {"tiny", "2,4,3,2,1", 4, 100, false},
    {"mnist", "784,256,128,10", 64, 1, false},
    {"wide", "1024,1024,1024,1", 256, 1, true},
};
constexpr double kGemmRateTarget = 0.8;
constexpr int64_t kGemmSize = 1024;

struct CaseResult {
  const BenchCase* bench_case = nullptr;
  Problem problem;
  Timing manual, libtorch;
  double flops = 0;
  Verdict agreement = Verdict::fail;
  double agreement_gap = 0;  // max over tensors of max|a - b| / max|b|
};

// Both sides' gradients once, compared as `check` compares them: the speed is worth nothing
// if the answers differ.
void check_agreement(CaseResult& r, const ReferenceBackend& backend) {
  const ManualResult manual = run_manual_mlp(r.problem);
  const CheckReport report = check_gradients(r.problem, {as_submitted(manual.gradients), "manual MLP", manual.loss, {}},
                                             backend.compute_reference(r.problem));
  r.agreement = report.verdict();
  for (const auto* list : {&report.parameters, &report.intermediates})
    for (const auto& t : *list)
      r.agreement_gap = std::max(r.agreement_gap, t.max_abs_diff / std::max(t.reference_max_abs, 1e-300));
}

// Start to exit of this binary with the given arguments, output discarded.
double process_seconds(const std::vector<std::string>& args) {
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
  const auto start = Clock::now();
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  if (rc == 0) waitpid(pid, &status, 0);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("bench: cannot start " + binary);
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3))
    throw std::runtime_error("bench: '" + binary + " " + args.front() + "' failed while being timed");
  return seconds;
}

Timing time_processes(const std::vector<std::string>& args, int runs) {
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

nlohmann::json timing_json(const Timing& t) {
  return {{"median_us", t.median * 1e6}, {"min_us", t.min * 1e6}, {"max_us", t.max * 1e6},
          {"steps_per_round", t.steps_per_round}};
}

std::string timing_text(const Timing& t) {
  const auto us = [](double s) {
    const double v = s * 1e6;
    return v >= 100 ? fmt::format("{:.0f}", v) : v >= 10 ? fmt::format("{:.1f}", v) : fmt::format("{:.3g}", v);
  };
  return fmt::format("{} ({}-{})", us(t.median), us(t.min), us(t.max));
}

void progress(const std::string& line) { std::cerr << "bench: " << line << std::endl; }

}  // namespace

int run_bench(const BenchOptions& o) {
  const auto case_names = checked_list(o.cases, {"tiny", "mnist", "wide"}, "--cases");
  const auto dtype_names = checked_list(o.dtypes, {"float64", "float32"}, "--dtypes");
  const double round_s = o.round_ms / 1e3;

  const auto libraries_before = mapped_libraries();
  const ReferenceBackend& backend = torch_backend();
  const double load_s = torch_backend_load_seconds();
  const size_t libraries_loaded = mapped_libraries().size() - libraries_before.size();

  nlohmann::json doc;
  doc["gradverify_version"] = kVersion;
  std::string table = "gradverify bench: one training step (forward + backward), median (min-max) over " +
                      std::to_string(o.rounds) + " alternating rounds, in microseconds\n";

  // The machine's gemm rate, the yardstick of the wide net.
  progress(fmt::format("gemm {0}x{0}x{0}, float64 and float32", kGemmSize));
  const auto gemm_timings = alternate({gemm_step<double>(kGemmSize), gemm_step<float>(kGemmSize)}, o.rounds, round_s);
  const double gemm_flops = 2.0 * std::pow(static_cast<double>(kGemmSize), 3);
  const double dgemm_gflops = gemm_flops / gemm_timings[0].median / 1e9, sgemm_gflops = gemm_flops / gemm_timings[1].median / 1e9;

  std::vector<CaseResult> results;
  nlohmann::json targets = nlohmann::json::array();
  bool all_targets_met = true;
  // A target is value >= required, or value <= required when at_most.
  const auto target = [&](const std::string& name, double value, double required, bool at_most = false) {
    const bool met = at_most ? value <= required : value >= required;
    all_targets_met = all_targets_met && met;
    targets.push_back({{"name", name}, {"value", value}, {"required", required}, {"met", met},
                       {"condition", at_most ? "at most" : "at least"}});
    return met;
  };

  size_t done = 0;
  const size_t total = case_names.size() * dtype_names.size();
  for (const BenchCase& bc : kCases) {
    if (std::find(case_names.begin(), case_names.end(), bc.name) == case_names.end()) continue;
    for (const auto& dtype : dtype_names) {
      CaseResult r;
      r.bench_case = &bc;
      NetOptions net;
      net.layers = bc.layers;
      net.data = "random:" + std::to_string(bc.batch);
      net.dtype = dtype;
      net.seed = 1;
      r.problem = problem_from_options(net);
      progress(fmt::format("[{}/{}] {} {} batch {} {}", ++done, total, bc.name,
                           layers_to_string(r.problem.spec.layers), bc.batch, dtype));
      auto timer = std::shared_ptr<ReferenceStepTimer>(backend.make_step_timer(r.problem));
      const StepFn manual = r.problem.spec.dtype == Dtype::float32 ? manual_step<float>(r.problem)
                                                                    : manual_step<double>(r.problem);
      const auto timings = alternate({manual, [timer](int64_t steps) { timer->run(steps); }}, o.rounds, round_s);
      r.manual = timings[0];
      r.libtorch = timings[1];
      r.flops = step_flops(r.problem.spec, bc.batch);
      check_agreement(r, backend);
      results.push_back(std::move(r));
    }
  }

  doc["cases"] = nlohmann::json::array();
  table += fmt::format("\n  {:<6} {:<18} {:>5}  {:<7}  {:>22}  {:>22}  {:>9}  {:>7}  {}\n", "case", "layers", "batch",
                       "dtype", "manual", "LibTorch", "speedup", "GFLOP/s", "gradients");
  for (const auto& r : results) {
    const BenchCase& bc = *r.bench_case;
    const std::string dtype = to_string(r.problem.spec.dtype);
    const double speedup = r.libtorch.median / r.manual.median;
    const double manual_gflops = r.flops / r.manual.median / 1e9, libtorch_gflops = r.flops / r.libtorch.median / 1e9;
    const std::string label = std::string(bc.name) + " " + dtype;
    target(label + ": speedup over LibTorch", speedup, bc.min_speedup);
    std::optional<double> gemm_fraction;
    if (bc.gemm_rate_target) {
      gemm_fraction = manual_gflops / (r.problem.spec.dtype == Dtype::float32 ? sgemm_gflops : dgemm_gflops);
      target(label + ": fraction of the " + (r.problem.spec.dtype == Dtype::float32 ? "sgemm" : "dgemm") + " rate",
             *gemm_fraction, kGemmRateTarget);
    }
    target(label + ": gradients agree with LibTorch", r.agreement == Verdict::pass ? 1 : 0, 1);
    nlohmann::json c = {{"name", bc.name},
                        {"layers", r.problem.spec.layers},
                        {"batch", bc.batch},
                        {"dtype", dtype},
                        {"manual_us", r.manual.median * 1e6},
                        {"libtorch_us", r.libtorch.median * 1e6},
                        {"speedup", speedup},
                        {"manual", timing_json(r.manual)},
                        {"libtorch", timing_json(r.libtorch)},
                        {"flops_per_step", r.flops},
                        {"manual_gflops", manual_gflops},
                        {"libtorch_gflops", libtorch_gflops},
                        {"gemm_rate_fraction", gemm_fraction ? nlohmann::json(*gemm_fraction) : nlohmann::json()},
                        {"gradients", {{"verdict", to_string(r.agreement)}, {"max_diff_over_scale", r.agreement_gap}}}};
    doc["cases"].push_back(c);
    table += fmt::format("  {:<6} {:<18} {:>5}  {:<7}  {:>22}  {:>22}  {:>8.1f}x  {:>7.1f}  {} (max diff {:.1e} of scale)\n",
                         bc.name, layers_to_string(r.problem.spec.layers), bc.batch, dtype, timing_text(r.manual),
                         timing_text(r.libtorch), speedup, manual_gflops, to_string(r.agreement), r.agreement_gap);
  }
  table += fmt::format("\n  gemm {0}x{0}x{0} in the same run: dgemm {1:.1f} GFLOP/s, sgemm {2:.1f} GFLOP/s\n", kGemmSize,
                       dgemm_gflops, sgemm_gflops);
  doc["gemm"] = {{"size", kGemmSize}, {"dgemm_gflops", dgemm_gflops}, {"sgemm_gflops", sgemm_gflops},
                 {"dgemm", timing_json(gemm_timings[0])}, {"sgemm", timing_json(gemm_timings[1])}};

  // Checks at scale: the random-direction finite difference on a net of 10^6 parameters, and
  // the refusal of per-element differences there.
  nlohmann::json scale;
  if (o.scale) {
    progress("finite differences along one random direction, 1000-998-1 (999,997 parameters), batch 64");
    NetOptions big;
    big.layers = "1000,998,1";
    big.data = "random:64";
    big.seed = 1;
    const Problem problem = problem_from_options(big);
    const ReferenceResult reference = backend.compute_reference(problem);
    const ManualResult manual = run_manual_mlp(problem);
    const Tolerances tol = default_tolerances(problem.spec.dtype);
    bool agreed = true;
    const auto direction_check = [&](int64_t steps) {
      for (int64_t s = 0; s < steps; ++s) {
        const auto fd = run_finite_differences(problem, reference.gradients, &manual.gradients, tol,
                                               FiniteDifferenceMode::direction, 1);
        agreed = agreed && fd.reference_disagreements() == 0 && fd.actual_disagreements() == 0;
      }
    };
    const Timing direction = alternate({direction_check}, o.rounds, round_s)[0];
    std::string refusal;
    try {
      resolve_finite_difference_mode(problem, FiniteDifferenceMode::elements, false);
    } catch (const InputError& e) {
      refusal = e.what();
    }
    const double element_estimate = element_mode_work(problem) / kFiniteDifferenceRate;
    target("direction check on 10^6 parameters: seconds", direction.median, 1.0, true);
    scale = {{"layers", problem.spec.layers},
             {"parameters", 999997},
             {"batch", 64},
             {"direction_check", timing_json(direction)},
             {"direction_check_agrees", agreed},
             {"elements_estimated_seconds", element_estimate},
             {"elements_refused", !refusal.empty()},
             {"elements_refusal", refusal}};
    table += fmt::format("\n  checks at scale, 1000-998-1 (999,997 parameters), batch 64:\n");
    table += fmt::format("    finite differences along one random direction: {} us ({})\n", timing_text(direction),
                         agreed ? "autograd and the manual gradients agree with it" : "DISAGREEMENT");
    table += fmt::format("    per element: estimated {:.0f} s, {}\n", element_estimate,
                         refusal.empty() ? "NOT refused" : "refused without --force-finite-differences");
  }
  doc["checks_at_scale"] = scale;

  // The default check, in this process (LibTorch already loaded) and as a user runs it.
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
      format_report_table(check_gradients(lab, {as_submitted(manual.gradients), "manual MLP", manual.loss, {}},
                                          reference, options));
    }
  };
  const Timing in_process = alternate({check_once}, o.rounds, round_s)[0];
  nlohmann::json check = {{"in_process", timing_json(in_process)}, {"libtorch_load_us", load_s * 1e6},
                          {"libraries_loaded_with_libtorch", libraries_loaded}};
  table += fmt::format("\n  the default check (lab net, float64, finite differences per element):\n");
  table += fmt::format("    in one process, LibTorch loaded:  {} us  ({:.0f} checks/s)\n", timing_text(in_process),
                       1 / in_process.median);
  table += fmt::format("    loading LibTorch (the plug-in and {} shared libraries): {:.0f} ms\n", libraries_loaded, load_s * 1e3);
  if (o.process_runs > 0) {
    progress(fmt::format("'gradverify check' and 'gradverify --version' from start to exit, {} runs each", o.process_runs));
    const Timing version_process = time_processes({"--version"}, o.process_runs);
    const Timing check_process = time_processes({"check"}, o.process_runs);
    const double rest = check_process.median - version_process.median - load_s - in_process.median;
    check["process"] = timing_json(check_process);
    check["version_process"] = timing_json(version_process);
    check["breakdown_us"] = {{"process_without_libtorch", version_process.median * 1e6},
                             {"loading_libtorch", load_s * 1e6},
                             {"the_check", in_process.median * 1e6},
                             {"first_call_and_exit", rest * 1e6}};
    table += fmt::format("    'gradverify check', start to exit:  {:.0f} ms (min {:.0f}, max {:.0f}), of which\n",
                         check_process.median * 1e3, check_process.min * 1e3, check_process.max * 1e3);
    table += fmt::format("      {:>6.1f} ms  a process without LibTorch (as 'gradverify --version')\n", version_process.median * 1e3);
    table += fmt::format("      {:>6.1f} ms  loading LibTorch\n", load_s * 1e3);
    table += fmt::format("      {:>6.1f} ms  the check itself (both sides, comparison, diagnosis, finite differences)\n",
                         in_process.median * 1e3);
    table += fmt::format("      {:>6.1f} ms  the rest: LibTorch's first-call initialisation, teardown at exit\n", rest * 1e3);
  }
  doc["check_latency"] = check;
  // Grading: one submission of the built-in rubric by the student kit's reference runner,
  // built next to this binary, from start to exit; the cases' own rate excludes start-up.
  nlohmann::json grading = {{"check_cases_per_second", 1 / in_process.median}};
  const std::string runner = running_binary_directory() + "/student_runner_solution";
  if (o.process_runs > 0 && access(runner.c_str(), X_OK) == 0) {
    progress("grading the student kit's reference runner on the built-in rubric");
    char out_template[] = "/tmp/gradverify-bench-XXXXXX";
    const int fd = mkstemp(out_template);
    if (fd >= 0) close(fd);
    const size_t cases = builtin_rubric().cases.size();
    const Timing submission = time_processes({"grade", "-q", "--submission-cmd", runner, "--submission-dir", "/tmp", "--format", "json", "--output",
                                              out_template}, std::min(o.process_runs, 3));
    std::remove(out_template);
    const double startup = (check.contains("version_process") ? check["version_process"]["median_us"].get<double>() / 1e6 : 0) + load_s;
    const double case_rate = static_cast<double>(cases) / std::max(submission.median - startup, 1e-3);
    grading["submission"] = timing_json(submission);
    grading["cases_per_submission"] = cases;
    grading["cases_per_second_per_worker"] = case_rate;
    table += fmt::format("    grading one submission ({} cases, the kit's reference runner), start to exit: {:.0f} ms; "
                         "after start-up, {:.0f} cases/s per worker ('grade --submissions' loads LibTorch once per "
                         "class)\n", cases, submission.median * 1e3, case_rate);
  } else {
    table += fmt::format("    grading: {:.0f} check cases/s of reference-and-compare work in one process (the kit's "
                         "runner was not found next to this binary, so no submission was graded)\n",
                         1 / in_process.median);
  }
  doc["grading"] = grading;

  const int blas_threads = gemm_blas_threads();
  doc["settings"] = {{"rounds", o.rounds},
                     {"round_ms", o.round_ms},
                     {"cpu", cpu_model()},
                     {"cores", std::thread::hardware_concurrency()},
                     {"gemm_backend", gemm_backend()},
                     {"blas", gemm_blas_config()},
                     {"openblas_threads", blas_threads},
                     {"libtorch_version", backend.torch_version},
                     {"libtorch_intra_op_threads", backend.intra_op_threads()}};
  table += fmt::format("\n  machine: {}, {} cores\n  manual MLP: {}; {}, {} threads\n  LibTorch {}: {} intra-op thread(s), "
                       "products on the same OpenBLAS\n",
                       cpu_model(), std::thread::hardware_concurrency(), gemm_backend(), gemm_blas_config(), blas_threads,
                       backend.torch_version, backend.intra_op_threads());

  doc["targets"] = targets;
  doc["targets_met"] = all_targets_met;
  table += "\n  targets:\n";
  for (const auto& t : targets)
    table += fmt::format("    {:<4} {:<55} {:.3g} (needs {} {:g})\n", t["met"].get<bool>() ? "met" : "MISS",
                         t["name"].get<std::string>(), t["value"].get<double>(),
                         t["condition"] == "at most" ? "<=" : ">=", t["required"].get<double>());
  table += all_targets_met ? "  all targets met\n" : "  SOME TARGETS MISSED (a loaded machine? compare with another run)\n";

  const std::string text = o.format == "json" ? doc.dump(2) + "\n" : table;
  write_output(text, o.output_path,
               "gradverify: benchmark written to " + o.output_path + (all_targets_met ? "" : " (some targets missed)"));
  return kPass;
}

}  // namespace gradverify::cli
