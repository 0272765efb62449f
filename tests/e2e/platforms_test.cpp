// What the platforms read, end to end through the binary: Gradescope's, PrairieLearn's and
// GitHub Classroom's results files, and grading with stored references and per-student
// variants (no LibTorch loaded). Each contract is checked field by field, with its types.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "gradverify/grading/references.h"
#include "gradverify/grading/results_formats.h"
#include "gradverify/grading/rubric.h"
#include "support/run_command.h"

#ifndef GRADVERIFY_SOURCE
#error "GRADVERIFY_SOURCE: the source tree, for the kits' solutions"
#endif

namespace gradverify {
namespace {

using nlohmann::json;
using testing::run_shell;
using testing::slurp;
using testing::temp_path;
using testing::write_temp;

const std::string kBin = GRADVERIFY_BIN;
const std::string kSubmission = GRADVERIFY_TEST_SUBMISSION;
const std::string kGrade = kBin + " grade -q --submission-dir " + kSubmission;
const std::string kSolution = "./student_runner_solution";
const std::string kSkeleton = "./student_runner_skeleton";
const std::string kDbAveraged = "./student_runner_db_averaged";
// A grader that loaded LibTorch would fail with this: stored references must not need it.
const std::string kNoTorch = "env GRADVERIFY_TORCH_BACKEND=/nonexistent/libgradverify_torch_backend.so ";

std::string unique(const std::string& name) { return temp_path(name + "_" + std::to_string(getpid())); }

// Runs `grade` with `options` and returns the results file it wrote.
std::string graded(const std::string& options, const std::string& prefix = "") {
  const std::string out = unique("platform_results");
  const auto run = run_shell(prefix + kGrade + " " + options + " --output " + out);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return slurp(out);
}

// The built-in rubric's references with K variants, made once per test binary run.
std::string references(int variants) {
  const std::string path = unique("references_" + std::to_string(variants)) + ".json";
  if (!std::filesystem::exists(path)) {
    const auto run = run_shell(kBin + " references -q --variants " + std::to_string(variants) + " -o " + path);
    EXPECT_EQ(run.exit_code, 0) << run.err;
  }
  return path;
}

// ---- PrairieLearn ------------------------------------------------------------------------------

void expect_prairielearn_contract(const json& r) {
  ASSERT_TRUE(r.is_object());
  ASSERT_TRUE(r["gradable"].is_boolean());
  ASSERT_TRUE(r["score"].is_number());
  EXPECT_GE(r["score"].get<double>(), 0);
  EXPECT_LE(r["score"].get<double>(), 1);
  ASSERT_TRUE(r["message"].is_string());
  ASSERT_TRUE(r["output"].is_string());
  ASSERT_TRUE(r["tests"].is_array());
  for (const auto& t : r["tests"]) {
    for (const char* key : {"name", "description", "message", "output"}) ASSERT_TRUE(t[key].is_string()) << key;
    ASSERT_TRUE(t["points"].is_number());
    ASSERT_TRUE(t["max_points"].is_number());
    EXPECT_LE(t["points"].get<double>(), t["max_points"].get<double>());
  }
}

TEST(PrairieLearn, ResultsHaveEveryFieldOfTheContractAndScoreAsAFraction) {
  const Rubric rubric = builtin_rubric();
  for (const auto& [command, score] : {std::pair{kSolution, 1.0}, std::pair{kSkeleton, 0.0}}) {
    SCOPED_TRACE(command);
    const json r = json::parse(graded("--format prairielearn --submission-cmd " + command));
    expect_prairielearn_contract(r);
    EXPECT_TRUE(r["gradable"].get<bool>());
    EXPECT_EQ(r["score"].get<double>(), score);
    ASSERT_EQ(r["tests"].size(), rubric.cases.size());
    double points = 0;
    int hidden = 0;
    for (size_t i = 0; i < rubric.cases.size(); ++i) {
      const json& t = r["tests"][i];
      points += t["points"].get<double>();
      if (rubric.cases[i].visibility == "visible") {
        EXPECT_EQ(t["name"], rubric.cases[i].name);
        EXPECT_EQ(t["description"], rubric.cases[i].description);
        continue;
      }
      // PrairieLearn shows every test: a hidden one says nothing but its points.
      EXPECT_EQ(t["name"], "Hidden case " + std::to_string(++hidden));
      EXPECT_EQ(t["description"], "");
      EXPECT_EQ(t["output"], "");
    }
    EXPECT_NEAR(points / rubric.max_score(), r["score"].get<double>(), 1e-12);
  }
}

TEST(PrairieLearn, ABuildFailureIsNotGradableSoTheAttemptDoesNotCount) {
  const std::string log = write_temp("pl_compiler.txt", "backprop.cpp:3:1: error: expected ';' before '}' token\n");
  const json r = json::parse(graded("--format prairielearn --build-failure " + log));
  expect_prairielearn_contract(r);
  EXPECT_FALSE(r["gradable"].get<bool>());
  EXPECT_TRUE(r["tests"].empty());
  EXPECT_NE(r["output"].get<std::string>().find("expected ';' before '}' token"), std::string::npos) << r["output"];
}

TEST(PrairieLearn, TheEntrypointGradesInPrairieLearnsLayoutWithTheQuestionsVariant) {
  namespace fs = std::filesystem;
  // The image's /opt/gradverify is an unpacked bundle; /grade is PrairieLearn's layout.
  const fs::path home = unique("pl_home"), grade = unique("pl_grade");
  const std::string zip = unique("pl_bundle") + ".zip";
  fs::remove_all(home);
  fs::remove_all(grade);
  ASSERT_EQ(run_shell(kBin + " autograder-bundle --variants 4 -o " + zip).exit_code, 0);
  ASSERT_EQ(run_shell("unzip -q " + zip + " -d " + home.string()).exit_code, 0);
  ASSERT_EQ(run_shell(home.string() + "/build_kit_objects.sh").exit_code, 0);
  fs::create_directories(grade / "tests");
  fs::create_directories(grade / "data");
  for (const char* file : {"rubric.json", "references.json"}) fs::copy_file(home / file, grade / "tests" / file);
  const std::string solution = slurp(std::string(GRADVERIFY_SOURCE) + "/src/student_kit_solution/backprop.cpp");
  const auto graded_as = [&](const std::string& backprop_cpp, int variant_seed) {
    fs::remove_all(grade / "student");
    fs::remove_all(grade / "results");
    fs::create_directories(grade / "student");
    std::ofstream(grade / "student/backprop.cpp") << backprop_cpp;
    std::ofstream(grade / "data/data.json") << json{{"params", json::object()}, {"variant_seed", variant_seed}}.dump();
    const auto run = run_shell(kNoTorch + "env GRADE_ROOT=" + grade.string() + " GRADVERIFY_HOME=" + home.string() +
                               " GRADVERIFY=" + kBin + " " + (home / "grade_prairielearn").string());
    EXPECT_EQ(run.exit_code, 0) << "PrairieLearn drops a failed job's results\n" << run.err;
    const json r = json::parse(slurp((grade / "results/results.json").string()));
    expect_prairielearn_contract(r);
    return r;
  };
  const json right = graded_as(solution, 17);
  EXPECT_TRUE(right["gradable"].get<bool>());
  EXPECT_EQ(right["score"].get<double>(), 1.0);
  EXPECT_EQ(graded_as(solution, 17)["tests"], right["tests"]) << "a regrade of the variant, the same inputs";
  // Some other variant_seed gets other inputs: the visible cases' descriptions name their seeds.
  bool differs = false;
  for (int seed = 18; seed < 40 && !differs; ++seed)
    differs = graded_as(solution, seed)["tests"][0]["description"] != right["tests"][0]["description"];
  EXPECT_TRUE(differs);
  const json broken = graded_as("int main( {", 17);
  EXPECT_FALSE(broken["gradable"].get<bool>()) << "a build failure costs no attempt";
  EXPECT_NE(broken["output"].get<std::string>().find("expected"), std::string::npos) << broken["output"];
}

// ---- GitHub Classroom ----------------------------------------------------------------------------

void expect_classroom_contract(const json& r) {
  ASSERT_EQ(r["version"], 1);
  ASSERT_TRUE(r["status"] == "pass" || r["status"] == "fail" || r["status"] == "error") << r["status"];
  ASSERT_TRUE(r["max_score"].is_number());
  ASSERT_TRUE(r["tests"].is_array());
  for (const auto& t : r["tests"]) {
    for (const char* key : {"name", "message", "test_code", "filename"}) ASSERT_TRUE(t[key].is_string()) << key;
    ASSERT_TRUE(t["status"] == "pass" || t["status"] == "fail" || t["status"] == "error");
    ASSERT_TRUE(t["score"].is_number()) << "the reporter sums every test's score";
    ASSERT_TRUE(t["line_no"].is_number_integer());
    ASSERT_TRUE(t["duration"].is_number_integer());
  }
}

TEST(Classroom, TheStepOutputDecodesToTheCommandGradersSchemaAndTheSummaryIsWritten) {
  for (const auto& [command, status] : {std::pair{kSolution, "pass"}, std::pair{kDbAveraged, "fail"}}) {
    SCOPED_TRACE(command);
    const std::string output = unique("github_output"), summary = unique("github_summary");
    std::ofstream(output) << "earlier=kept\n";  // appended to, as Actions' steps share the file
    std::filesystem::remove(summary);
    const json printed = json::parse(graded("--format classroom --submission-cmd " + command,
                                            "env GITHUB_OUTPUT=" + output + " GITHUB_STEP_SUMMARY=" + summary + " "));
    const std::string lines = slurp(output);
    ASSERT_EQ(lines.rfind("earlier=kept\nresult=", 0), 0u) << lines;
    const std::string encoded = write_temp("classroom_b64", lines.substr(lines.find("result=") + 7));
    const auto decoded = run_shell("base64 -d " + encoded);
    ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
    const json r = json::parse(decoded.out);
    expect_classroom_contract(r);
    EXPECT_EQ(r, printed) << "the step output is the printed result, encoded";
    EXPECT_EQ(r["status"], status);
    double total = 0;
    for (const auto& t : r["tests"]) total += t["score"].get<double>();
    EXPECT_EQ(r["max_score"].get<double>(), builtin_rubric().max_score());
    if (std::string(status) == "pass") {
      EXPECT_EQ(total, r["max_score"].get<double>());
    } else {
      EXPECT_LT(total, r["max_score"].get<double>());
      EXPECT_GT(total, 0);
    }
    const std::string md = slurp(summary);
    EXPECT_NE(md.find("| case | points |"), std::string::npos) << md;
    EXPECT_NE(md.find("| XOR net (the lab's 2-4-3-2-1) | "), std::string::npos) << md;
  }
}

TEST(Classroom, ABuildFailureIsAnErrorWithTheCompilersMessage) {
  const std::string log = write_temp("classroom_compiler.txt", "backprop.cpp:9: error: 'dW' was not declared\n");
  const json r = json::parse(graded("--format classroom --build-failure " + log));
  expect_classroom_contract(r);
  EXPECT_EQ(r["status"], "error");
  ASSERT_EQ(r["tests"].size(), 1u);
  EXPECT_EQ(r["tests"][0]["name"], "Build");
  EXPECT_NE(r["tests"][0]["message"].get<std::string>().find("'dW' was not declared"), std::string::npos);
}

// ---- Gradescope: nothing at the top reveals a hidden case -----------------------------------------

TEST(Gradescope, TheTopLevelOutputIsTheSameWhateverTheHiddenCasesScored) {
  // Two submissions that agree on every visible case and differ on the hidden one: a top line
  // that counted all cases would tell them apart, and a student could subtract.
  const std::string rubric = write_temp("hidden_leak_rubric.json", R"({"name": "leak", "cases": [
    {"name": "sigmoid", "points": 2, "kind": "op", "op": "sigmoid", "seed": 2},
    {"name": "tanh", "points": 2, "kind": "op", "op": "tanh", "seed": 3},
    {"name": "relu", "points": 3, "visibility": "after_due_date", "kind": "op", "op": "relu", "batch": 8, "width": 6, "seed": 9101}]})");
  chmod(rubric.c_str(), 0600);
  std::map<std::string, json> results;
  for (const char* bug : {"", "relu_ge"}) {
    results[bug] = json::parse(graded("--format gradescope --rubric " + rubric + " --submission-cmd 'python3 python_student.py " +
                                      bug + "'"));
  }
  ASSERT_NE(results[""]["score"], results["relu_ge"]["score"]) << "the hidden case tells them apart";
  EXPECT_EQ(results[""]["tests"][2]["status"], "passed");
  EXPECT_EQ(results["relu_ge"]["tests"][2]["status"], "failed");
  EXPECT_EQ(results[""]["output"], results["relu_ge"]["output"]);
  EXPECT_NE(results[""]["output"].get<std::string>().find("Visible: 4 / 4 points; hidden cases are graded too, and shown "
                                                           "after the due date"),
            std::string::npos)
      << results[""]["output"];
  for (const auto& [bug, r] : results) {
    EXPECT_EQ(r["output_format"], "text");
    EXPECT_EQ(r["test_output_format"], "text");
    EXPECT_EQ(r["stdout_visibility"], "hidden");
    for (size_t i = 0; i < r["tests"].size(); ++i) {
      EXPECT_EQ(r["tests"][i]["number"], std::to_string(i + 1));
      EXPECT_EQ(r["tests"][i]["tags"][0], "op");
      EXPECT_TRUE(r["tests"][i]["extra_data"]["gradients"]["dz"]["max_abs_diff"].is_number());
    }
  }
  EXPECT_EQ(results["relu_ge"]["tests"][2]["tags"], json({"op", "activation", "relu", "float64"}));
  // The hint kinds reach staff analytics, with the test's own visibility.
  EXPECT_FALSE(results["relu_ge"]["tests"][2]["extra_data"]["hint_kinds"].empty()) << results["relu_ge"]["tests"][2];
  EXPECT_TRUE(results[""]["tests"][2]["extra_data"]["hint_kinds"].empty());
}

