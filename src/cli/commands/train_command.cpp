#include "train_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>

#include "torch_backend.h"
#include "gradverify/errors.h"
#include "gradverify/torch/lockstep.h"
#include "gradverify/net/random.h"
#include "gradverify/net/training.h"
#include "output.h"
#include "plots.h"

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
      ->check(CLI::IsMember({"sgd", "adam"}));
  train->add_option("--lr", o.lr, "Learning rate [default: 0.5 for sgd, 0.05 for adam]");
  train->add_option("--momentum", o.momentum, "SGD momentum (0 for plain SGD)")->capture_default_str();
  train->add_option("--beta1", o.beta1, "Adam's beta1")->capture_default_str();
  train->add_option("--beta2", o.beta2, "Adam's beta2")->capture_default_str();
  train->add_option("--eps", o.eps, "Adam's eps")->capture_default_str();
  train->add_option("--steps", o.steps, "Optimizer steps (full batch)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  train->add_option("--target-loss", o.target_loss, "Report whether the loss got below this")->capture_default_str();
  train->add_option("--format", o.format, "table or json")->capture_default_str()->check(CLI::IsMember({"table", "json"}));
  train->add_option("--output", o.output_path, "Write the report to this file instead of stdout");
  train->add_option("--plots", o.plots_dir, "Write the training curve and loss landscape (PNG, CSV, gnuplot) here");
  train->add_option("--landscape-resolution", o.landscape_resolution, "Grid points per side of the landscape (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{201}));
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

std::string optimizer_description(const OptimizerConfig& c) {
  if (c.kind == OptimizerKind::adam)
    return fmt::format("adam  lr {:g}  betas {:g}, {:g}  eps {:g}  (torch::optim::Adam)", c.lr, c.beta1, c.beta2, c.eps);
  return fmt::format("sgd  lr {:g}  momentum {:g}  (torch::optim::SGD)", c.lr, c.momentum);
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
set output '@IMAGE@'
set datafile separator ','
set multiplot layout 2,1 title "@TITLE@"
set grid
set logscale y
set format y "%.0e"
set ylabel 'loss'
set key top right
plot '@DATA@' using 1:2 with lines lw 3 lc rgb '#1f77b4' title 'manual MLP', \
     '' using 1:3 with lines lw 1.5 dt 2 lc rgb '#d62728' title 'LibTorch twin'
set ylabel 'max |manual - LibTorch| over all parameters'
set xlabel 'step'
plot '@DATA@' using 1:($4 > 0 ? $4 : 1/0) with lines lw 1.5 lc rgb '#2ca02c' title 'parameter drift (0 not drawn)', \
     @BOUND@ with lines dt 3 lc rgb 'black' title 'rounding-level bound'
unset multiplot
)";

constexpr const char* kLandscapeScript = R"(# gradverify train: the loss over a 2-D slice of weight space through the trained weights
set terminal pngcairo size 820,720 noenhanced font ",10"
set output '@IMAGE@'
set datafile separator ','
set title "@TITLE@"
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
splot '@DATA@' using 1:2:3 with pm3d notitle, \
      '-' using 1:2:3 with points pt 7 ps 2 lc rgb 'white' notitle
0,0,@LOSS@
e
)";

std::string substitute(std::string text, const std::string& key, const std::string& value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

}  // namespace

int run_train(const TrainOptions& o) {
  const Problem problem = problem_from_options(o.net);
  const OptimizerConfig config = optimizer_from_options(o);
  const double tolerance = lockstep_tolerance(problem.spec.dtype);

  std::string table;
  table += fmt::format("gradverify train: the manual MLP and its LibTorch twin, step for step\n");
  table += fmt::format("  net        {}  loss {}  {}\n", layers_to_string(problem.spec.layers), to_string(problem.spec.loss),
                       to_string(problem.spec.dtype));
  table += fmt::format("  data       {}, batch {}; weights: seed {}\n", problem.data_description, problem.batch(),
                       o.net.seed);
  table += fmt::format("  optimizer  {}\n", optimizer_description(config));
  table += fmt::format("  lockstep if max |manual - LibTorch| <= {:g} * max(1, max|θ|) after every step\n\n", tolerance);
  table += fmt::format("  {:>7}  {:>16}  {:>16}  {:>10}\n", "step", "manual loss", "LibTorch loss", "drift");
  const int64_t report_every = std::max<int64_t>(1, o.steps / 20);
  const auto on_step = [&](const LockstepStep& s) {
    if (s.step % report_every == 0 || s.step == 1 || s.step == o.steps)
      table += fmt::format("  {:>7}  {:>16.9e}  {:>16.9e}  {:>10.3e}\n", s.step, s.manual_loss, s.reference_loss,
                           s.drift);
  };
  const LockstepResult run = torch_backend().train_lockstep(problem, config, config, o.steps, on_step);
  const double final_manual = loss_at(problem, run.manual_params);
  const double final_reference = loss_at(problem, run.reference_params);

  // Pictures.
  std::vector<PlotResult> plots;
  if (!o.plots_dir.empty()) {
    double scale = 0;
    for (const auto& [name, t] : run.manual_params)
      for (double v : t.values) scale = std::max(scale, std::fabs(v));
    std::string csv = "# step,manual_loss,reference_loss,drift\n";
    for (const auto& r : run.curve)
      csv += fmt::format("{},{:.17g},{:.17g},{:.17g}\n", r.step, r.manual_loss, r.reference_loss, r.drift);
    const std::string where = fmt::format("{} on {}, trained by {} ({})", layers_to_string(problem.spec.layers),
                                          problem.data_description, to_string(config.kind), to_string(problem.spec.dtype));
    std::string script = substitute(kCurveScript, "@TITLE@", "manual MLP and LibTorch: " + where);
    script = substitute(script, "@BOUND@", fmt::format("{:g}", tolerance * std::max(1.0, scale)));
    plots.push_back(write_plot(o.plots_dir, "training_curve", csv, script));
    if (o.landscape_resolution >= 2 && !run.diverged_at) {
      double trained_loss = 0;
      const std::string grid = landscape_csv(problem, run.manual_params, o.landscape_resolution,
                                             static_cast<uint32_t>(o.net.seed), trained_loss);
      std::string ls = substitute(kLandscapeScript, "@TITLE@", "the loss around the trained weights: " + where);
      ls = substitute(ls, "@LOSS@", fmt::format("{:.10g}", std::max(trained_loss, 1e-300)));
      plots.push_back(write_plot(o.plots_dir, "loss_landscape", grid, ls));
    }
  }

  std::string text;
  if (o.format == "json") {
    using nlohmann::json;
    const auto gap_json = [](const ParameterGap& g) {
      return json{{"parameter", g.parameter}, {"index", g.index}, {"manual", g.manual}, {"reference", g.reference},
                  {"difference", g.value}};
    };
    json doc;
    doc["lockstep"] = run.in_lockstep();
    doc["layers"] = problem.spec.layers;
    doc["loss"] = to_string(problem.spec.loss);
    doc["dtype"] = to_string(problem.spec.dtype);
    doc["data"] = problem.data_description;
    doc["seed"] = o.net.seed;
    doc["optimizer"] = {{"kind", to_string(config.kind)}, {"lr", config.lr},       {"momentum", config.momentum},
                        {"beta1", config.beta1},          {"beta2", config.beta2}, {"eps", config.eps}};
    doc["steps"] = static_cast<int64_t>(run.curve.size());
    doc["drift_tolerance"] = tolerance;
    doc["curve"] = json::array();
    for (const auto& r : run.curve)
      doc["curve"].push_back({{"step", r.step}, {"manual_loss", r.manual_loss}, {"reference_loss", r.reference_loss},
                              {"drift", r.drift}});
    doc["final"] = {{"manual_loss", final_manual},
                    {"reference_loss", final_reference},
                    {"max_drift", gap_json(run.largest)},
                    {"target_loss", o.target_loss},
                    {"reached_target", final_manual < o.target_loss && final_reference < o.target_loss}};
    doc["departure"] = run.departure_step ? gap_json(run.departure) : json(nullptr);
    if (run.departure_step) doc["departure"]["step"] = *run.departure_step;
    doc["diverged_at_step"] = run.diverged_at ? json(*run.diverged_at) : json(nullptr);
    doc["plots"] = json::array();
    for (const auto& p : plots)
      doc["plots"].push_back({{"image", p.image_path.empty() ? json(nullptr) : json(p.image_path)},
                              {"data", p.data_path},
                              {"script", p.script_path},
                              {"message", p.message}});
    text = doc.dump(1) + "\n";
  } else {
    text = table + "\n";
    text += fmt::format("  final loss  manual {:.6e}, LibTorch {:.6e}: {} the target {:g}\n", final_manual,
                        final_reference, final_manual < o.target_loss ? "below" : "NOT below", o.target_loss);
    text += fmt::format("  drift       at most {:.3e}{}\n", run.largest.value,
                        run.largest.parameter.empty()
                            ? ""
                            : fmt::format(" ({}{})", run.largest.parameter, shape_to_string(run.largest.index)));
    for (const auto& p : plots) text += "  plot        " + p.message + "\n";
    if (run.diverged_at)
      text += fmt::format("\nFAIL: the loss became NaN or Inf at step {}; try a smaller --lr\n", *run.diverged_at);
    else if (run.departure_step)
      text += fmt::format("\nFAIL: the two left rounding level at step {}, in {}{}: manual {:.17g}, LibTorch {:.17g}\n",
                          *run.departure_step, run.departure.parameter, shape_to_string(run.departure.index),
                          run.departure.manual, run.departure.reference);
    else
      text += fmt::format("\nPASS: the manual MLP and LibTorch trained in lockstep for {} steps\n", run.curve.size());
  }
  write_output(text, o.output_path,
               std::string("gradverify: ") + (run.in_lockstep() ? "lockstep" : "drifted apart") +
                   "; report written to " + o.output_path);
  return run.in_lockstep() ? kPass : kMismatch;
}

}  // namespace gradverify::cli
