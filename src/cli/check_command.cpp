#include "check_command.h"

#include "net_options.h"

#include <iostream>

#include "torch_backend.h"
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

  add_net_options(check, o.net, "Check this problem.json instead of a built-in net");
  check->add_option("--gradients", o.gradients_path,
                    "Check these gradients (gradients.json) instead of the manual MLP's")
      ->check(CLI::ExistingFile);
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

CheckReport compute_check_report(const CheckOptions& o) {
  const Problem problem = problem_from_options(o.net);
  const auto seed = static_cast<uint32_t>(o.net.seed);

  Tolerances tol = default_tolerances(problem.spec.dtype);
  if (o.rtol) tol.rtol = *o.rtol;
  if (o.atol) tol.atol_abs = *o.atol;
  if (o.atol_scale) tol.atol_scale = *o.atol_scale;

  // Every input is read and validated before LibTorch runs, so bad input fails fast.
  std::optional<GradientsFile> file;
  if (!o.gradients_path.empty()) file = load_gradients_file(o.gradients_path, problem.spec);
  const FiniteDifferenceMode fd_mode = resolve_finite_difference_mode(
      problem, *parse_finite_difference_mode(o.finite_differences), o.force_finite_differences);

  const ReferenceResult reference = torch_backend().compute_reference(problem);
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
  report.reference_prediction = reference.prediction;
  if (fd_mode != FiniteDifferenceMode::off)
    report.finite_differences = run_finite_differences(problem, reference.gradients, &actual_tensors, tol, fd_mode,
                                                       seed, o.force_finite_differences);
  if (!o.save_problem_path.empty()) write_file(o.save_problem_path, problem_to_json(problem));
  return report;
}

int run_check(const CheckOptions& o) {
  const CheckReport report = compute_check_report(o);
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
