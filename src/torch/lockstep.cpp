// Torch-free itself; it lives in gradverify::torch because it drives ReferenceTrainer.
#include "gradverify/torch/lockstep.h"

#include <cmath>

#include "gradverify/torch/reference.h"

namespace gradverify {

namespace {

ParameterGap largest_gap(const TensorMap& manual, const TensorMap& reference, double& scale) {
  ParameterGap gap;
  scale = 0;
  for (const auto& [name, t] : manual) {
    const Tensor& r = reference.at(name);
    for (size_t i = 0; i < t.values.size(); ++i) {
      scale = std::max(scale, std::fabs(t.values[i]));
      const double diff = std::fabs(t.values[i] - r.values[i]);
      // NaN beats any number: a parameter that went NaN on one side is the largest gap.
      if (diff > gap.value || (std::isnan(diff) && !std::isnan(gap.value))) {
        gap = ParameterGap{diff, name, unravel_index(t.shape, static_cast<int64_t>(i)), t.values[i], r.values[i]};
      }
    }
  }
  return gap;
}

}  // namespace

LockstepResult train_lockstep(const Problem& problem, const OptimizerConfig& manual_config,
                              const OptimizerConfig& reference_config, int64_t steps,
                              const std::function<void(const LockstepStep&)>& on_step) {
  ManualTrainer manual(problem, manual_config);
  ReferenceTrainer reference(problem, reference_config);
  LockstepResult result;
  result.tolerance = lockstep_tolerance(problem.spec.dtype);
  for (int64_t step = 1; step <= steps; ++step) {
    LockstepStep s;
    s.step = step;
    s.manual_loss = manual.step();
    s.reference_loss = reference.step();
    double scale = 0;
    const ParameterGap gap = largest_gap(manual.params(), reference.params(), scale);
    s.drift = gap.value;
    result.curve.push_back(s);
    if (!(gap.value <= result.largest.value)) result.largest = gap;
    if (!result.departure_step && !(gap.value <= result.tolerance * std::max(1.0, scale))) {
      result.departure_step = step;
      result.departure = gap;
    }
    if (on_step) on_step(s);
    if (!std::isfinite(s.manual_loss) || !std::isfinite(s.reference_loss)) {
      result.diverged_at = step;
      break;
    }
  }
  result.manual_params = manual.params();
  result.reference_params = reference.params();
  return result;
}

}  // namespace gradverify
