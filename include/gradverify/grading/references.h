#pragma once
// LibTorch's answers to a rubric's cases, computed where LibTorch is and stored, so that the
// grader itself needs none (a grading image without LibTorch fits Gradescope's 768 MB).
// `gradverify references` and `gradverify autograder-bundle` write them; `grade --references`
// reads them. A references file is JSON:
//
//   {"format": "gradverify-references", "format_version": 1,
//    "gradverify_version": "0.2.0", "libtorch_version": "1.13.0",
//    "rubric": "Manual backprop lab", "rubric_sha256": "<hex>", "variants": 3, "secret": "<hex>",
//    "cases": [{"name": "ReLU backward",
//               "variants": [{"seed": 1, "inputs_sha256": "<hex>", "loss": 0, "reference": {"dz": [...]}},
//                            ...]}, ...]}
//
// Variants are per-student inputs, so a copied answer fails. Variant 0 of each case is the
// rubric's own; variants 1..K-1 of a generated case are drawn from other seeds (a case read
// from a problem file has only variant 0). A student's variant is
//
//     v = HMAC-SHA-256(secret, student id) mod K,   case c gets v if it has K variants, else 0
//
// the same on every regrade, and unpredictable without the secret. Reading the file checks
// the rubric's hash and, when the cases are made, each variant's inputs' hash: references made
// for another rubric, or by a gradverify that draws other inputs from a seed, are refused.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gradverify/check/check.h"
#include "gradverify/grading/grading.h"
#include "gradverify/grading/rubric.h"

namespace gradverify {

// What computes references: LibTorch, through the CLI's plug-in or linked directly.
struct ReferenceSource {
  std::function<TensorMap(const OpCase&)> op;
  std::function<ReferenceResult(const Problem&)> mlp;
  std::string libtorch_version;
};

// One case with its reference computed, and refused (InputError) when the reference can't tell
// a right answer from a skeleton (require_informative_reference).
PreparedCase prepare_case(const GradingCase& grading_case, const ReferenceSource& source,
                          const std::string& rubric_source);

struct StoredVariant {
  uint32_t seed = 0;
  std::string inputs_sha256;  // of the case's request (case_request_json)
  double loss = 0;            // mlp cases
  TensorMap reference;        // as PreparedCase::reference
};

struct StoredCase {
  std::string name;
  std::vector<StoredVariant> variants;  // variant 0 first
};

struct StoredReferences {
  std::string source;  // the file read, for messages
  std::string gradverify_version, libtorch_version, rubric_name, rubric_sha256, secret;
  int64_t variants = 1;
  std::vector<StoredCase> cases;  // in the rubric's order

  // The variant a student gets (the formula above).
  int64_t variant_for(const std::string& student_id) const;
};

constexpr int64_t kMaxVariants = 100;

// The fingerprint that ties references to their rubric: SHA-256 of the rubric's canonical JSON.
std::string rubric_sha256(const Rubric& rubric);

// Every case's reference, and `variants` - 1 more of each generated case, with `secret` (a new
// one when empty). A variant whose reference would be uninformative is drawn again from the
// next seed. `progress` sees each reference computed, of `total`.
StoredReferences compute_references(const Rubric& rubric, const ReferenceSource& source, int64_t variants,
                                    const std::string& secret = {},
                                    const std::function<void(size_t done, size_t total)>& progress = {});

// The secret of an earlier references file, of any rubric: references remade with it (and the
// same number of variants) give every student the variant they had. Throws InputError naming
// the file unless it holds a secret as gradverify writes one (64 hex digits).
std::string secret_of_references(const std::string& path);

std::string references_to_json(const StoredReferences& references);

// Reads a references file made for `rubric`. Throws InputError naming the file and the field:
// not a references file, made for another rubric (its hash differs), cases that don't match.
StoredReferences read_references(const std::string& path, const Rubric& rubric);

// Whose variant a Gradescope submission gets: the ids of the users in its
// submission_metadata.json, sorted and joined with commas, so that a group shares one.
// Throws InputError naming the file and the field when they are not there.
std::string metadata_student_id(const std::string& path);

// The rubric's cases as variant `variant` of each, with their stored references. Regenerates
// each case's inputs from its stored seed and refuses (InputError) inputs whose hash differs
// from the stored one, or a stored reference without the tensors and shapes the case answers.
std::vector<PreparedCase> prepare_variant(const Rubric& rubric, const StoredReferences& references, int64_t variant);

}  // namespace gradverify
