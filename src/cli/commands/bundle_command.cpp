// gradverify autograder-bundle: the zip a course uploads to Gradescope. LibTorch's references
// are computed here, once, and stored in it; setup.sh builds the torch-free grader from the
// bundled sources, and run_autograder builds the student's backprop.cpp against the kit and
// grades it with the stored references (src/autograder/ holds both scripts).
#include "bundle_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "gradverify/errors.h"
#include "gradverify/grading/grading.h"
#include "gradverify/grading/references.h"
#include "net_options.h"
#include "output.h"
#include "torch_backend.h"
#include "usage.h"

extern char** environ;

namespace gradverify::cli {

namespace fs = std::filesystem;

void add_bundle_command(CLI::App& app, BundleOptions& o) {
  CLI::App* bundle = app.add_subcommand("autograder-bundle", "Write the Gradescope autograder zip for a rubric");
  bundle->footer(R"(
The zip holds, at its root, what Gradescope's autograder contract asks for:
  setup.sh         installs the packages (apt; no LibTorch), builds the torch-free grader
                   from gradverify/ and compiles the kit's given files once
  run_autograder   builds /autograder/submission's backprop.cpp with the kit's given files,
                   or checks its backprop.py or notebook (build_submission.sh), grades it
                   against rubric.json with
                   references.json, and writes /autograder/results/results.json
  grade_prairielearn, prairielearn.Dockerfile
                   the same for PrairieLearn's external grader: the entrypoint, and the
                   image to build from this folder (docs/grading.md)
  rubric.json      the rubric (problem files it names are bundled under cases/)
  references.json  LibTorch's answer to every case, computed here, with --variants K
                   inputs per generated case; each student's is picked from their
                   Gradescope user id (submission_metadata.json), the same on regrade
  student_kit/     the handout. --language cpp: backprop.h, forward.cpp, runner.cpp and the
                   skeleton backprop.cpp. --language python: runner.py, forward.py, the
                   skeleton backprop.py and the same as a notebook, backprop.ipynb; students
                   hand in backprop.py or a notebook, whose definitions alone are graded
                   and .github/workflows/classroom.yml, GitHub Classroom's autograding
  language         cpp or python: what setup.sh installs and run_autograder builds
  gradverify/      the sources setup.sh builds (the kit's solution is left out)
The rubric is checked here, references included, so a bad one fails here and not on
Gradescope. The grading image has no LibTorch: Gradescope's default 768 MB is enough
(docs/grading.md has the measured peak).

The zip is written beside --output and renamed onto it, so a bundle already there is replaced
whole. --output is checked, and zip found, before the rubric's references are computed.

Exit status: 0 written, 2 a bad rubric, option or output path (or no zip), 4 an internal error.

Examples:
  gradverify autograder-bundle --output autograder.zip
  gradverify autograder-bundle --rubric my_rubric.json --variants 8 --output autograder.zip
  gradverify autograder-bundle --language python --output autograder.zip)");
  add_rubric_option(bundle, o.rubric_path, o.builtin_rubric);
  bundle->add_option("--output,-o", o.output_path, "The zip to write")->capture_default_str();
  bundle->add_option("--variants", o.variants, "Inputs per generated case, one picked per student")
      ->capture_default_str()
      ->check(whole_number_from(int64_t{1}, kMaxVariants));
  bundle->add_option("--secret-from", o.secret_from,
                     "An earlier references file (or a bundle's references.json) whose secret to keep, so that "
                     "students keep their variants")
      ->check(existing_file());
  bundle->add_option("--language", o.language, "The student kit: cpp (backprop.cpp) or python (numpy, .py or .ipynb)")
      ->capture_default_str()
      ->check(one_of({"cpp", "python"}));
  bundle->add_option("--source", o.source_dir, "gradverify's source tree [default: the one this binary was built from]")
      ->check(existing_directory());
}

namespace {

void copy_into(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

int spawn_and_wait(const std::vector<std::string>& args, const std::string& cwd) {
  // zip takes relative paths, so run it in the staging directory: through sh, quoted.
  std::string command = "cd '" + cwd + "' && exec";
  for (const auto& a : args) command += " '" + a + "'";
  std::vector<std::string> argv_strings = {"sh", "-c", command};
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "sh", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Whether a program is on PATH, as posix_spawnp would find it.
bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  return false;
}

}  // namespace

int run_bundle(const BundleOptions& o) {
  // Everything that could stop the bundle at the end is checked before the work. The zip is
  // renamed onto its target, so the target must be a regular file or nothing: never a
  // device (-o /dev/null would replace it) or a directory.
  if (o.output_path.empty()) throw InputError("--output", "", "expected the path of the zip to write, got ''");
  std::error_code ec;
  const auto target = fs::symlink_status(o.output_path, ec);
  if (fs::exists(target) && !fs::is_regular_file(target) && !fs::is_directory(target))
    throw InputError(o.output_path, "", "is not a regular file; expected the path of a zip to write (or replace)");
  require_writable_file(o.output_path);
  if (!on_path("zip")) throw InputError("zip", "", "the bundle is a zip, and zip is not installed: apt-get install zip");
  const fs::path source = o.source_dir.empty() ? fs::path(GRADVERIFY_SOURCE_DIR) : fs::path(o.source_dir);
  for (const char* needed : {"CMakeLists.txt", "src/autograder/run_autograder", "src/student_kit/backprop.h"})
    if (!fs::exists(source / needed))
      throw InputError(source.string(), "", std::string("not gradverify's source tree (no ") + needed +
                                                "); pass --source with the checkout this binary came from");

  // The rubric, checked as grading would check it, and its references computed.
  const Rubric rubric = o.rubric_path.empty() ? builtin_rubric(o.builtin_rubric) : load_rubric(o.rubric_path);  // errors name the field
  nlohmann::json rubric_doc = o.rubric_path.empty() ? nlohmann::json::parse(builtin_rubric_json(o.builtin_rubric))
                                                     : nlohmann::json::parse(std::ifstream(o.rubric_path));
  const StoredReferences references = compute_references(
      rubric, torch_reference_source(), o.variants, o.secret_from.empty() ? "" : secret_of_references(o.secret_from));

  char staging_template[] = "/tmp/gradverify-bundle-XXXXXX";
  if (mkdtemp(staging_template) == nullptr) throw std::runtime_error("cannot create a staging directory in /tmp");
  const fs::path staging = staging_template;
  try {
    copy_into(source / "src/autograder/setup.sh", staging / "setup.sh");
    copy_into(source / "src/autograder/run_autograder", staging / "run_autograder");
    for (const char* script : {"build_kit_objects.sh", "build_submission.sh", "grade_prairielearn",
                               "prairielearn.Dockerfile"})
      copy_into(source / "src/autograder" / script, staging / script);
    // Keeps the question's hidden data out of PrairieLearn's image (a layer keeps what it copied).
    copy_into(source / "src/autograder/dockerignore", staging / ".dockerignore");
    if (o.language == "python") {
      for (const char* file : {"runner.py", "forward.py", "backprop.py", "backprop.ipynb"})
        copy_into(source / "src/student_kit_python" / file, staging / "student_kit" / file);
    } else {
      for (const char* file : {"backprop.h", "forward.cpp", "runner.cpp", "backprop.cpp", "CMakeLists.txt"})
        copy_into(source / "src/student_kit" / file, staging / "student_kit" / file);
    }
    std::ofstream(staging / "language") << o.language << "\n";
    // GitHub Classroom runs the handout's own workflow (docs/grading.md).
    copy_into(source / "src/autograder/classroom.yml", staging / "student_kit/.github/workflows/classroom.yml");
    for (const char* part : {"CMakeLists.txt", "cmake", "third_party", "include", "src"})
      copy_into(source / part, staging / "gradverify" / part);
    // Staff only, and not needed to grade.
    fs::remove_all(staging / "gradverify/src/student_kit_solution");
    fs::remove_all(staging / "gradverify/src/student_kit_python_solution");
    // Problem files the rubric names travel with it, under cases/.
    if (rubric_doc.contains("cases"))
      for (auto& c : rubric_doc["cases"])
        if (c.contains("problem_file")) {
          const fs::path original = fs::path(o.rubric_path).parent_path() / c["problem_file"].get<std::string>();
          const std::string bundled = "cases/" + original.filename().string();
          copy_into(original, staging / bundled);
          c["problem_file"] = bundled;
        }
    std::ofstream(staging / "rubric.json") << rubric_doc.dump(2) << "\n";
    // The bundled rubric (problem_file paths rewritten) is the one graded: its hash is checked.
    const Rubric bundled = load_rubric((staging / "rubric.json").string());
    StoredReferences stored = references;
    stored.rubric_sha256 = rubric_sha256(bundled);
    write_file((staging / "references.json").string(), references_to_json(stored), 0600);
    // Zipped beside the output, then renamed onto it: a stale bundle is replaced whole, never
    // updated in place, and a failed zip leaves the old one as it was. The name ends in .zip,
    // since zip adds it otherwise; the output keeps the name it was given.
    const fs::path output = fs::absolute(o.output_path);
    const fs::path partial = output.parent_path() / (".gradverify-bundle-" + std::to_string(getpid()) + ".zip");
    fs::remove(partial);
    const int zip_status = spawn_and_wait({"zip", "-q", "-r", partial.string(), "."}, staging.string());
    if (zip_status != 0) {
      fs::remove(partial);
      throw InputError(o.output_path, "", "zip failed with exit status " + std::to_string(zip_status));
    }
    fs::rename(partial, output);
    fs::remove_all(staging);
    std::cout << fmt::format("gradverify: wrote {} ({} cases, {:g} points, {} variant{} per generated case); upload it "
                             "as the autograder\n",
                             o.output_path, rubric.cases.size(), rubric.max_score(), o.variants,
                             o.variants == 1 ? "" : "s");
  } catch (...) {
    fs::remove_all(staging);
    throw;
  }
  return kPass;
}

}  // namespace gradverify::cli
