// A buggy C++ submission for the grading tests: the reference solution, except that the
// linear op's db is averaged over the batch instead of summed. The MLP still calls the
// solution's own linear_backward, so only the linear cases are touched.
#define linear_backward solution_linear_backward
#include "backprop.cpp"  // the solution's, found through the include path
#undef linear_backward

namespace lab {

LinearGrads linear_backward(const Matrix& x, const Matrix& W, const Matrix& dz) {
  LinearGrads g = solution_linear_backward(x, W, dz);
  for (double& v : g.db.data) v /= dz.rows;
  return g;
}

}  // namespace lab
