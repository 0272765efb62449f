#pragma once
// The LibTorch side as a plug-in. The `gradverify` binary does not link LibTorch: starting a
// LibTorch-linked process costs about 0.4 s (288 shared libraries), which --help, --version,
// usage errors and bad input files should not pay. The commands that need autograd load
// libgradverify_torch_backend.so, built next to the binary, on first use, and call it
// through this table. Programs that link gradverify::torch directly (the tests, a user's
// ctest suite) call reference.h and lockstep.h as usual.
#include <cstdint>
#include <functional>
#include <memory>

#include "gradverify/torch/lockstep.h"
#include "gradverify/torch/reference.h"

namespace gradverify {

// Times the LibTorch twin's training step (zero_grad, forward, loss, backward) for
// `gradverify bench`: built once, then run in rounds so rounds can alternate with the
// manual MLP's.
class ReferenceStepTimer {
 public:
  virtual ~ReferenceStepTimer() = default;
  virtual void run(int64_t steps) = 0;  // `steps` steps back to back
};

// Bumped whenever this table or a type it passes changes, so a stale plug-in is refused
// instead of called with the wrong layout.
constexpr int kReferenceBackendAbi = 4;

struct ReferenceBackend {
  int abi = kReferenceBackendAbi;
  ReferenceResult (*compute_reference)(const Problem&);
  TensorMap (*compute_op_reference)(const OpCase&);
  LockstepResult (*train_lockstep)(const Problem&, const OptimizerConfig&, const OptimizerConfig&, int64_t,
                                   const std::function<void(const LockstepStep&)>&);
  std::unique_ptr<ReferenceStepTimer> (*make_step_timer)(const Problem&);
  // check_op on layernorm_example (torch/example_ops.h), for `gradverify bench`: its verdict.
  Verdict (*check_layernorm_example)(int64_t rows, int64_t cols, Dtype dtype);
  const char* torch_version;
  int (*intra_op_threads)();  // LibTorch's intra-op thread count, as set for the reference
};

// Implemented by gradverify::torch; the plug-in hands it out.
std::unique_ptr<ReferenceStepTimer> make_reference_step_timer(const Problem& problem);
Verdict check_layernorm_example(int64_t rows, int64_t cols, Dtype dtype);
const ReferenceBackend& linked_reference_backend();

}  // namespace gradverify

// The plug-in's one entry point, looked up by name.
extern "C" const gradverify::ReferenceBackend* gradverify_reference_backend();