TEST(Gradescope, ABuildFailureIsOneVisibleBuildTestWorthTheRubricsPoints) {
  const std::string log = write_temp("gs_compiler.txt", "backprop.cpp:1:10: fatal error: vector<double>: No such file\n");
  const json r = json::parse(graded("--format gradescope --build-failure " + log));
  EXPECT_EQ(r["score"].get<double>(), 0);
  ASSERT_EQ(r["tests"].size(), 1u);
  EXPECT_EQ(r["tests"][0]["name"], "Build");
  EXPECT_EQ(r["tests"][0]["visibility"], "visible");
  EXPECT_EQ(r["tests"][0]["max_score"].get<double>(), builtin_rubric().max_score());
  EXPECT_NE(r["tests"][0]["output"].get<std::string>().find("vector<double>"), std::string::npos) << "text, not HTML";
}

TEST(PrairieLearn, ResultsStayUnderOneMebibyteHoweverLongTheFeedback) {
  // 400 cases of 40 KB feedback each: 16 MB before shortening.
  GradeResult r;
  r.rubric = "long";
  for (int i = 0; i < 400; ++i) {
    CaseResult c;
    c.name = "case " + std::to_string(i);
    c.visibility = "visible";
    c.points = 1;
    c.failure = std::string(2000, 'f');
    c.feedback = std::string(40000, 'x') + "\u00e9";  // a two-byte character at the end
    r.cases.push_back(c);
    r.max_score += 1;
  }
  const std::string text = format_prairielearn(r);
  EXPECT_LT(text.size(), kPrairieLearnMaxBytes);
  const json doc = json::parse(text);  // valid JSON, valid UTF-8: no character cut in half
  expect_prairielearn_contract(doc);
  EXPECT_EQ(doc["tests"].size(), 400u);
  EXPECT_NE(doc["tests"][0]["output"].get<std::string>().find("shortened to fit"), std::string::npos);
}

