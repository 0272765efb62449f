#include "check_command.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "gradverify/compare.h"
#include "gradverify/diagnosis.h"
#include "gradverify/errors.h"
#include "gradverify/finite_differences.h"
#include "gradverify/gradients_file.h"
#include "gradverify/problem.h"
#include "gradverify/reference.h"
#include "gradverify/report.h"

namespace gradverify::cli {

void add_check_command(CLI::App& app, CheckOptions& o) {
  CLI::App* check = app.add_subcommand("check", "Compare a hand-written MLP backward pass with LibTorch autograd");
  check->footer(R"(
With no options, checks the lab's network: 2-4-3-2-1, ReLU, ReLU, ReLU, sigmoid, MSE, the
four XOR samples, He init, float64. The manual MLP and its LibTorch twin get the same weights
and data; every parameter gradient (W1, b1, ...) and every intermediate (dL/dz_k, dL/dh_k) is
compared element by element:

    pass  <=>  |a - b| <= atol + rtol * |b|  and both finite   (b: LibTorch)
    atol   =   atol_abs + atol_scale * max|b| of the tensor

Defaults: float64 rtol 1e-7, atol 1e-12 + 1e-9 * max|b|;
          float32 rtol 1e-4, atol 1e-7 + 1e-4 * max|b|.
The absolute term follows the tensor's scale because rounding error does; --atol-scale 0
gives torch.allclose exactly. A gradient that is exactly 0 on both sides (or entirely
within atol_abs) is VACUOUS: it agrees but proves nothing, and the report says so.

When something fails, "what this looks like" names the first divergence going backward
from the loss (pinned to one step when dz_k/dh_k are given) and a hint when the numbers
carry a classic mistake's signature (summed loss, sign, factor 2, bias not summed, ReLU'(0),
transposed, ...). Finite differences of the float64 loss give a second opinion without
autograd: per element on small nets, along one random direction on big ones; an element
whose step crosses a ReLU kink is counted, never judged.

Files (formats in the README):
  --problem p.json                    check the built-in manual MLP on that problem
  --problem p.json --gradients g.json check gradients computed by any program
  --save-problem p.json               write the problem used, to hand to another program

Exit status: 0 every gradient matches, 1 a mismatch, 2 a usage or input error,
3 nothing differs but some gradient is vacuous, 4 an internal error (a bug in gradverify).

Examples:
  gradverify check
  gradverify check --layers 3,16,16,1 --activations tanh,tanh,identity --loss bce_with_logits --data random:32
  gradverify check --dtype float32 --format json --output report.json
  gradverify check --problem problem.json --gradients gradients.json
  gradverify check --layers 1000,1000,1 --data random:64 --finite-differences direction)");

  auto* problem = check->add_option("--problem", o.problem_path, "Check this problem.json instead of a built-in net")
                      ->check(CLI::ExistingFile);
  check->add_option("--gradients", o.gradients_path,
                    "Check these gradients (gradients.json) instead of the manual MLP's")
      ->check(CLI::ExistingFile);
  const auto net_option = [&](const char* name, std::string& target, const char* help) {
    return check->add_option(name, target, help)->capture_default_str()->excludes(problem);
  };
  net_option("--layers", o.layers, "Widths, input first, comma-separated");
  net_option("--activations", o.activations,
             "One per layer (relu, sigmoid, tanh, identity), or one for all layers "
             "[default: relu, then sigmoid for mse/bce or identity for bce_with_logits]");
  net_option("--loss", o.loss, "mse, bce (takes probabilities) or bce_with_logits (takes logits)");
  net_option("--data", o.data, "xor, random:N, or a CSV file (inputs then targets per row) [default: xor "
                               "for a 2-...-1 net, otherwise random:8]");
  net_option("--dtype", o.dtype, "float64 or float32: both sides compute in it");
  check->add_option("--seed", o.seed, "Seed for the weights (as numpy's np.random.seed) and random data")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{4294967295}));
  check->add_option("--init", o.init, "he (randn * sqrt(2/fan_in)) or xavier; biases start at 0")
      ->capture_default_str()
      ->check(CLI::IsMember({"he", "xavier"}));
  check->add_option("--rtol", o.rtol, "Relative tolerance [default: by dtype]")->check(CLI::NonNegativeNumber);
  check->add_option("--atol", o.atol, "Absolute tolerance floor, atol_abs [default: by dtype]")
      ->check(CLI::NonNegativeNumber);
  check->add_option("--atol-scale", o.atol_scale, "Absolute tolerance per unit of the tensor's max|b| [default: by dtype]")
      ->check(CLI::NonNegativeNumber);
  check->add_option("--finite-differences", o.finite_differences,
                    "Second opinion without autograd: elements (every parameter element), direction (one "
                    "random direction; for big nets), auto (elements when that takes under a second) or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "elements", "direction", "off"}));
  check->add_flag("--force-finite-differences", o.force_finite_differences,
                  "Run per-element finite differences even when they would take over a minute");
  check->add_option("--format", o.format, "table or json")->capture_default_str()->check(CLI::IsMember({"table", "json"}));
  check->add_option("--output", o.output_path, "Write the report to this file instead of stdout");
  check->add_option("--save-problem", o.save_problem_path, "Also write the problem (weights and data) as JSON");
  check->add_option("--save-gradients", o.save_gradients_path, "Also write the manual MLP's gradients as JSON")
      ->excludes("--gradients");
}

namespace {

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) items.push_back(item);
  return items;
}

