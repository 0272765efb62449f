#pragma once
// One matrix product for the whole manual MLP, row-major:
//
//     C = alpha · op(A) · op(B) + beta · C,    op(X) = X or Xᵀ,  op(A) is M×K, op(B) is K×N
//
// Every product of the linear kernels goes through gemm: OpenBLAS's CBLAS when the build has
// it and the product is big enough to pay for the call, plain loops otherwise. Below
// kGemmBlasThreshold multiply-adds a BLAS call costs more than the product (the lab's nets
// are 4×2×4), so tiny nets stay on loops with no threads and no allocation.
#include <cstdint>

namespace gradverify {

constexpr int64_t kGemmBlasThreshold = 8192;  // M·N·K, measured: see the README's benchmark section

template <typename T>
void gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The plain-loop product gemm falls back on, always compiled: cache-friendly loop orders (the
// innermost loop walks contiguous rows), for builds without CBLAS and for tests.
template <typename T>
void gemm_loops(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// "OpenBLAS CBLAS, 2 threads" or "plain loops (no CBLAS in this build)": for reports.
const char* gemm_backend();
int gemm_blas_threads();  // OpenBLAS's thread count, 0 without CBLAS
const char* gemm_blas_config();  // OpenBLAS's build line (version, kernel), "" without CBLAS

}  // namespace gradverify