// ---- stored references ---------------------------------------------------------------------------

TEST(StoredReferencesGrading, SolutionSkeletonAndAPlantedBugScoreAsWithLibTorchOnEveryVariant) {
  const std::string refs = references(3);
  const double max = builtin_rubric().max_score();
  for (const char* student : {"1001", "1002", "1003", "1004", "1005"}) {
    SCOPED_TRACE(student);
    const std::string with = "--references " + refs + " --student-id " + student + " --format json --submission-cmd ";
    EXPECT_EQ(json::parse(graded(with + kSolution, kNoTorch))["score"].get<double>(), max);
    EXPECT_EQ(json::parse(graded(with + kSkeleton, kNoTorch))["score"].get<double>(), 0);
    const double planted = json::parse(graded(with + kDbAveraged, kNoTorch))["score"].get<double>();
    EXPECT_GT(planted, 0);
    EXPECT_LT(planted, max);
  }
}

TEST(StoredReferencesGrading, TwoStudentsGetDifferentInputsAndARegradeTheSame) {
  const std::string refs = references(4);
  const auto descriptions = [&](const std::string& who) {
    const json r = json::parse(graded("--references " + refs + " " + who + " --format json --submission-cmd " + kSolution,
                                      kNoTorch));
    std::vector<std::string> seen;
    for (const auto& c : r["cases"]) seen.push_back(c["description"]);  // each names its seed
    return std::pair{r["variant"].get<int64_t>(), seen};
  };
  const auto first = descriptions("--student-id 1234"), again = descriptions("--student-id 1234");
  EXPECT_EQ(first, again) << "a regrade is graded on the same inputs";
  // Gradescope's metadata names the same student.
  const std::string metadata = write_temp("submission_metadata.json",
                                          R"({"id": 5, "users": [{"email": "s@u.edu", "id": 1234, "name": "S"}]})");
  EXPECT_EQ(descriptions("--submission-metadata " + metadata), first);
  // Some classmate has another variant, and then every case's inputs differ. The variant is
  // read from the file's secret, so only that classmate is graded.
  const StoredReferences stored = read_references(refs, builtin_rubric());
  int other_id = 2000;
  while (stored.variant_for(std::to_string(other_id)) == first.first && other_id < 3000) ++other_id;
  ASSERT_LT(other_id, 3000) << "1,000 students, all in one of 4 variants: the assignment is constant";
  const auto other = descriptions("--student-id " + std::to_string(other_id));
  EXPECT_NE(other.first, first.first) << "the grader picks the variant the file's secret gives";
  for (size_t i = 0; i < first.second.size(); ++i) EXPECT_NE(other.second[i], first.second[i]);
}