MlpSpec spec_from_options(const CheckOptions& o) {
  MlpSpec spec;
  for (const auto& w : split_list(o.layers)) {
    char* end = nullptr;
    const long long width = std::strtoll(w.c_str(), &end, 10);
    if (w.empty() || *end != '\0')
      throw InputError("--layers", "", "expected comma-separated integer widths like 2,4,3,2,1, got '" + o.layers + "'");
    spec.layers.push_back(width);
  }
  const auto loss = parse_loss(o.loss);
  if (!loss) throw InputError("--loss", "", "unknown loss '" + o.loss + "'; expected one of " + loss_names());
  spec.loss = *loss;
  const auto dtype = parse_dtype(o.dtype);
  if (!dtype) throw InputError("--dtype", "", "unknown dtype '" + o.dtype + "'; expected one of " + dtype_names());
  spec.dtype = *dtype;

  const int64_t L = static_cast<int64_t>(spec.layers.size()) - 1;
  auto names = split_list(o.activations);
  if (names.empty()) {  // relu hidden layers and the output the loss expects
    names.assign(static_cast<size_t>(std::max<int64_t>(L - 1, 0)), "relu");
    names.push_back(spec.loss == Loss::bce_with_logits ? "identity" : "sigmoid");
  } else if (names.size() == 1 && L > 1) {
    names.assign(static_cast<size_t>(L), names[0]);
  }
  for (const auto& name : names) {
    const auto act = parse_activation(name);
    if (!act) throw InputError("--activations", "", "unknown activation '" + name + "'; expected one of " + activation_names());
    spec.activations.push_back(*act);
  }
  validate_spec(spec, "command line");
  return spec;
}

void set_data(Problem& problem, const std::string& data, uint32_t seed) {
  const auto& layers = problem.spec.layers;
  const std::string choice = !data.empty() ? data : (layers.front() == 2 && layers.back() == 1 ? "xor" : "random:8");
  if (choice == "xor") return set_xor_data(problem);
  if (choice.rfind("random:", 0) == 0) {
    const std::string count = choice.substr(7);
    char* end = nullptr;
    const long long n = std::strtoll(count.c_str(), &end, 10);
    if (count.empty() || *end != '\0' || n < 1 || n > 1000000)
      throw InputError("--data", "", "expected random:N with N from 1 to 1000000, got '" + choice + "'");
    validate_batch_size(problem.spec, n, "--data " + choice);
    return set_random_data(problem, n, seed);
  }
  set_csv_data(problem, choice);
}

// Writes via a temporary file and a rename, so a failed write never leaves half a file.
void write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!(out << text) || !out.flush()) {
      std::remove(tmp.c_str());
      throw InputError(path, "", "cannot write the file");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path, "", "cannot write the file");
  }
}

}  // namespace

int run_check(const CheckOptions& o) {
  const auto seed = static_cast<uint32_t>(o.seed);
  const Init init = *parse_init(o.init);
  Problem problem;
  if (!o.problem_path.empty()) {
    problem = load_problem_file(o.problem_path);
  } else {
    problem.spec = spec_from_options(o);
    set_data(problem, o.data, seed);
  }
  if (problem.params.empty()) problem.params = init_params(problem.spec, init, seed);
  validate_problem(problem, o.problem_path.empty() ? "command line" : o.problem_path);

  Tolerances tol = default_tolerances(problem.spec.dtype);
  if (o.rtol) tol.rtol = *o.rtol;
  if (o.atol) tol.atol_abs = *o.atol;
  if (o.atol_scale) tol.atol_scale = *o.atol_scale;

  // Every input is read and validated before LibTorch runs, so bad input fails fast.
  std::optional<GradientsFile> file;
  if (!o.gradients_path.empty()) file = load_gradients_file(o.gradients_path, problem.spec);
  const FiniteDifferenceMode fd_mode = resolve_finite_difference_mode(
      problem, *parse_finite_difference_mode(o.finite_differences), o.force_finite_differences);

  const ReferenceResult reference = compute_reference(problem);
  CheckReport report;
  TensorMap actual_tensors;
  if (file) {
    report = build_report(problem, reference.gradients, reference.loss, file->gradients, std::nullopt,
                          o.gradients_path, tol);
    diagnose(report, problem, file->gradients, reference.gradients);
    actual_tensors = present_tensors(file->gradients);
    for (const auto& key : file->ignored_keys)
      report.notes.push_back("ignored '" + key + "' in " + o.gradients_path +
                             ": it names no gradient of this net (expected dW1, db1, ..., dz1, dh1, ...)");
  } else {
    const ManualResult manual = run_manual_mlp(problem);
    const SubmittedGradients submitted = as_submitted(manual.gradients);
    report = build_report(problem, reference.gradients, reference.loss, submitted, manual.loss, "manual MLP", tol);
    diagnose(report, problem, submitted, reference.gradients);
    actual_tensors = manual.gradients;
    if (!o.save_gradients_path.empty()) {
      write_file(o.save_gradients_path, gradients_to_json(manual.gradients));
    }
  }
  if (fd_mode != FiniteDifferenceMode::off)
    report.finite_differences = run_finite_differences(problem, reference.gradients, &actual_tensors, tol, fd_mode,
                                                       seed, o.force_finite_differences);
  if (!o.save_problem_path.empty()) write_file(o.save_problem_path, problem_to_json(problem));

  const std::string text = o.format == "json" ? format_report_json(report) : format_report_table(report);
  if (o.output_path.empty()) {
    std::cout << text;
  } else {
    write_file(o.output_path, text);
    std::cout << "gradverify: " << to_string(report.verdict()) << "; report written to " << o.output_path << "\n";
  }
  switch (report.verdict()) {
    case Verdict::pass: return 0;
    case Verdict::fail: return 1;
    case Verdict::vacuous: return 3;
  }
  return 1;
}

}  // namespace gradverify::cli
