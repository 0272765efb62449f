#include "train_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "torch_backend.h"
#include "gradverify/errors.h"
#include "gradverify/torch/lockstep.h"
#include "gradverify/net/random.h"
#include "gradverify/net/training.h"
#include "output.h"
#include "plots.h"
#include "train_report.h"
#include "usage.h"

namespace gradverify::cli {

void add_train_command(CLI::App& app, TrainOptions& o) {
  CLI::App* train = app.add_subcommand(
      "train", "Train the manual MLP and its LibTorch twin side by side, step for step, and plot it");
  train->footer(R"(
The manual MLP trains with hand-written SGD (momentum) or Adam; the LibTorch twin with
torch::optim::SGD or torch::optim::Adam; same weights, data and hyperparameters. After every
step the parameters are compared:

    lockstep  <=>  max |manual - LibTorch| <= tol * max(1, max|θ|)  for every parameter
    tol = 1e-10 (float64) or 1e-4 (float32): rounding level (measured: 1e-15 and 1e-6 on XOR)

If they part, the report names the first step and parameter where they did.

The default is the lab's net on XOR from seed 1, where it learns: from seed 0 one ReLU dies
and the loss stalls at 1/6, from 2 and 4 the net is dead from the start (see 'check --seed').

Plots (--plots DIR, via gnuplot): training_curve.png (both losses, log scale, and the drift)
and loss_landscape.png (the loss over a 2-D slice of weight space through the trained
weights, along two random directions scaled to each weight tensor's norm). The data and the
gnuplot scripts are written beside them, so they can be re-plotted without gnuplot here.

Exit status: 0 lockstep held, 1 the two drifted apart or the loss became NaN or Inf,
2 a usage or input error, 4 an internal error.

Examples:
  gradverify train
  gradverify train --optimizer adam --plots plots
  gradverify train --layers 3,16,1 --activations tanh,sigmoid --loss bce --data random:32 --dtype float32)");
  o.net.seed = 1;
  add_net_options(train, o.net, "Train on this problem.json instead of a built-in net");
  train->add_option("--optimizer", o.optimizer, "sgd (with momentum) or adam")
      ->capture_default_str()
      ->check(one_of({"sgd", "adam"}));
  train->add_option("--lr", o.lr, "Learning rate [default: 0.5 for sgd, 0.05 for adam]")->check(positive_number());
  train->add_option("--momentum", o.momentum, "SGD momentum (0 for plain SGD)")->capture_default_str();
  train->add_option("--beta1", o.beta1, "Adam's beta1")->capture_default_str();
  train->add_option("--beta2", o.beta2, "Adam's beta2")->capture_default_str();
  train->add_option("--eps", o.eps, "Adam's eps")->capture_default_str();
  train->add_option("--steps", o.steps, "Optimizer steps (full batch)")
      ->capture_default_str()
      ->check(whole_number_from(int64_t{1}, int64_t{1000000}));
  train->add_option("--target-loss", o.target_loss, "Report whether the loss got below this")->capture_default_str();
  train->add_option("--format", o.format, "table or json")->capture_default_str()->check(one_of({"table", "json"}));
  train->add_option("--output,-o", o.output_path, "Write the report to this file instead of stdout");
  train->add_flag("--quiet,-q", o.quiet, "No progress on stderr");
  train->add_option("--plots", o.plots_dir, "Write the training curve and loss landscape (PNG, CSV, gnuplot) here");
  train->add_option("--landscape-resolution", o.landscape_resolution, "Grid points per side of the landscape (0: none)")
      ->capture_default_str()
      ->check(whole_number_from(int64_t{0}, int64_t{201}));
}

namespace {

OptimizerConfig optimizer_from_options(const TrainOptions& o) {
  OptimizerConfig c;
  c.kind = *parse_optimizer(o.optimizer);
  c.lr = o.lr ? *o.lr : (c.kind == OptimizerKind::adam ? 0.05 : 0.5);
  c.momentum = o.momentum;
  c.beta1 = o.beta1;
  c.beta2 = o.beta2;
  c.eps = o.eps;
  validate_optimizer(c, "command line");
  return c;
}

// The loss on a grid through the trained weights: θ + α d1 + β d2, each direction a Gaussian
// per tensor scaled to that tensor's norm, so that α = 1 is a step the size of the weights.
std::string landscape_csv(const Problem& problem, const TensorMap& trained, int64_t resolution, uint32_t seed,
                          double& loss_at_trained) {
  NumpyLegacyRandom rng(seed + 2);
  std::vector<TensorMap> directions(2, trained);
  for (auto& d : directions)
    for (auto& [name, t] : d) {
      double norm_d = 0, norm_theta = 0;
      for (size_t i = 0; i < t.values.size(); ++i) {
        t.values[i] = rng.next_gaussian();
        norm_d += t.values[i] * t.values[i];
        norm_theta += trained.at(name).values[i] * trained.at(name).values[i];
      }
      const double scale = norm_d > 0 ? std::sqrt(norm_theta / norm_d) : 0;
      for (double& v : t.values) v *= scale;
    }
  std::string csv = "# alpha,beta,loss (blocks of constant alpha, as gnuplot reads a grid)\n";
  TensorMap point = trained;
  for (int64_t i = 0; i < resolution; ++i) {
    const double alpha = -1 + 2.0 * static_cast<double>(i) / static_cast<double>(resolution - 1);
    for (int64_t j = 0; j < resolution; ++j) {
      const double beta = -1 + 2.0 * static_cast<double>(j) / static_cast<double>(resolution - 1);
      for (auto& [name, t] : point)
        for (size_t e = 0; e < t.values.size(); ++e)
          t.values[e] = trained.at(name).values[e] + alpha * directions[0].at(name).values[e] +
                        beta * directions[1].at(name).values[e];
      csv += fmt::format("{:.6g},{:.6g},{:.10g}\n", alpha, beta, loss_at(problem, point));
    }
    csv += "\n";
  }
  loss_at_trained = loss_at(problem, trained);
  return csv;
}

constexpr const char* kCurveScript = R"(# gradverify train: both losses and the parameter drift, per step
set terminal pngcairo size 900,720 noenhanced font ",10"
set output @IMAGE@
set datafile separator ','
set multiplot layout 2,1 title @TITLE@
set grid
set logscale y
set format y "%.0e"
set ylabel 'loss'
set key top right
plot @DATA@ using 1:2 with lines lw 3 lc rgb '#1f77b4' title 'manual MLP', \
     '' using 1:3 with lines lw 1.5 dt 2 lc rgb '#d62728' title 'LibTorch twin'
set ylabel 'max |manual - LibTorch| over all parameters'
set xlabel 'step'
plot @DATA@ using 1:($4 > 0 ? $4 : 1/0) with lines lw 1.5 lc rgb '#2ca02c' title 'parameter drift (0 not drawn)', \
     @BOUND@ with lines dt 3 lc rgb 'black' title 'rounding-level bound'
unset multiplot
)";

constexpr const char* kLandscapeScript = R"(# gradverify train: the loss over a 2-D slice of weight space through the trained weights
set terminal pngcairo size 820,720 noenhanced font ",10"
set output @IMAGE@
set datafile separator ','
set title @TITLE@
set xlabel 'alpha (random direction 1, scaled to each weight tensor)'
set ylabel 'beta (random direction 2)'
set view map
set size ratio -1
set logscale cb
set format cb "%.0e"
set cblabel 'loss (log scale)'
set palette rgbformulae 33,13,10
set pm3d interpolate 3,3
set xrange [-1:1]
set yrange [-1:1]
unset key
set label 1 'trained weights' at 0.04,0.06,@LOSS@ front textcolor rgb 'white'
splot @DATA@ using 1:2:3 with pm3d notitle, \
      '-' using 1:2:3 with points pt 7 ps 2 lc rgb 'white' notitle
0,0,@LOSS@
e
)";

std::string substitute(std::string text, const std::string& key, const std::string& value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

// The training curve's plot and, unless training diverged, the loss landscape's, in plots_dir.
std::vector<PlotResult> write_plots(const TrainOptions& o, const Problem& problem, const OptimizerConfig& config,
                                    const LockstepResult& run, double tolerance) {
  std::vector<PlotResult> plots;
  double scale = 0;
  for (const auto& [name, t] : run.manual_params)
    for (double v : t.values) scale = std::max(scale, std::fabs(v));
  std::string csv = "# step,manual_loss,reference_loss,drift\n";
  for (const auto& r : run.curve)
    csv += fmt::format("{},{:.17g},{:.17g},{:.17g}\n", r.step, r.manual_loss, r.reference_loss, r.drift);
  const std::string where = fmt::format("{} on {}, trained by {} ({})", layers_to_string(problem.spec.layers),
                                        problem.data_description, to_string(config.kind), to_string(problem.spec.dtype));
  std::string script = substitute(kCurveScript, "@TITLE@", gnuplot_double_quoted("manual MLP and LibTorch: " + where));
  script = substitute(script, "@BOUND@", fmt::format("{:g}", tolerance * std::max(1.0, scale)));
  plots.push_back(write_plot(o.plots_dir, "training_curve", csv, script));
  if (o.landscape_resolution >= 2 && !run.diverged_at) {
    double trained_loss = 0;
    const std::string grid = landscape_csv(problem, run.manual_params, o.landscape_resolution,
                                           static_cast<uint32_t>(o.net.seed), trained_loss);
    std::string ls =
        substitute(kLandscapeScript, "@TITLE@", gnuplot_double_quoted("the loss around the trained weights: " + where));
    ls = substitute(ls, "@LOSS@", fmt::format("{:.10g}", std::max(trained_loss, 1e-300)));
    plots.push_back(write_plot(o.plots_dir, "loss_landscape", grid, ls));
  }
  return plots;
}

// Trains both sides in lockstep, then writes the plots asked for.
TrainReport train_in_lockstep(const TrainOptions& o, const Problem& problem, const OptimizerConfig& config) {
  TrainReport report;
  report.spec = problem.spec;
  report.data_description = problem.data_description;
  report.batch = problem.batch();
  report.seed = o.net.seed;
  report.optimizer = config;
  report.steps_asked = o.steps;
  report.drift_tolerance = lockstep_tolerance(problem.spec.dtype);
  report.target_loss = o.target_loss;

  Progress progress(o.quiet);
  const auto on_step = [&](const LockstepStep& s) {
    progress.update(fmt::format("train: step {}/{}, loss {:.6g}, drift {:.3g}", s.step, o.steps, s.manual_loss, s.drift),
                    static_cast<size_t>(s.step), static_cast<size_t>(o.steps));
  };
  const LockstepResult run = torch_backend().train_lockstep(problem, config, config, o.steps, on_step);
  progress.finish();
  report.curve = run.curve;
  report.final_manual_loss = loss_at(problem, run.manual_params);
  report.final_reference_loss = loss_at(problem, run.reference_params);
  report.largest = run.largest;
  report.departure_step = run.departure_step;
  report.departure = run.departure;
  report.diverged_at = run.diverged_at;
  report.in_lockstep = run.in_lockstep();
  if (!o.plots_dir.empty()) report.plots = write_plots(o, problem, config, run, report.drift_tolerance);
  return report;
}

}  // namespace

int run_train(const TrainOptions& o) {
  require_writable_file(o.output_path);
  require_writable_directory(o.plots_dir, "plot directory");
  const Problem problem = problem_from_options(o.net);
  const OptimizerConfig config = optimizer_from_options(o);
  const TrainReport report = train_in_lockstep(o, problem, config);
  write_output(o.format == "json" ? format_train_json(report) : format_train_table(report), o.output_path,
               written_to(report.in_lockstep ? "lockstep" : "drifted apart", o.output_path), o.format == "table" ? Audience::people : Audience::programs);
  return report.in_lockstep ? kPass : kMismatch;
}

}  // namespace gradverify::cli