TEST(StoredReferencesGrading, InAClassEachStudentsFolderNamePicksTheirVariant) {
  namespace fs = std::filesystem;
  const std::string refs = references(3);
  const StoredReferences stored = read_references(refs, builtin_rubric());
  const fs::path dir = unique("variant_class"), out = unique("variant_class_results");
  fs::remove_all(dir);
  fs::remove_all(out);
  // Students until two variants are among them (the secret is drawn anew each run).
  std::set<int64_t> variants;
  for (int i = 0; i < 4 || variants.size() < 2; ++i) {
    const std::string student = "student" + std::to_string(i);
    fs::create_directories(dir / student);
    fs::copy_file(kSubmission + "/student_runner_solution", dir / student / "runner");
    variants.insert(stored.variant_for(student));
  }
  const auto run = run_shell(kNoTorch + kBin + " grade -q --references " + refs + " --submissions " + dir.string() +
                             " --submission-cmd ./runner --format json --output " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string student = entry.path().filename().string();
    const json r = json::parse(slurp((out / (student + ".json")).string()));
    EXPECT_EQ(r["variant"].get<int64_t>(), stored.variant_for(student)) << student;
    EXPECT_EQ(r["score"], r["max_score"]) << student;
  }
}

struct Refusal {
  std::string name, options, message;
};
void PrintTo(const Refusal& r, std::ostream* os) { *os << r.name; }
class StoredReferencesRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(StoredReferencesRefusal, ExitsTwoWithOneLineNamingTheOption) {
  std::string options = GetParam().options;
  for (const auto& [key, value] : {std::pair{std::string("@REFS3"), references(3)}, std::pair{std::string("@REFS1"), references(1)}})
    for (size_t at; (at = options.find(key)) != std::string::npos;) options.replace(at, key.size(), value);
  const auto run = run_shell(kNoTorch + kGrade + " " + options);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find(GetParam().message), std::string::npos) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
}

