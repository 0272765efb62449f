// gradverify report on a class graded for real: students with planted mistakes in known
// numbers, two who share a wrong answer nothing explains, one whose wrong answer matches
// another's only by chance on a trivial case. The report's counts and rankings are checked
// exactly, from all three ways it reads a class; the page is rendered in a real headless
// Chromium with no network, and its numbers checked against the JSON.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <unistd.h>

#include "support/run_command.h"

namespace gradverify {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_shell;
using testing::slurp;
using testing::temp_path;

const std::string kBin = GRADVERIFY_BIN;
const std::string kSubmission = GRADVERIFY_TEST_SUBMISSION;

// The class's rubric: a case nobody passes (python_student.py has no leaky_relu), one
// everybody passes, and a trivial one: two numbers, which mse_sign and mse_clip get alike.
const char* kRubric = R"({"name": "report test", "cases": [
  {"name": "Tanh backward", "kind": "op", "op": "tanh", "batch": 4, "width": 3, "seed": 3},
  {"name": "Sigmoid backward", "kind": "op", "op": "sigmoid", "batch": 4, "width": 3, "seed": 2},
  {"name": "Linear backward", "points": 3, "credit": "per_tensor", "kind": "op", "op": "linear", "batch": 4, "width": 3, "out_width": 2, "seed": 5},
  {"name": "Tiny MSE", "kind": "op", "op": "mse", "batch": 2, "width": 1, "seed": 35},
  {"name": "Leaky ReLU backward", "kind": "op", "op": "leaky_relu", "batch": 3, "width": 2, "seed": 1},
  {"name": "Tanh net", "points": 4, "credit": "per_tensor", "kind": "mlp", "layers": [3, 5, 1], "activations": ["tanh", "sigmoid"], "loss": "bce", "data": "random:8", "seed": 11}]})";

// Who hands in what: python_student.py with its BUG.
const std::map<std::string, std::string> kClass = {
    {"ada", ""},           {"ben", ""},           {"cy", ""},          {"dee", ""},
    {"eve", "linear_db_mean"}, {"fay", "linear_db_mean"}, {"gus", "linear_db_mean"},
    {"hal", "tanh_scaled"}, {"ivy", "tanh_scaled"},  // the shared wrong answer
    {"jon", "mse_sign"},   {"kim", "mse_clip"}};     // alike on Tiny MSE only, by chance

struct GradedClass {
  fs::path rubric, folder, results, gradescope, export_folder;
};

