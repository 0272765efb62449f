#include "bench_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gradverify/version.h"

namespace gradverify::cli {

namespace {

using nlohmann::json;

// "1.13.0 (TORCH_VERSION; installed as libtorch-dev 1.13.1+dfsg-4)" when the two differ.
std::string libtorch_named(const BenchMachine& machine) {
  if (machine.libtorch_package.empty() || machine.libtorch_package.find(machine.libtorch_version) != std::string::npos)
    return machine.libtorch_version;
  return fmt::format("{} (TORCH_VERSION; installed as {})", machine.libtorch_version, machine.libtorch_package);
}

json timing_json(const BenchTiming& t) {
  return {{"median_us", t.median * 1e6}, {"min_us", t.min * 1e6}, {"max_us", t.max * 1e6},
          {"steps_per_round", t.steps_per_round}};
}

// "median (min-max)" in microseconds, to about three significant digits.
std::string timing_text(const BenchTiming& t) {
  const auto us = [](double s) {
    const double v = s * 1e6;
    return v >= 100 ? fmt::format("{:.0f}", v) : v >= 10 ? fmt::format("{:.1f}", v) : fmt::format("{:.3g}", v);
  };
  return fmt::format("{} ({}-{})", us(t.median), us(t.min), us(t.max));
}

}  // namespace

std::string format_bench_table(const BenchReport& report) {
  std::string table = "gradverify bench: one training step (forward + backward), median (min-max) over " +
                      std::to_string(report.rounds) + " alternating rounds, in microseconds\n";

  table += fmt::format("\n  {:<6} {:<18} {:>5}  {:<7}  {:>22}  {:>22}  {:>9}  {:>7}  {}\n", "case", "layers", "batch",
                       "dtype", "manual", "LibTorch", "speedup", "GFLOP/s", "gradients");
  for (const auto& c : report.cases)
    table += fmt::format("  {:<6} {:<18} {:>5}  {:<7}  {:>22}  {:>22}  {:>8.1f}x  {:>7.1f}  {} (max diff {:.1e} of scale)\n",
                         c.name, layers_to_string(c.layers), c.batch, to_string(c.dtype), timing_text(c.manual),
                         timing_text(c.libtorch), c.speedup, c.manual_gflops, to_string(c.agreement), c.agreement_gap);
  const BenchGemm& gemm = report.gemm;
  table += fmt::format("\n  gemm {0}x{0}x{0} in the same run: dgemm {1:.1f} GFLOP/s, sgemm {2:.1f} GFLOP/s\n", gemm.size,
                       gemm.dgemm_gflops, gemm.sgemm_gflops);

  if (const auto& scale = report.checks_at_scale) {
    table += fmt::format("\n  checks at scale, 1000-998-1 (999,997 parameters), batch 64:\n");
    table += fmt::format("    finite differences along one random direction: {} us ({})\n",
                         timing_text(scale->direction_check),
                         scale->direction_check_agrees ? "autograd and the manual gradients agree with it" : "DISAGREEMENT");
    table += fmt::format("    per element: estimated {:.0f} s, {}\n", scale->elements_estimated_seconds,
                         scale->elements_refusal.empty() ? "NOT refused" : "refused without --force-finite-differences");
    table += fmt::format("  check_op on llm.c's layernorm, {}x{}, float32 (forward, 3 draws of the backward, sampled "
                         "finite differences): {:.0f} ms (min {:.0f}, max {:.0f}), {}\n",
                         scale->op_rows, scale->op_cols, scale->op_check.median * 1e3, scale->op_check.min * 1e3,
                         scale->op_check.max * 1e3, to_string(scale->op_check_verdict));
  }

  const BenchCheckLatency& check = report.check_latency;
  table += fmt::format("\n  the default check (lab net, float64, finite differences per element):\n");
  table += fmt::format("    in one process, LibTorch loaded:  {} us  ({:.0f} checks/s)\n", timing_text(check.in_process),
                       check.checks_per_second);
  table += fmt::format("    loading LibTorch (the plug-in and {} shared libraries): {:.0f} ms\n",
                       check.libraries_loaded_with_libtorch, check.libtorch_load_seconds * 1e3);
  if (const auto& process = check.process) {
    table += fmt::format("    'gradverify check', start to exit:  {:.0f} ms (min {:.0f}, max {:.0f}), of which\n",
                         process->check.median * 1e3, process->check.min * 1e3, process->check.max * 1e3);
    table += fmt::format("      {:>6.1f} ms  a process without LibTorch (as 'gradverify --version')\n",
                         process->version.median * 1e3);
    table += fmt::format("      {:>6.1f} ms  loading LibTorch\n", check.libtorch_load_seconds * 1e3);
    table += fmt::format("      {:>6.1f} ms  the check itself (both sides, comparison, diagnosis, finite differences)\n",
                         check.in_process.median * 1e3);
    table += fmt::format("      {:>6.1f} ms  the rest: LibTorch's first-call initialisation, teardown at exit\n",
                         process->first_call_and_exit * 1e3);
  }
  if (const auto& grading = report.grading) {
    table += fmt::format("    grading one submission ({} cases, the kit's reference runner), start to exit: {:.0f} ms; "
                         "after start-up, {:.0f} cases/s per worker ('grade --submissions' loads LibTorch once per "
                         "class)\n", grading->cases_per_submission, grading->submission.median * 1e3,
                         grading->cases_per_second_per_worker);
    table += fmt::format("    with stored references (grade --references, no LibTorch): {:.0f} ms start to exit, peak "
                         "{:.0f} MB; computing them with LibTorch: {:.0f} ms, peak {:.0f} MB; the grader's own time "
                         "beyond its cases': {:.0f} ms (medians)\n",
                         grading->stored_submission.median * 1e3, grading->stored_peak_mb,
                         grading->computed_submission.median * 1e3, grading->computed_peak_mb,
                         grading->stored_overhead.median * 1e3);
    table += fmt::format("    one case's sandbox (exit 0): {:.1f} ms basic", grading->case_basic.median * 1e3);
    if (const auto& ns = grading->case_namespaces)
      table += fmt::format(", {:.1f} ms with namespaces: +{:.1f} ms per case for bubblewrap's world", ns->median * 1e3,
                           (ns->median - grading->case_basic.median) * 1e3);
    table += fmt::format(" (medians; {})\n", grading->isolation);
  } else {
    table += fmt::format("    grading: {:.0f} check cases/s of reference-and-compare work in one process (the kit's "
                         "runner was not found next to this binary, so no submission was graded)\n",
                         check.checks_per_second);
  }

  const BenchMachine& machine = report.machine;
  table += fmt::format("\n  machine: {}, {} cores\n  manual MLP: {}; {}, {} threads\n  LibTorch {}: {} intra-op thread(s), "
                       "products on the same OpenBLAS\n",
                       machine.cpu, machine.cores, machine.gemm_backend, machine.blas, machine.openblas_threads,
                       libtorch_named(machine),
                       machine.libtorch_intra_op_threads);

  table += "\n  targets:\n";
  for (const auto& t : report.targets)
    table += fmt::format("    {:<4} {:<55} {}\n", t.met ? "met" : "MISS", t.name,
                         t.yes_no ? (t.met ? "yes" : "no")
                                  : fmt::format("{:.3g} (needs {} {:g})", t.value, t.at_most ? "<=" : ">=", t.required));
  table += report.all_targets_met ? "  all targets met\n"
                                  : "  SOME TARGETS MISSED (a loaded machine? compare with another run)\n";
  return table;
}

std::string format_bench_json(const BenchReport& report) {
  json doc;
  doc["gradverify_version"] = kVersion;

  const BenchGemm& gemm = report.gemm;
  doc["gemm"] = {{"size", gemm.size}, {"dgemm_gflops", gemm.dgemm_gflops}, {"sgemm_gflops", gemm.sgemm_gflops},
                 {"dgemm", timing_json(gemm.dgemm)}, {"sgemm", timing_json(gemm.sgemm)}};

  doc["cases"] = json::array();
  for (const auto& c : report.cases)
    doc["cases"].push_back({{"name", c.name},
                            {"layers", c.layers},
                            {"batch", c.batch},
                            {"dtype", to_string(c.dtype)},
                            {"manual_us", c.manual.median * 1e6},
                            {"libtorch_us", c.libtorch.median * 1e6},
                            {"speedup", c.speedup},
                            {"manual", timing_json(c.manual)},
                            {"libtorch", timing_json(c.libtorch)},
                            {"flops_per_step", c.flops_per_step},
                            {"manual_gflops", c.manual_gflops},
                            {"libtorch_gflops", c.libtorch_gflops},
                            {"gemm_rate_fraction", c.gemm_rate_fraction ? json(*c.gemm_rate_fraction) : json()},
                            {"gradients", {{"verdict", to_string(c.agreement)}, {"max_diff_over_scale", c.agreement_gap}}}});

  json scale;  // null with --no-scale
  if (const auto& s = report.checks_at_scale)
    scale = {{"layers", s->layers},
             {"parameters", s->parameters},
             {"batch", s->batch},
             {"direction_check", timing_json(s->direction_check)},
             {"direction_check_agrees", s->direction_check_agrees},
             {"elements_estimated_seconds", s->elements_estimated_seconds},
             {"elements_refused", !s->elements_refusal.empty()},
             {"elements_refusal", s->elements_refusal},
             {"op_check", {{"op", "layernorm"}, {"rows", s->op_rows}, {"cols", s->op_cols}, {"dtype", "float32"},
                           {"timing", timing_json(s->op_check)}, {"verdict", to_string(s->op_check_verdict)}}}};
  doc["checks_at_scale"] = scale;

  const BenchCheckLatency& latency = report.check_latency;
  json check = {{"in_process", timing_json(latency.in_process)},
                {"libtorch_load_us", latency.libtorch_load_seconds * 1e6},
                {"libraries_loaded_with_libtorch", latency.libraries_loaded_with_libtorch}};
  if (const auto& process = latency.process) {
    check["process"] = timing_json(process->check);
    check["version_process"] = timing_json(process->version);
    check["breakdown_us"] = {{"process_without_libtorch", process->version.median * 1e6},
                             {"loading_libtorch", latency.libtorch_load_seconds * 1e6},
                             {"the_check", latency.in_process.median * 1e6},
                             {"first_call_and_exit", process->first_call_and_exit * 1e6}};
  }
  doc["check_latency"] = check;

  json grading = {{"check_cases_per_second", latency.checks_per_second}};
  if (const auto& g = report.grading) {
    grading["submission"] = timing_json(g->submission);
    grading["cases_per_submission"] = g->cases_per_submission;
    grading["cases_per_second_per_worker"] = g->cases_per_second_per_worker;
    grading["case_sandbox_basic"] = timing_json(g->case_basic);
    if (g->case_namespaces) {
      grading["case_sandbox_namespaces"] = timing_json(*g->case_namespaces);
      grading["namespaces_added_seconds"] = g->case_namespaces->median - g->case_basic.median;
    }
    grading["isolation"] = g->isolation;
    grading["stored_references"] = {{"submission", timing_json(g->stored_submission)},
                                    {"grader_beyond_cases", timing_json(g->stored_overhead)},
                                    {"peak_mb", g->stored_peak_mb}};
    grading["computed_references"] = {{"submission", timing_json(g->computed_submission)},
                                      {"peak_mb", g->computed_peak_mb}};
  }
  doc["grading"] = grading;

  const BenchMachine& machine = report.machine;
  doc["settings"] = {{"rounds", report.rounds},
                     {"round_ms", report.round_ms},
                     {"cpu", machine.cpu},
                     {"cores", machine.cores},
                     {"gemm_backend", machine.gemm_backend},
                     {"blas", machine.blas},
                     {"openblas_threads", machine.openblas_threads},
                     {"libtorch_version", machine.libtorch_version},
                     {"libtorch_package", machine.libtorch_package},
                     {"libtorch_intra_op_threads", machine.libtorch_intra_op_threads}};

  doc["targets"] = json::array();
  for (const auto& t : report.targets)
    doc["targets"].push_back({{"name", t.name}, {"value", t.value}, {"required", t.required}, {"met", t.met},
                              {"condition", t.at_most ? "at most" : "at least"}});
  doc["targets_met"] = report.all_targets_met;
  return doc.dump(2) + "\n";
}

}  // namespace gradverify::cli