INSTANTIATE_TEST_SUITE_P(
    All, StoredReferencesRefusal,
    ::testing::Values(
        Refusal{"no_student", "--references @REFS3 --submission-cmd ./x",
                "has 3 variants of each generated case; give --student-id ID"},
        Refusal{"id_without_references", "--student-id 7 --submission-cmd ./x",
                "--student-id: picks a variant of stored references, and there are none"},
        Refusal{"id_in_a_class", "--references @REFS1 --submissions . --student-id 7 --submission-cmd ./x -o /tmp",
                "--student-id: is for one submission"},
        Refusal{"another_rubric", "--references @REFS1 --rubric " GRADVERIFY_TEST_DATA "/determinism_rubric.json "
                "--allow-readable-rubric --submission-cmd ./x",
                "rubric_sha256: made for another rubric"},
        Refusal{"bad_metadata", "--references @REFS3 --submission-metadata " GRADVERIFY_TEST_DATA
                "/determinism_rubric.json --submission-cmd ./x",
                "users: expected a non-empty array"}),
    [](const ::testing::TestParamInfo<Refusal>& refusal) { return refusal.param.name; });

TEST(StoredReferencesGrading, TheReferencesCommandWritesAFileOnlyItsOwnerReads) {
  const std::string path = references(1);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const json doc = json::parse(slurp(path));
  EXPECT_EQ(doc["format"], "gradverify-references");
  EXPECT_FALSE(doc["libtorch_version"].get<std::string>().empty());
  EXPECT_EQ(doc["gradverify_version"].get<std::string>().size() > 0, true);
  EXPECT_EQ(doc["rubric_sha256"].get<std::string>().size(), 64u);
}

}  // namespace
}  // namespace gradverify