// The class graded once in JSON (its folder has the journal) and once for Gradescope, whose
// results.json files are then laid out as an export: one folder per student.
const GradedClass& graded_class() {
  static const GradedClass graded = [] {
    GradedClass g;
    // Each test process grades its own copy: ctest runs this suite's tests side by side.
    const std::string mine = "_" + std::to_string(getpid());
    g.rubric = testing::write_temp("report_rubric" + mine + ".json", kRubric);
    g.folder = temp_path("report_class" + mine);
    fs::remove_all(g.folder);
    for (const auto& [name, bug] : kClass) {
      fs::create_directories(g.folder / name);
      fs::copy_file(kSubmission + "/python_student.py", g.folder / name / "python_student.py");
      std::ofstream(g.folder / name / "run") << "#!/bin/sh\nexec python3 python_student.py " << bug << "\n";
      fs::permissions(g.folder / name / "run", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                                   fs::perms::others_read | fs::perms::others_exec);
    }
    fs::permissions(g.folder, fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
    g.results = temp_path("report_results" + mine), g.gradescope = temp_path("report_gradescope" + mine);
    g.export_folder = temp_path("report_export" + mine);
    for (const auto& d : {g.results, g.gradescope, g.export_folder}) fs::remove_all(d);
    const std::string grade = kBin + " grade -q --rubric " + g.rubric.string() + " --submissions " + g.folder.string() +
                              " --submission-cmd ./run";
    EXPECT_EQ(run_shell(grade + " --format json --output " + g.results.string()).exit_code, 0);
    EXPECT_EQ(run_shell(grade + " --format gradescope --output " + g.gradescope.string()).exit_code, 0);
    for (const auto& [name, bug] : kClass) {
      fs::create_directories(g.export_folder / ("submission_" + name));
      fs::copy_file(g.gradescope / (name + ".json"), g.export_folder / ("submission_" + name) / "results.json");
    }
    return g;
  }();
  return graded;
}

json report_of(const std::string& input, const std::string& name) {
  const fs::path out = temp_path("report_out_" + name);
  fs::remove_all(out);
  const auto run = run_shell(kBin + " report " + input + " --output " + out.string());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  for (const char* file : {"report.html", "report.json", "students.csv", "cases.csv", "mistakes.csv",
                           "identical_answers.csv"})
    EXPECT_TRUE(fs::exists(out / file)) << file;
  return json::parse(slurp((out / "report.json").string()));
}

std::vector<std::string> students_of(const json& group) { return group["students"].get<std::vector<std::string>>(); }

void expect_the_planted_class(const json& r) {
  EXPECT_EQ(r["students"], kClass.size());
  // Each case's passes, as planted.
  const std::map<std::string, int> passed = {{"Tanh backward", 9},   {"Sigmoid backward", 11}, {"Linear backward", 8},
                                             {"Tiny MSE", 9},        {"Leaky ReLU backward", 0}, {"Tanh net", 9}};
  ASSERT_EQ(r["cases"].size(), passed.size());
  for (const auto& c : r["cases"]) {
    EXPECT_EQ(c["passed"], passed.at(c["name"])) << c["name"];
    EXPECT_EQ(c["graded"], 11) << c["name"];
  }
  EXPECT_EQ(r["nobody_passed"], json::array({"Leaky ReLU backward"}));
  EXPECT_EQ(r["everybody_passed"], json::array({"Sigmoid backward"}));
  // The mistakes, most students first: python_student.py has no leaky_relu and answers dz =
  // dh, the forgotten derivative, for everyone; then the one planted, made by exactly its three
  // students, in the linear op.
  ASSERT_EQ(r["mistakes"].size(), 2u) << r["mistakes"].dump(1);
  EXPECT_EQ(r["mistakes"][0]["kind"], "activation_derivative_forgotten");
  EXPECT_EQ(r["mistakes"][0]["students"], 11);
  EXPECT_EQ(r["mistakes"][0]["cases"], json({{"Leaky ReLU backward", 11}}));
  EXPECT_EQ(r["mistakes"][1]["kind"], "bias_averaged");
  EXPECT_EQ(r["mistakes"][1]["who"], json::array({"eve", "fay", "gus"}));
  EXPECT_EQ(r["mistakes"][1]["cases"], json({{"Linear backward", 3}}));
  EXPECT_EQ(r["mistakes"][1]["layers"], json({{"the op", 3}}));
  EXPECT_NE(r["mistakes"][1]["hint"].get<std::string>().find("averaged over the batch"), std::string::npos);
  // Identical wrong answers, most unlikely first: the pair nothing explains, on both cases it
  // touches (the net's many numbers first), then the chance match on two numbers, then the
  // common, explained mistakes, the one all eleven share last.
  const json& groups = r["identical_wrong_answers"];
  ASSERT_EQ(groups.size(), 5u) << groups.dump(1);
  EXPECT_EQ(groups[0]["case"], "Tanh net");
  EXPECT_EQ(groups[1]["case"], "Tanh backward");
  for (const int i : {0, 1}) {
    EXPECT_EQ(students_of(groups[i]), (std::vector<std::string>{"hal", "ivy"}));
    EXPECT_EQ(groups[i]["explained_by"], json::array());
  }
  EXPECT_EQ(groups[2]["case"], "Tiny MSE");
  EXPECT_EQ(students_of(groups[2]), (std::vector<std::string>{"jon", "kim"}));
  EXPECT_DOUBLE_EQ(groups[2]["bits"].get<double>(), 1.0) << "two distinct numbers: one bit";
  EXPECT_EQ(groups[3]["case"], "Linear backward");
  EXPECT_EQ(students_of(groups[3]), (std::vector<std::string>{"eve", "fay", "gus"}));
  EXPECT_EQ(groups[3]["explained_by"], json::array({"bias_averaged"}));
  EXPECT_EQ(groups[4]["case"], "Leaky ReLU backward");
  EXPECT_EQ(groups[4]["students"].size(), 11u);
  EXPECT_EQ(groups[4]["explained_by"], json::array({"activation_derivative_forgotten"}));
  for (size_t i = 1; i < groups.size(); ++i)
    EXPECT_GT(groups[i - 1]["unlikeliness"].get<double>(), groups[i]["unlikeliness"].get<double>());
  // Scores out of 11: the leaky case's point is lost by all; db averaged costs a third of the
  // linear case's 3; tanh_scaled the tanh case and half the net's 4 (dW1 and db1); the MSE
  // bugs the tiny case. So 10, 9, 7 and 9, in the bins [90%, 100%], [80%, 90%), [60%, 70%).
  std::map<std::string, double> scores;
  for (const auto& s : r["table"]) scores[s["student"]] = s["score"].get<double>();
  for (const auto& [name, bug] : kClass) {
    const double expected = bug.empty() ? 10 : bug == "tanh_scaled" ? 7 : 9;
    EXPECT_EQ(scores.at(name), expected) << name;
  }
  EXPECT_EQ(r["histogram"]["counts"], json::array({0, 0, 0, 0, 0, 0, 2, 0, 5, 4}));
}

TEST(ClassReport, OnASyntheticClassTheCountsAndRankingsAreAsPlantedFromEveryKindOfResults) {
  const GradedClass& g = graded_class();
  // The class's folder (read through its journal), its Gradescope folder, and an export of
  // Gradescope results.json files one folder per student: the same report from each.
  const json from_journal = report_of(g.results.string(), "journal");
  expect_the_planted_class(from_journal);
  const json from_gradescope = report_of(g.gradescope.string(), "gradescope");
  // An export names each student's folder submission_<id>.
  const json from_export = json::parse(std::regex_replace(report_of(g.export_folder.string(), "export").dump(),
                                                          std::regex("submission_"), ""));
  for (const json* other : {&from_gradescope, &from_export}) {
    EXPECT_EQ((*other)["cases"], from_journal["cases"]);
    EXPECT_EQ((*other)["mistakes"], from_journal["mistakes"]);
    EXPECT_EQ((*other)["identical_wrong_answers"], from_journal["identical_wrong_answers"]);
    EXPECT_EQ((*other)["histogram"], from_journal["histogram"]);
    EXPECT_EQ((*other)["table"], from_journal["table"]);
  }
}

// ---- the page, in a real browser ------------------------------------------------------------

// Debian's chromium, headless, in a network namespace of its own (unshare -n: no network at
// all), logging the page's console and every request to a net log.
struct Rendered {
  std::string dom, console;          // the page after it loaded; its console's messages
  std::vector<std::string> requests;  // what the page asked the network for (not file:)
};

Rendered render(const fs::path& page, const fs::path& screenshot = {}) {
  const fs::path dir = temp_path("chromium_" + page.stem().string());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string chromium = "unshare -n chromium --headless=new --no-sandbox --disable-gpu --no-first-run "
                               "--disable-component-update --user-data-dir=" + (dir / "profile").string() +
                               " --enable-logging=stderr --v=0 --log-net-log=" + (dir / "netlog.json").string() +
                               " --window-size=1200,2600 --hide-scrollbars ";
  Rendered r;
  const auto dump = run_shell(chromium + "--dump-dom file://" + fs::absolute(page).string());
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  r.dom = dump.out;
  std::istringstream lines(dump.err);
  for (std::string line; std::getline(lines, line);)
    if (line.find("CONSOLE") != std::string::npos) r.console += line + "\n";
  // The page's requests carry its site (file://) in their isolation key; the browser's own
  // (its update checks) carry none.
  const json netlog = json::parse(slurp((dir / "netlog.json").string()));
  for (const auto& event : netlog["events"]) {
    if (!event.contains("params")) continue;
    const json& p = event["params"];
    if (p.contains("url") && p.contains("network_isolation_key") &&
        p["network_isolation_key"].get<std::string>().rfind("file://", 0) == 0 &&
        p["url"].get<std::string>().rfind("file:", 0) != 0)
      r.requests.push_back(p["url"]);
  }
  if (!screenshot.empty()) {
    fs::create_directories(screenshot.parent_path());
    const auto shot = run_shell(chromium + "--screenshot=" + screenshot.string() + " file://" + fs::absolute(page).string());
    EXPECT_EQ(shot.exit_code, 0) << shot.err;
  }
  return r;
}

// The numbers the page shows in elements marked data-<attribute>="<key>".
std::map<std::string, std::string> shown(const std::string& dom, const std::string& attribute) {
  std::map<std::string, std::string> values;
  const std::regex marked("data-" + attribute + "=\"([^\"]*)\"[^>]*>([^<]*)<");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), marked); it != std::sregex_iterator(); ++it)
    values[(*it)[1]] = (*it)[2];
  return values;
}

