#include "gradverify/net/gemm.h"

#include <string>

#ifdef GRADVERIFY_HAVE_CBLAS
#include <cblas.h>
#endif

namespace gradverify {

template <typename T>
void gemm_loops(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
  const auto a = [&](int64_t i, int64_t k) { return ta ? A[k * lda + i] : A[i * lda + k]; };
  if (!tb) {
    // C[i,:] += alpha a(i,k) B[k,:]: rows of B and C are contiguous. With A transposed, the
    // k-outer order keeps A's row k contiguous too.
    if (ta) {
      for (int64_t k = 0; k < K; ++k)
        for (int64_t i = 0; i < M; ++i) {
          const T aik = alpha * A[k * lda + i];
          const T* b_row = B + k * ldb;
          T* c_row = C + i * ldc;
          for (int64_t j = 0; j < N; ++j) c_row[j] += aik * b_row[j];
        }
    } else {
      for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < K; ++k) {
          const T aik = alpha * A[i * lda + k];
          const T* b_row = B + k * ldb;
          T* c_row = C + i * ldc;
          for (int64_t j = 0; j < N; ++j) c_row[j] += aik * b_row[j];
        }
    }
    return;
  }
  // B transposed: C[i,j] = a(i,:) · B[j,:], a dot product of contiguous rows when A is not.
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T sum = T(0);
      const T* b_row = B + j * ldb;
      for (int64_t k = 0; k < K; ++k) sum += a(i, k) * b_row[k];
      C[i * ldc + j] += alpha * sum;
    }
}

template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
#ifdef GRADVERIFY_HAVE_CBLAS
  if (M * N * K >= kGemmBlasThreshold) {
    const auto op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
    const auto m = static_cast<blasint>(M), n = static_cast<blasint>(N), k = static_cast<blasint>(K);
    if constexpr (sizeof(T) == sizeof(double))
      cblas_dgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, A, static_cast<blasint>(lda), B,
                  static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
    else
      cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, A, static_cast<blasint>(lda), B,
                  static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
    return;
  }
#endif
  gemm_loops(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* gemm_backend() {
#ifdef GRADVERIFY_HAVE_CBLAS
  return "OpenBLAS CBLAS (plain loops below 8192 multiply-adds)";
#else
  return "plain loops (this build has no CBLAS)";
#endif
}

int gemm_blas_threads() {
#ifdef GRADVERIFY_HAVE_CBLAS
  return openblas_get_num_threads();
#else
  return 0;
#endif
}

const char* gemm_blas_config() {
#ifdef GRADVERIFY_HAVE_CBLAS
  return openblas_get_config();
#else
  return "";
#endif
}

#define GRADVERIFY_INSTANTIATE_GEMM(T)                                                                        \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, \
                        int64_t);                                                                             \
  template void gemm_loops<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, \
                              T*, int64_t);
GRADVERIFY_INSTANTIATE_GEMM(float)
GRADVERIFY_INSTANTIATE_GEMM(double)

}  // namespace gradverify
