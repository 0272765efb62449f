#pragma once
// Two array types, each for one job:
//  - Tensor: any-rank doubles with a shape. The exchange type between files, the manual
//    MLP, LibTorch and the comparison. float32 values are exactly representable in it.
//  - Matrix<T>: a 2-D row-major buffer in the compute dtype, used by the kernels.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gradverify {

using Shape = std::vector<int64_t>;

struct Tensor {
  Shape shape;                 // e.g. {2, 4} for W1 of a 2-4-... net, {4} for b1
  std::vector<double> values;  // row-major, numel() entries

  int64_t numel() const;
};

// Named tensors, e.g. {"W1": ..., "b1": ...}; std::map keeps output order deterministic.
using TensorMap = std::map<std::string, Tensor>;

int64_t shape_numel(const Shape& shape);
std::string shape_to_string(const Shape& shape);                     // "[2,4]"
std::vector<int64_t> unravel_index(const Shape& shape, int64_t flat_index);
Tensor transposed(const Tensor& matrix);  // a 2-D tensor's rows and columns swapped

template <typename T>
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<T> data;  // rows * cols, row-major

  Matrix() = default;
  Matrix(int64_t r, int64_t c, T fill = T(0)) : rows(r), cols(c), data(static_cast<size_t>(r * c), fill) {}
  T& operator()(int64_t i, int64_t j) { return data[static_cast<size_t>(i * cols + j)]; }
  const T& operator()(int64_t i, int64_t j) const { return data[static_cast<size_t>(i * cols + j)]; }
  int64_t size() const { return rows * cols; }
  // Gives the matrix this shape, every entry `fill`, unless it has that shape already: then it
  // is left as it is. A buffer kept across steps of one shape is neither reallocated nor
  // refilled; the manual MLP's kernels overwrite every entry (kernels_test proves it on
  // NaN-filled buffers), and refilling the 1024x1024 weight gradients cost 8% of a step.
  void ensure_shape(int64_t r, int64_t c, T fill) {
    if (rows == r && cols == c && data.size() == static_cast<size_t>(r * c)) return;
    rows = r, cols = c;
    data.assign(static_cast<size_t>(r * c), fill);
  }
};

// Tensor -> Matrix<T>: a 2-D tensor keeps its shape, a 1-D tensor of n becomes 1 x n.
template <typename T>
Matrix<T> to_matrix(const Tensor& tensor);
// Matrix<T> -> Tensor with the given shape (which must hold rows * cols elements).
template <typename T>
Tensor to_tensor(const Matrix<T>& matrix, const Shape& shape);

}  // namespace gradverify