TEST(ClassReport, ThePageRendersInHeadlessChromiumWithNoNetworkOrConsoleErrorAndShowsTheJsonsNumbers) {
  const GradedClass& g = graded_class();
  const fs::path out = temp_path("report_page");
  fs::remove_all(out);
  ASSERT_EQ(run_shell(kBin + " report " + g.results.string() + " --output " + out.string()).exit_code, 0);
  const json r = json::parse(slurp((out / "report.json").string()));
  const fs::path screenshot = fs::path(GRADVERIFY_ARTIFACTS) / "class_report.png";
  fs::remove(screenshot);
  const Rendered page = render(out / "report.html", screenshot);
  EXPECT_EQ(page.console, "") << "no console message, errors least of all";
  EXPECT_TRUE(page.requests.empty()) << page.requests.front();
  ASSERT_NE(page.dom.find("What the class gets wrong"), std::string::npos) << page.dom.substr(0, 500);
  EXPECT_EQ(shown(page.dom, "key").at("students"), std::to_string(r["students"].get<int>()));
  const auto bins = shown(page.dom, "bin");
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(bins.at(std::to_string(i)), r["histogram"]["counts"][i].dump()) << i;
  const auto passed = shown(page.dom, "case-passed");
  for (const auto& c : r["cases"]) EXPECT_EQ(passed.at(c["name"]), c["passed"].dump()) << c["name"];
  const auto mistakes = shown(page.dom, "mistake");
  for (const auto& m : r["mistakes"]) EXPECT_EQ(mistakes.at(m["kind"]), m["students"].dump()) << m["kind"];
  const std::regex group("data-identical=\"([^\"]*)\"");
  std::vector<std::string> groups;
  for (auto it = std::sregex_iterator(page.dom.begin(), page.dom.end(), group); it != std::sregex_iterator(); ++it)
    groups.push_back((*it)[1]);
  ASSERT_EQ(groups.size(), r["identical_wrong_answers"].size());
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string students;
    for (const auto& s : r["identical_wrong_answers"][i]["students"]) students += (students.empty() ? "" : " ") + s.get<std::string>();
    EXPECT_EQ(groups[i], students) << "in the JSON's order";
  }
  EXPECT_GT(fs::file_size(screenshot), 10000u) << "the screenshot, kept in " << screenshot;
}

