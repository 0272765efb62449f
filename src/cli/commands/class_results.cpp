#include "class_results.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>

#include "core/problem/json_tensor.h"
#include "gradverify/errors.h"
#include "output.h"

namespace gradverify::cli {

std::string csv_field(const std::string& raw) {
  std::string s = printable(raw);
  if (!s.empty() && std::string("=+-@").find(s[0]) != std::string::npos) s = "'" + s;
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  Shard s;
  try {
    size_t used = 0;
    if (slash == std::string::npos) throw std::invalid_argument("no /");
    s.index = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("K");
    s.count = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument("N");
  } catch (const std::exception&) {
    throw InputError("--shard", "", "expected K/N, shard K of N (e.g. 2/8), got '" + text + "'");
  }
  if (s.count < 1 || s.count > 100000 || s.index < 1 || s.index > s.count)
    throw InputError("--shard", "", fmt::format("expected K/N with 1 <= K <= N <= 100000, got '{}'", text));
  return s;
}

std::vector<std::string> shard_students(const std::vector<std::string>& sorted, const Shard& shard) {
  std::vector<std::string> mine;
  for (size_t i = static_cast<size_t>(shard.index - 1); i < sorted.size(); i += static_cast<size_t>(shard.count))
    mine.push_back(sorted[i]);
  return mine;
}

std::string results_extension(const std::string& format) {
  return format == "junit" ? "xml" : format == "table" ? "txt" : "json";
}

std::string summary_header(const Rubric& rubric) {
  std::string header = "student,total";
  for (const auto& c : rubric.cases) header += "," + csv_field(c.name);
  return header;
}

std::string summary_row(const std::string& student, const GradeResult& result) {
  std::string row = csv_field(student) + fmt::format(",{:g}", result.score);
  for (const auto& c : result.cases) row += fmt::format(",{:g}", c.score);
  return row;
}

std::string summary_csv(const std::string& header, const std::vector<std::string>& rows) {
  std::string csv = header + "\n";
  for (const auto& row : rows) csv += row + "\n";
  return csv;
}

std::string shard_manifest_json(const ShardManifest& m) {
  nlohmann::json doc = {{"format", "gradverify-shard"}, {"shard", m.shard.index},  {"shards", m.shard.count},
                        {"rubric", m.rubric},           {"rubric_sha256", m.rubric_sha256}, {"results_format", m.format},
                        {"header", m.header},           {"students", m.students},  {"rows", m.rows}};
  return doc.dump(2) + "\n";
}

std::string shard_manifest_path(const std::string& directory) {
  return (std::filesystem::path(directory) / "gradverify-shard" / "manifest.json").string();
}

ShardManifest read_shard_manifest(const std::string& directory) {
  const std::string path = shard_manifest_path(directory);
  if (!std::filesystem::is_regular_file(path))
    throw InputError(directory, "",
                     "not a shard's results (no gradverify-shard/manifest.json): `grade --shard K/N -o DIR` writes one");
  const nlohmann::json doc = detail::parse_json_file(path);  // its limits, and errors naming the place
  if (!doc.is_object() || !doc.contains("format") || doc["format"] != "gradverify-shard")
    throw InputError(path, "format", "expected \"gradverify-shard\": not a shard manifest");
  const auto missing = [&](const char* key, const char* expected) {
    return InputError(path, key, std::string("missing, or not ") + expected);
  };
  const auto integer = [&](const char* key) {
    const auto v = doc.contains(key) ? detail::exact_integer(doc[key]) : std::nullopt;
    if (!v || *v < 1 || *v > 100000) throw missing(key, "an integer from 1 to 100000");
    return static_cast<int>(*v);
  };
  const auto text = [&](const char* key) {
    if (!doc.contains(key) || !doc[key].is_string()) throw missing(key, "a string");
    return doc[key].get<std::string>();
  };
  const auto texts = [&](const char* key) {
    std::vector<std::string> out;
    if (!doc.contains(key) || !doc[key].is_array()) throw missing(key, "a list of strings");
    for (const auto& v : doc[key]) {
      if (!v.is_string()) throw missing(key, "a list of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  };
  ShardManifest m;
  m.shard = {integer("shard"), integer("shards")};
  m.rubric = text("rubric");
  m.rubric_sha256 = text("rubric_sha256");
  m.format = text("results_format");
  m.header = text("header");
  m.students = texts("students");
  m.rows = texts("rows");
  if (m.shard.index > m.shard.count)
    throw InputError(path, "shard", fmt::format("shard {} of {}: expected shard <= shards", m.shard.index, m.shard.count));
  for (const auto& student : m.students)  // folder names: a path would copy from or to elsewhere
    if (student.empty() || student == "." || student == ".." || student.find('/') != std::string::npos)
      throw InputError(path, "students", "'" + student + "' is not a folder name");
  if (m.students.size() != m.rows.size()) throw InputError(path, "rows", "one summary row per student expected");
  return m;
}

// ---- the journal -----------------------------------------------------------------------------

namespace {

namespace fs = std::filesystem;

fs::path entry_path(const std::string& output, const std::string& student) {
  return fs::path(journal_directory(output)) / "students" / (student + ".json");
}

// A folder name as JSON holds it: bytes that are not UTF-8 replaced (U+FFFD), as dump() writes them.
std::string as_json_text(const std::string& name) {
  return nlohmann::json::parse(nlohmann::json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
      .get<std::string>();
}

// The journal holds the hidden cases' seeds and references: its owner's alone, as the rubric.
void make_private_directory(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw InputError(dir.string(), "", "cannot create the journal: " + error.message());
  fs::permissions(dir, fs::perms::owner_all, error);
}

std::optional<JournalEntry> parse_entry(const fs::path& path, std::string* why) {
  try {
    const nlohmann::json doc = detail::parse_json_file(path.string());
    JournalEntry e;
    e.student = doc.at("student").get<std::string>();
    e.source_sha256 = doc.at("source_sha256").get<std::string>();
    e.variant = doc.at("variant").get<int64_t>();
    e.summary_row = doc.at("summary_row").get<std::string>();
    e.grader_error = doc.at("grader_error").get<std::string>();
    const nlohmann::json& results = doc.at("results");
    if (!results.is_object() || !results.contains("cases") || !results["cases"].is_array() ||
        !results.contains("score") || !results["score"].is_number())
      throw std::invalid_argument("results: not gradverify's results of a submission");
    e.results_json = results.dump();
    return e;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return std::nullopt;
  }
}

}  // namespace

std::string class_run_difference(const ClassRun& here, const ClassRun& journal) {
  for (const auto& [field, mine, theirs] :
       {std::tuple{"rubric_sha256", here.rubric_sha256, journal.rubric_sha256},
        std::tuple{"references_sha256", here.references_sha256, journal.references_sha256},
        std::tuple{"submission_cmd", here.submission_cmd, journal.submission_cmd},
        std::tuple{"format", here.format, journal.format},
        std::tuple{"gradverify_version", here.gradverify_version, journal.gradverify_version},
        std::tuple{"settings", here.settings, journal.settings}, std::tuple{"shard", here.shard, journal.shard},
        std::tuple{"class_folder", here.class_folder, journal.class_folder}})
    if (mine != theirs) return fmt::format("{} '{}' here, '{}' in the journal", field, printable(mine), printable(theirs));
  return "";
}

std::string journal_directory(const std::string& output) { return (fs::path(output) / "gradverify-journal").string(); }

std::optional<ClassRun> read_class_run(const std::string& output) {
  const std::string path = (fs::path(journal_directory(output)) / "run.json").string();
  std::error_code error;
  if (!fs::exists(fs::symlink_status(path, error))) return std::nullopt;
  const nlohmann::json doc = detail::parse_json_file(path);
  const auto text = [&](const char* key) {
    if (!doc.is_object() || !doc.contains(key) || !doc[key].is_string())
      throw InputError(path, key, "missing, or not a string: not a class run's journal (--fresh starts a new one)");
    return doc[key].get<std::string>();
  };
  return ClassRun{text("rubric_sha256"), text("references_sha256"), text("submission_cmd"),
                  text("format"),        text("gradverify_version"), text("settings"),
                  text("shard"),         text("class_folder")};
}

void write_class_run(const std::string& output, const ClassRun& run) {
  make_private_directory(journal_directory(output));
  make_private_directory(fs::path(journal_directory(output)) / "students");
  const nlohmann::json doc = {{"rubric_sha256", run.rubric_sha256}, {"references_sha256", run.references_sha256},
                              {"submission_cmd", run.submission_cmd}, {"format", run.format},
                              {"gradverify_version", run.gradverify_version}, {"settings", run.settings},
                              {"shard", run.shard}, {"class_folder", run.class_folder}};
  write_file((fs::path(journal_directory(output)) / "run.json").string(),
             doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", 0600);
}

void remove_journal(const std::string& output) {
  std::error_code error;  // its record; the lock, held by this run, stays
  fs::remove(fs::path(journal_directory(output)) / "run.json", error);
  if (!error) fs::remove_all(fs::path(journal_directory(output)) / "students", error);
  if (error) throw InputError(journal_directory(output), "", "cannot remove the journal: " + error.message());
}

std::optional<JournalEntry> read_journal_entry(const std::string& output, const std::string& student) {
  const fs::path path = entry_path(output, student);
  std::error_code error;
  if (!fs::is_regular_file(fs::symlink_status(path, error))) return std::nullopt;
  auto entry = parse_entry(path, nullptr);  // not one this grader wrote: the student is graded again
  if (!entry || entry->student != as_json_text(student)) return std::nullopt;
  entry->student = student;
  return entry;
}

void write_journal_entry(const std::string& output, const JournalEntry& e) {
  const nlohmann::json doc = {{"student", e.student},         {"source_sha256", e.source_sha256},
                              {"variant", e.variant},         {"summary_row", e.summary_row},
                              {"grader_error", e.grader_error}, {"results", nlohmann::json::parse(e.results_json)}};
  make_private_directory(entry_path(output, e.student).parent_path());
  write_file(entry_path(output, e.student).string(),
             doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", 0600);
}

namespace {

// The students the journal has an entry for, by its file names.
std::vector<std::string> journal_students(const std::string& output) {
  std::vector<std::string> students;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(journal_directory(output)) / "students", error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) students.push_back(name.substr(0, name.size() - 5));
  }
  std::sort(students.begin(), students.end());
  return students;
}

}  // namespace

void prune_journal(const std::string& output, const std::vector<std::string>& students) {
  const std::set<std::string> current(students.begin(), students.end());
  for (const auto& s : journal_students(output))
    if (!current.count(s)) {
      std::error_code error;
      fs::remove(entry_path(output, s), error);
    }
}

std::vector<JournalEntry> read_journal(const std::string& output) {
  std::vector<JournalEntry> entries;
  for (const auto& s : journal_students(output)) {
    std::string why;
    auto e = parse_entry(entry_path(output, s), &why);
    if (!e)
      throw InputError(entry_path(output, s).string(), "",
                       "not a journal entry gradverify wrote (" + why + "): run the class's grade again to regrade it");
    e->student = s;
    entries.push_back(std::move(*e));
  }
  return entries;
}

JournalLock::JournalLock(const std::string& output) {
  make_private_directory(journal_directory(output));
  const std::string path = (fs::path(journal_directory(output)) / "lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw InputError(path, "", std::string("cannot open the journal's lock: ") + std::strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw InputError(output, "", "another gradverify grade is writing into it now: wait for it, or give another --output");
  }
}

JournalLock::~JournalLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace gradverify::cli
