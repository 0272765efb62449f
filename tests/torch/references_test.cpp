// Stored references (grading/references.h): what LibTorch computed once, read back for grading
// without it. Each test builds its references from the real LibTorch, linked here, and checks
// them against a fresh LibTorch computation, never against numbers written into the test.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <tuple>

#include "gradverify/check/compare.h"
#include "gradverify/errors.h"
#include "gradverify/grading/references.h"
#include "gradverify/torch/reference.h"
#include "support/run_command.h"

namespace gradverify {
namespace {

using nlohmann::json;
using testing::temp_path;
using testing::write_temp;

ReferenceSource libtorch() { return {compute_op_reference, compute_reference, "linked"}; }

// The built-in rubric's references with `variants` variants, written and read back.
StoredReferences round_trip(const Rubric& rubric, int64_t variants, const std::string& name) {
  const std::string path = write_temp(name, references_to_json(compute_references(rubric, libtorch(), variants)));
  return read_references(path, rubric);
}

bool same(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    const auto found = b.find(name);
    if (found == b.end() || found->second.shape != t.shape || found->second.values != t.values) return false;
  }
  return true;
}

// Each built-in rubric, with a number of variants.
class StoredVariants : public ::testing::TestWithParam<std::tuple<std::string, int64_t>> {
 protected:
  const std::string rubric_name = std::get<0>(GetParam());
  const int64_t variants = std::get<1>(GetParam());
  std::string file(const std::string& stem) const {
    return stem + "_" + rubric_name + "_" + std::to_string(variants) + ".json";
  }
};

TEST_P(StoredVariants, EveryVariantReadBackIsExactlyWhatLibTorchComputesForItsInputs) {
  const Rubric rubric = builtin_rubric(rubric_name);
  const StoredReferences refs = round_trip(rubric, variants, file("refs_round_trip"));
  ASSERT_EQ(refs.variants, variants);
  for (int64_t v = 0; v < refs.variants; ++v) {
    const std::vector<PreparedCase> cases = prepare_variant(rubric, refs, v);
    ASSERT_EQ(cases.size(), rubric.cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      const PreparedCase& p = cases[i];
      SCOPED_TRACE(p.spec.name + ", variant " + std::to_string(v));
      // A fresh LibTorch computation on the regenerated inputs, bit for bit.
      const PreparedCase fresh = prepare_case(p.spec, libtorch(), "test");
      EXPECT_TRUE(same(p.reference, fresh.reference));
      EXPECT_EQ(p.reference_loss, fresh.reference_loss);
      if (v == 0) {
        EXPECT_EQ(case_request_json(p.spec), case_request_json(rubric.cases[i])) << "variant 0 is the rubric's own";
      }
    }
  }
}

TEST_P(StoredVariants, EachGeneratedCaseHasDistinctInputsPerVariantEachAsInformativeAsTheOriginal) {
  const Rubric rubric = builtin_rubric(rubric_name);
  const StoredReferences refs = round_trip(rubric, variants, file("refs_distinct"));
  for (size_t i = 0; i < rubric.cases.size(); ++i) {
    SCOPED_TRACE(rubric.cases[i].name);
    std::set<std::string> inputs;
    for (const auto& v : refs.cases[i].variants) inputs.insert(v.inputs_sha256);
    EXPECT_EQ(inputs.size(), static_cast<size_t>(variants));
    const auto share = [](const Tensor& t) {
      double nonzero = 0;
      for (double x : t.values) nonzero += x != 0 ? 1 : 0;
      return nonzero / static_cast<double>(t.values.size());
    };
    for (const auto& v : refs.cases[i].variants)
      for (const auto& [name, t] : refs.cases[i].variants[0].reference)
        EXPECT_GE(share(v.reference.at(name)), 0.5 * share(t)) << name << " of seed " << v.seed;
  }
}

INSTANTIATE_TEST_SUITE_P(BuiltinRubrics, StoredVariants,
                         ::testing::Combine(::testing::ValuesIn(builtin_rubric_names()), ::testing::Values(1, 2, 5)),
                         [](const auto& test_info) {
                           return std::get<0>(test_info.param) + "_" + std::to_string(std::get<1>(test_info.param));
                         });

// Every op of the protocol: LibTorch's reference and the manual kernels agree, leaky ReLU on
// its slopes and exact zeros, cross_entropy on logits of ±1000 too, where both stay finite.
class OpReference : public ::testing::TestWithParam<std::tuple<Op, Dtype>> {};

TEST_P(OpReference, AgreesWithTheManualKernelsAndIsFinite) {
  const auto [op, dtype] = GetParam();
  std::vector<OpCaseOptions> settings = {OpCaseOptions{}};
  if (op == Op::leaky_relu) settings.push_back({0.2, 0}), settings.push_back({0.5, 0});
  if (op == Op::cross_entropy) settings.push_back({0.01, 1000});
  for (const OpCaseOptions& options : settings)
    for (const uint32_t seed : {1u, 2u, 3u}) {
      SCOPED_TRACE(::testing::Message() << "slope " << options.negative_slope << " offset " << options.logit_offset
                                        << " seed " << seed);
      const OpCase c = generate_op_case(op, 5, 4, 3, dtype, seed, options);
      const TensorMap torch = compute_op_reference(c), manual = manual_op_gradients(c);
      for (const std::string& name : op_answer_names(op)) {
        const TensorComparison t =
            compare_tensor(name, SubmittedGradient{manual.at(name), "", false}, torch.at(name), default_tolerances(dtype));
        EXPECT_TRUE(t.passed) << name << ": " << t.message;
        for (const double v : torch.at(name).values) ASSERT_TRUE(std::isfinite(v)) << name;
      }
    }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpReference,
                         ::testing::Combine(::testing::ValuesIn(all_ops()),
                                            ::testing::Values(Dtype::float64, Dtype::float32)),
                         [](const auto& test_info) {
                           return std::string(to_string(std::get<0>(test_info.param))) + "_" +
                                  to_string(std::get<1>(test_info.param));
                         });

TEST(StoredReferences, AStudentKeepsTheirVariantAndClassmatesSpreadOverAll) {
  const Rubric rubric = builtin_rubric();
  const StoredReferences refs = round_trip(rubric, 4, "refs_students.json");
  std::set<int64_t> seen;
  for (int id = 1000; id < 1040; ++id) {
    const int64_t v = refs.variant_for(std::to_string(id));
    EXPECT_EQ(v, refs.variant_for(std::to_string(id))) << "a regrade gets the same variant";
    EXPECT_GE(v, 0);
    EXPECT_LT(v, 4);
    seen.insert(v);
  }
  // 40 students all in one variant has probability 4·4^-40 for a random secret.
  EXPECT_EQ(seen.size(), 4u);
  // Two students in different variants get different inputs for every generated case.
  std::string a = "1000", b;
  for (int id = 1001; b.empty() && id < 2000; ++id)
    if (refs.variant_for(std::to_string(id)) != refs.variant_for(a)) b = std::to_string(id);
  ASSERT_FALSE(b.empty()) << "1,000 students, all in one variant";
  const auto cases_a = prepare_variant(rubric, refs, refs.variant_for(a));
  const auto cases_b = prepare_variant(rubric, refs, refs.variant_for(b));
  for (size_t i = 0; i < cases_a.size(); ++i)
    EXPECT_NE(case_request_json(cases_a[i].spec), case_request_json(cases_b[i].spec)) << cases_a[i].spec.name;
}

TEST(StoredReferences, AnotherSecretGivesAnotherAssignment) {
  // The secret, not the id alone, decides: two files made separately disagree for some student.
  const Rubric rubric = builtin_rubric();
  const StoredReferences one = round_trip(rubric, 8, "refs_secret_1.json"), two = round_trip(rubric, 8, "refs_secret_2.json");
  EXPECT_NE(one.secret, two.secret);
  int differ = 0;
  for (int id = 0; id < 50; ++id) differ += one.variant_for(std::to_string(id)) != two.variant_for(std::to_string(id));
  EXPECT_GT(differ, 0);
}

TEST(StoredReferences, RemadeWithTheEarlierSecretEveryStudentKeepsTheirVariant) {
  // After a fix to the rubric, say: the new references, made with the old file's secret, give
  // each student the variant they had; made without it, some student's changes.
  const Rubric rubric = builtin_rubric();
  const std::string old_path = write_temp("refs_secret_old.json", references_to_json(compute_references(rubric, libtorch(), 5)));
  const StoredReferences old = read_references(old_path, rubric);
  json changed = json::parse(builtin_rubric_json());
  changed["cases"][0]["points"] = 3;
  const Rubric fixed = parse_rubric_json(changed.dump(), "fixed.json", ".");
  const StoredReferences kept = compute_references(fixed, libtorch(), 5, secret_of_references(old_path));
  const StoredReferences fresh = compute_references(fixed, libtorch(), 5);
  int moved = 0;
  for (int id = 0; id < 40; ++id) {
    EXPECT_EQ(kept.variant_for(std::to_string(id)), old.variant_for(std::to_string(id))) << id;
    moved += fresh.variant_for(std::to_string(id)) != old.variant_for(std::to_string(id));
  }
  EXPECT_GT(moved, 0) << "a new secret reassigns (40 students over 5 variants)";
  const std::string not_references = write_temp("refs_secret_not.json", R"({"secret": "abc"})");
  try {
    secret_of_references(not_references);
    ADD_FAILURE() << "a file that is not references gave a secret";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a references file"), std::string::npos) << e.what();
  }
}

// ---- refusals: each names the file and the field ---------------------------------------------

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(StoredReferences, ReferencesForAnotherRubricAreRefused) {
  const Rubric rubric = builtin_rubric();
  const std::string path = write_temp("refs_other_rubric.json", references_to_json(compute_references(rubric, libtorch(), 1)));
  json doc = json::parse(builtin_rubric_json());
  doc["cases"][0]["points"] = 3;  // one point changed is another rubric
  const Rubric changed = parse_rubric_json(doc.dump(), "changed.json", ".");
  const std::string message = error_of([&] { read_references(path, changed); });
  EXPECT_NE(message.find(path + ": rubric_sha256: made for another rubric"), std::string::npos) << message;
}

struct Tampering {
  std::string name;
  std::function<void(json&)> change;
  std::string expected;  // in the message, after the file's name
};

class TamperedReferences : public ::testing::TestWithParam<Tampering> {};

TEST_P(TamperedReferences, AreRefusedNamingTheField) {
  const Rubric rubric = builtin_rubric();
  json doc = json::parse(references_to_json(compute_references(rubric, libtorch(), 2)));
  GetParam().change(doc);
  const std::string path = write_temp("refs_tampered_" + GetParam().name + ".json", doc.dump());
  const std::string message = error_of([&] {
    const StoredReferences refs = read_references(path, rubric);
    for (int64_t v = 0; v < refs.variants; ++v) prepare_variant(rubric, refs, v);
  });
  EXPECT_NE(message.find(path + ": " + GetParam().expected), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    All, TamperedReferences,
    ::testing::Values(
        Tampering{"not_references", [](json& d) { d.erase("format"); }, "not a references file"},
        Tampering{"version", [](json& d) { d["format_version"] = 7; }, "format_version: expected 1, got 7"},
        Tampering{"seed", [](json& d) { d["cases"][0]["variants"][1]["seed"] = 12345; },
                  "cases[0].variants[1].inputs_sha256: case 'ReLU backward' from seed 12345 has other inputs"},
        Tampering{"missing_tensor", [](json& d) { d["cases"][5]["variants"][0]["reference"].erase("dW"); },
                  "cases[5].variants[0].reference.dW: missing"},
        Tampering{"wrong_shape", [](json& d) { d["cases"][0]["variants"][0]["reference"]["dz"] = {{1.0, 2.0}}; },
                  "cases[0].variants[0].reference.dz: shape [1,2], expected [4,5]"},
        Tampering{"not_a_number", [](json& d) { d["cases"][0]["variants"][0]["reference"]["dz"][0][0] = "x"; },
                  "cases[0].variants[0].reference.dz[0][0]"},
        Tampering{"renamed_case", [](json& d) { d["cases"][2]["name"] = "Softmax"; },
                  "cases[2].name: 'Softmax', but the rubric's case is 'Sigmoid backward'"},
        Tampering{"variant_count", [](json& d) { d["cases"][3]["variants"].erase(1); },
                  "cases[3].variants: 1 variants, expected 2"},
        Tampering{"case_count", [](json& d) { d["cases"].erase(14); }, "cases: 14 cases, but the rubric has 15"}),
    [](const ::testing::TestParamInfo<Tampering>& tampering) { return tampering.param.name; });

TEST(StoredReferences, ACaseFromAProblemFileHasOneVariant) {
  // A problem file is the course's own data: there is nothing to draw again.
  const std::string problem = write_temp("refs_problem.json", R"({"layers": [2, 3, 1], "activations": ["tanh", "sigmoid"],
      "loss": "mse", "X": [[0.5, -1.0], [1.5, 2.0]], "y": [[1.0], [0.0]]})");
  const std::string rubric_text = R"({"cases": [{"name": "from a file", "kind": "mlp", "problem_file": ")" + problem +
                                  R"(", "seed": 3}, {"name": "generated", "kind": "op", "op": "tanh", "seed": 4}]})";
  const Rubric rubric = parse_rubric_json(rubric_text, "rubric.json", ".");
  const StoredReferences refs = round_trip(rubric, 3, "refs_problem_file.json");
  EXPECT_EQ(refs.cases[0].variants.size(), 1u);
  EXPECT_EQ(refs.cases[1].variants.size(), 3u);
  for (int64_t v = 0; v < 3; ++v)
    EXPECT_EQ(case_request_json(prepare_variant(rubric, refs, v)[0].spec), case_request_json(rubric.cases[0]));
}

}  // namespace
}  // namespace gradverify