TEST(ClassReport, TheBrowserCheckCatchesAPageThatErrsOrReachesTheNetwork) {
  // The negative control: a script error and an external image are both seen.
  const fs::path page = testing::write_temp("report_bad_page.html",
                                            "<!DOCTYPE html><html><body><p>hi</p><img src=\"http://example.com/a.png\">"
                                            "<script>undefined_function();</script></body></html>");
  const Rendered r = render(page);
  EXPECT_NE(r.console.find("undefined_function is not defined"), std::string::npos) << r.console;
  EXPECT_EQ(r.requests, std::vector<std::string>{"http://example.com/a.png"});
}

TEST(ClassReport, AnswersRightUpToRoundingAreNeverIdenticalWrongAnswersAndTwoRubricsAreNotMixed) {
  // Two students who print 6 digits fail float64 cases alike, with the numbers right: the
  // report names their rounding, and lists no identical wrong answer.
  const fs::path dir = temp_path("report_rounding_" + std::to_string(getpid()));
  fs::remove_all(dir);
  for (const auto& [name, bug] : {std::pair{"lu", "six_digits"}, std::pair{"mo", "six_digits"}, std::pair{"ned", ""}}) {
    fs::create_directories(dir / "class" / name);
    fs::copy_file(kSubmission + "/python_student.py", dir / "class" / name / "python_student.py");
    std::ofstream(dir / "class" / name / "run") << "#!/bin/sh\nexec python3 python_student.py " << bug << "\n";
    fs::permissions(dir / "class" / name / "run", fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  }
  fs::permissions(dir / "class", fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  ASSERT_EQ(run_shell(kBin + " grade -q --submissions " + (dir / "class").string() + " --submission-cmd ./run " +
                      "--format json --output " + (dir / "graded").string()).exit_code, 0);
  const json r = report_of((dir / "graded").string(), "rounding");
  EXPECT_EQ(r["identical_wrong_answers"], json::array()) << r["identical_wrong_answers"].dump(1);
  ASSERT_FALSE(r["mistakes"].empty());
  EXPECT_EQ(r["mistakes"][0]["kind"], "precision");
  EXPECT_EQ(r["mistakes"][0]["who"], json::array({"lu", "mo"}));
  // The report written into the folder it reads is not read back as a student's results.
  ASSERT_EQ(run_shell(kBin + " report " + (dir / "graded").string() + " -o " + (dir / "graded/report").string()).exit_code, 0);
  const auto again = run_shell(kBin + " report " + (dir / "graded").string() + " -o " + (dir / "graded/report").string());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  // Results of another rubric are refused, not merged.
  const auto mixed = run_shell(kBin + " report " + (dir / "graded").string() + " " + graded_class().results.string() +
                               " -o " + (dir / "mixed").string());
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("results of another rubric"), std::string::npos) << mixed.err;
}

// ---- bad input ---------------------------------------------------------------------------------

TEST(ClassReport, BadResultsAreRefusedNamingTheFileAndNothingIsWritten) {
  const fs::path dir = temp_path("report_bad_results");
  fs::remove_all(dir);
  fs::create_directories(dir / "sub_1");
  const fs::path out = temp_path("report_bad_out");
  struct Bad {
    std::string file, text, message;
  };
  for (const Bad& bad : {Bad{"sub_1/results.json", "{\"score\": 0, \"tests\": [{\"name\": \"a\", \"max_score\": \"x\"}]}",
                             "sub_1/results.json: tests[0].max_score: expected a number"},
                         Bad{"sub_1/results.json", "{\"score\": 0.5, \"tests\": [{\"name\": \"a\", \"points\": 1}]}",
                             "results of another platform (PrairieLearn's?"},
                         Bad{"sub_1/results.json", "{\"score\": 1", "sub_1/results.json"},
                         Bad{"sub_1/results.json", "[1, 2]", "not a results file"},
                         Bad{"alice.json", R"({"score": 1, "max_score": 2, "cases": [{"name": "c", "points": 1, "score": "x"}]})",
                             "alice.json: cases[0].score: expected a number"}}) {
    SCOPED_TRACE(bad.file + ": " + bad.text);
    fs::remove_all(dir);
    fs::create_directories(dir / "sub_1");
    std::ofstream(dir / bad.file) << bad.text;
    fs::remove_all(out);
    const auto run = run_shell(kBin + " report " + dir.string() + " --output " + out.string());
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.err.find(bad.message), std::string::npos) << run.err;
    EXPECT_FALSE(fs::exists(out / "report.html"));
  }
  // A student twice (two folders given that hold the same one), and nothing at all.
  const GradedClass& g = graded_class();
  const auto twice = run_shell(kBin + " report " + g.results.string() + " " + g.gradescope.string() + " -o " + out.string());
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("student 'ada' again"), std::string::npos) << twice.err;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto empty = run_shell(kBin + " report " + dir.string() + " -o " + out.string());
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("no results in it"), std::string::npos) << empty.err;
  const auto unwritable = run_shell(kBin + " report " + g.results.string() + " -o /proc/report");
  EXPECT_EQ(unwritable.exit_code, 2);
}

}  // namespace
}  // namespace gradverify
