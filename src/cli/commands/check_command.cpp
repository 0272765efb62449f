#include "check_command.h"

#include "gradverify/check/check.h"
#include "gradverify/check/report.h"
#include "gradverify/problem/gradients_file.h"
#include "gradverify/problem/manual_mlp.h"
#include "gradverify/problem/problem.h"
#include "gradverify/problem/problem_file.h"
#include "net_options.h"
#include "output.h"
#include "torch_backend.h"
#include "usage.h"

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
  gradverify check --layers 784,64,10 --activations relu,identity --loss cross_entropy --data random:32
  gradverify check --dtype float32 --format json --output report.json
  gradverify check --problem problem.json --gradients gradients.json
  gradverify check --layers 1000,1000,1 --data random:64 --finite-differences direction)");

  add_net_options(check, o.net, "Check this problem.json instead of a built-in net");
  check->add_option("--gradients", o.gradients_path,
                    "Check these gradients (gradients.json) instead of the manual MLP's")
      ->check(existing_file());
  check->add_option("--rtol", o.rtol, "Relative tolerance [default: by dtype]")->check(non_negative_number());
  check->add_option("--atol", o.atol, "Absolute tolerance floor, atol_abs [default: by dtype]")
      ->check(non_negative_number());
  check->add_option("--atol-scale", o.atol_scale, "Absolute tolerance per unit of the tensor's max|b| [default: by dtype]")
      ->check(non_negative_number());
  check->add_option("--finite-differences", o.finite_differences,
                    "Second opinion without autograd: elements (every parameter element), direction (one "
                    "random direction; for big nets), auto (elements when that takes under a second) or off")
      ->capture_default_str()
      ->check(one_of({"auto", "elements", "direction", "off"}));
  check->add_flag("--force-finite-differences", o.force_finite_differences,
                  "Run per-element finite differences even when they would take over a minute");
  check->add_option("--format", o.format, "table or json")->capture_default_str()->check(one_of({"table", "json"}));
  check->add_option("--output,-o", o.output_path, "Write the report to this file instead of stdout");
  check->add_option("--save-problem", o.save_problem_path, "Also write the problem (weights and data) as JSON");
  check->add_option("--save-gradients", o.save_gradients_path, "Also write the manual MLP's gradients as JSON")
      ->excludes("--gradients");
}

int run_check(const CheckOptions& o) {
  for (const auto* path : {&o.output_path, &o.save_problem_path, &o.save_gradients_path}) require_writable_file(*path);
  const Problem problem = problem_from_options(o.net);
  GradientCheckOptions options;
  options.tolerances = default_tolerances(problem.spec.dtype);
  if (o.rtol) options.tolerances->rtol = *o.rtol;
  if (o.atol) options.tolerances->atol_abs = *o.atol;
  if (o.atol_scale) options.tolerances->atol_scale = *o.atol_scale;
  options.seed = static_cast<uint32_t>(o.net.seed);
  options.force_finite_differences = o.force_finite_differences;

  // Every input is read and validated before LibTorch runs, so bad input fails fast.
  GradientsUnderTest under_test;
  std::optional<ManualResult> manual;
  if (!o.gradients_path.empty()) {
    GradientsFile file = load_gradients_file(o.gradients_path, problem.spec);
    under_test = {std::move(file.gradients), o.gradients_path, std::nullopt, std::move(file.ignored_keys)};
  }
  options.finite_differences = resolve_finite_difference_mode(
      problem, *parse_finite_difference_mode(o.finite_differences), o.force_finite_differences);

  const ReferenceResult reference = torch_backend().compute_reference(problem);
  if (o.gradients_path.empty()) {
    manual = run_manual_mlp(problem);
    under_test = manual_mlp_under_test(*manual);
    if (!o.save_gradients_path.empty()) write_file(o.save_gradients_path, gradients_to_json(manual->gradients));
  }
  const CheckReport report = check_gradients(problem, under_test, reference, options);
  if (!o.save_problem_path.empty()) write_file(o.save_problem_path, problem_to_json(problem));

  write_output(o.format == "json" ? format_report_json(report) : format_report_table(report), o.output_path,
               written_to(to_string(report.verdict()), o.output_path), o.format == "table" ? Audience::people : Audience::programs);
  return exit_code(report.verdict());
}

}  // namespace gradverify::cli
