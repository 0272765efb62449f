#pragma once
// Fingerprints a class run keeps: of a student's submission folder (a resumed run regrades a
// student whose folder changed) and of a wrong answer (the class report finds students whose
// wrong answers to the same inputs are the same numbers).
#include <cstdint>
#include <string>

#include "gradverify/tensor.h"

namespace gradverify {

// The SHA-256 of any text, as 64 lowercase hex digits.
std::string text_sha256(const std::string& text);

// SHA-256 over the folder's regular files and symlinks, each by its path relative to the
// folder, its kind, and its contents (a link's target), in sorted order. Any file added,
// removed, renamed or changed changes it; timestamps and permissions don't.
std::string folder_sha256(const std::string& directory);

// A wrong answer as the report compares them: its shape and every value rounded to 6
// significant digits (so that float32 printing and summation order don't split identical
// answers), -0 as 0, NaN and Inf by name; 16 hex digits of SHA-256. `distinct_values` counts
// the different rounded values: an answer of few (all zeros, one repeated number) is matched
// by chance.
struct AnswerFingerprint {
  std::string digest;
  int64_t distinct_values = 0;
};
AnswerFingerprint answer_fingerprint(const Tensor& answer);

}  // namespace gradverify
