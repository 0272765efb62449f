#include "gradverify/tensor.h"

#include <stdexcept>

namespace gradverify {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t Tensor::numel() const { return shape_numel(shape); }

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<int64_t> unravel_index(const Shape& shape, int64_t flat_index) {
  std::vector<int64_t> index(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    index[i] = shape[i] ? flat_index % shape[i] : 0;
    flat_index = shape[i] ? flat_index / shape[i] : 0;
  }
  return index;
}

Tensor transposed(const Tensor& a) {
  Tensor t{{a.shape[1], a.shape[0]}, std::vector<double>(a.values.size())};
  for (int64_t i = 0; i < a.shape[0]; ++i)
    for (int64_t j = 0; j < a.shape[1]; ++j)
      t.values[static_cast<size_t>(j * a.shape[0] + i)] = a.values[static_cast<size_t>(i * a.shape[1] + j)];
  return t;
}

template <typename T>
Matrix<T> to_matrix(const Tensor& tensor) {
  if (tensor.shape.size() > 2 || static_cast<int64_t>(tensor.values.size()) != tensor.numel())
    throw std::logic_error("to_matrix: tensor of shape " + shape_to_string(tensor.shape) + " is not a matrix");
  const int64_t rows = tensor.shape.size() == 2 ? tensor.shape[0] : 1;
  const int64_t cols = tensor.shape.empty() ? 1 : tensor.shape.back();
  Matrix<T> m(rows, cols);
  for (size_t i = 0; i < tensor.values.size(); ++i) m.data[i] = static_cast<T>(tensor.values[i]);
  return m;
}

template <typename T>
Tensor to_tensor(const Matrix<T>& matrix, const Shape& shape) {
  if (shape_numel(shape) != matrix.size())
    throw std::logic_error("to_tensor: shape " + shape_to_string(shape) + " does not fit the matrix");
  return Tensor{shape, std::vector<double>(matrix.data.begin(), matrix.data.end())};
}

template Matrix<float> to_matrix<float>(const Tensor&);
template Matrix<double> to_matrix<double>(const Tensor&);
template Tensor to_tensor<float>(const Matrix<float>&, const Shape&);
template Tensor to_tensor<double>(const Matrix<double>&, const Shape&);

}  // namespace gradverify
