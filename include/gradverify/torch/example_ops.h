#pragma once
// Ops written the way a user of gradverify writes them, in llm.c's style: shipped as worked
// examples of torch/op_check.h, used by op_check_test and timed by `gradverify bench`.
#include <cstdint>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/torch/op_check.h"

namespace gradverify {

// llm.c's layernorm_forward/backward over the last dimension of x (rows, cols), with gain w and
// bias b (cols): three outputs, out (rows, cols) and the mean and rstd (rows) it saves for its
// backward, which reads them back rather than rerunning the forward. eps 1e-5, the biased
// variance, as torch's layer_norm.
HandWrittenOp layernorm_example(int64_t rows, int64_t cols, Dtype dtype);

}  // namespace gradverify
