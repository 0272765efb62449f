#include "train_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "gradverify/tensor.h"

namespace gradverify::cli {
namespace {

// A number as the table shows it: "nan" for any NaN (printf's "-nan" reads as a sign).
std::string shown(double v, int precision) {
  return std::isnan(v) ? "nan" : fmt::format("{:.{}e}", v, precision);
}

}  // namespace

namespace {

using nlohmann::json;

std::string optimizer_description(const OptimizerConfig& c) {
  if (c.kind == OptimizerKind::adam)
    return fmt::format("adam  lr {:g}  betas {:g}, {:g}  eps {:g}  (torch::optim::Adam)", c.lr, c.beta1, c.beta2, c.eps);
  return fmt::format("sgd  lr {:g}  momentum {:g}  (torch::optim::SGD)", c.lr, c.momentum);
}

json gap_json(const ParameterGap& g) {
  return {{"parameter", g.parameter}, {"index", g.index}, {"manual", g.manual}, {"reference", g.reference},
          {"difference", g.value}};
}

}  // namespace

std::string format_train_table(const TrainReport& report) {
  std::string text;
  text += fmt::format("gradverify train: the manual MLP and its LibTorch twin, step for step\n");
  text += fmt::format("  net        {}  loss {}  {}\n", layers_to_string(report.spec.layers), to_string(report.spec.loss),
                      to_string(report.spec.dtype));
  text += fmt::format("  data       {}, batch {}; weights: seed {}\n", report.data_description, report.batch, report.seed);
  text += fmt::format("  optimizer  {}\n", optimizer_description(report.optimizer));
  text += fmt::format("  lockstep if max |manual - LibTorch| <= {:g} * max(1, max|θ|) after every step\n\n",
                      report.drift_tolerance);
  text += fmt::format("  {:>7}  {:>16}  {:>16}  {:>10}\n", "step", "manual loss", "LibTorch loss", "drift");
  // About 20 rows, whatever the length of the run, and always its first and last asked-for step.
  const int64_t report_every = std::max<int64_t>(1, report.steps_asked / 20);
  for (const auto& s : report.curve)
    if (s.step % report_every == 0 || s.step == 1 || s.step == report.steps_asked)
      text += fmt::format("  {:>7}  {:>16}  {:>16}  {:>10}\n", s.step, shown(s.manual_loss, 9), shown(s.reference_loss, 9),
                          shown(s.drift, 3));

  text += "\n";
  text += fmt::format("  final loss  manual {}, LibTorch {}: {} the target {:g}\n", shown(report.final_manual_loss, 6),
                      shown(report.final_reference_loss, 6), report.final_manual_loss < report.target_loss ? "below" : "NOT below",
                      report.target_loss);
  const ParameterGap& largest = report.largest;
  if (std::isfinite(largest.value))
    text += fmt::format("  drift       at most {:.3e}{}\n", largest.value,
                        largest.parameter.empty() ? ""
                                                  : fmt::format(" ({}{})", largest.parameter, shape_to_string(largest.index)));
  else  // a NaN drift measures nothing: say where it stops meaning anything
    text += fmt::format("  drift       nan: the weights became NaN or Inf{}\n",
                        report.diverged_at ? fmt::format(" by step {}", *report.diverged_at) : "");
  for (const auto& p : report.plots) text += "  plot        " + p.message + "\n";
  if (report.diverged_at)
    text += fmt::format("\nFAIL: the loss became NaN or Inf at step {}; try a smaller --lr\n", *report.diverged_at);
  else if (report.departure_step)
    text += fmt::format("\nFAIL: the two left rounding level at step {}, in {}{}: manual {:.17g}, LibTorch {:.17g}\n",
                        *report.departure_step, report.departure.parameter, shape_to_string(report.departure.index),
                        report.departure.manual, report.departure.reference);
  else if (report.final_manual_loss < report.target_loss)
    text += fmt::format("\nPASS: the manual MLP and LibTorch trained in lockstep for {} steps\n", report.curve.size());
  else  // lockstep is what was verified; the headline claims no more than that
    text += fmt::format("\nPASS: the manual MLP and LibTorch trained in lockstep for {} steps, but the loss did not reach "
                        "the target {:g}: try another --lr or more --steps\n",
                        report.curve.size(), report.target_loss);
  return text;
}

std::string format_train_json(const TrainReport& report) {
  json doc;
  doc["lockstep"] = report.in_lockstep;
  doc["layers"] = report.spec.layers;
  doc["loss"] = to_string(report.spec.loss);
  doc["dtype"] = to_string(report.spec.dtype);
  doc["data"] = report.data_description;
  doc["seed"] = report.seed;
  const OptimizerConfig& c = report.optimizer;
  doc["optimizer"] = {{"kind", to_string(c.kind)}, {"lr", c.lr},       {"momentum", c.momentum},
                      {"beta1", c.beta1},          {"beta2", c.beta2}, {"eps", c.eps}};
  doc["steps"] = static_cast<int64_t>(report.curve.size());
  doc["drift_tolerance"] = report.drift_tolerance;
  doc["curve"] = json::array();
  for (const auto& s : report.curve)
    doc["curve"].push_back({{"step", s.step}, {"manual_loss", s.manual_loss}, {"reference_loss", s.reference_loss},
                            {"drift", s.drift}});
  doc["final"] = {{"manual_loss", report.final_manual_loss},
                  {"reference_loss", report.final_reference_loss},
                  {"max_drift", gap_json(report.largest)},
                  {"target_loss", report.target_loss},
                  {"reached_target", report.final_manual_loss < report.target_loss &&
                                         report.final_reference_loss < report.target_loss}};
  doc["departure"] = report.departure_step ? gap_json(report.departure) : json(nullptr);
  if (report.departure_step) doc["departure"]["step"] = *report.departure_step;
  doc["diverged_at_step"] = report.diverged_at ? json(*report.diverged_at) : json(nullptr);
  doc["plots"] = json::array();
  for (const auto& p : report.plots)
    doc["plots"].push_back({{"image", p.image_path.empty() ? json(nullptr) : json(p.image_path)},
                            {"data", p.data_path},
                            {"script", p.script_path},
                            {"message", p.message}});
  return doc.dump(1) + "\n";
}

}  // namespace gradverify::cli
