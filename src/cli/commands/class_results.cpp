#include "class_results.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <type_traits>

#include "gradverify/errors.h"

namespace gradverify::cli {
namespace {

// A CSV field, safe in a spreadsheet too: control characters escaped (printable), and a field
// a spreadsheet would read as a formula (=, +, -, @ first) given a leading apostrophe.
std::string csv_field(const std::string& raw) {
  std::string s = printable(raw);
  if (!s.empty() && std::string("=+-@").find(s[0]) != std::string::npos) s = "'" + s;
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

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

ShardManifest read_shard_manifest(const std::string& directory) {
  const std::string path = (std::filesystem::path(directory) / "shard.json").string();
  std::ifstream in(path);
  if (!in) throw InputError(directory, "", "not a shard's results (no shard.json): `grade --shard K/N -o DIR` writes one");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, "", std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object() || doc.value("format", "") != "gradverify-shard")
    throw InputError(path, "format", "expected \"gradverify-shard\": not a shard manifest");
  // Each field read as its type, or refused with its name.
  const auto field = [&](const char* key, auto value) {
    try {
      return doc.at(key).get<decltype(value)>();
    } catch (const nlohmann::json::exception&) {
      throw InputError(path, key, "missing, or not " + std::string(std::is_same_v<decltype(value), int> ? "an integer"
                                                             : std::is_same_v<decltype(value), std::string> ? "a string"
                                                                                              : "a list of strings"));
    }
  };
  ShardManifest m;
  m.shard = {field("shard", 0), field("shards", 0)};
  m.rubric = field("rubric", std::string());
  m.rubric_sha256 = field("rubric_sha256", std::string());
  m.format = field("results_format", std::string());
  m.header = field("header", std::string());
  m.students = field("students", std::vector<std::string>());
  m.rows = field("rows", std::vector<std::string>());
  if (m.shard.count < 1 || m.shard.index < 1 || m.shard.index > m.shard.count)
    throw InputError(path, "shard", fmt::format("shard {} of {}: expected 1 <= shard <= shards", m.shard.index, m.shard.count));
  for (const auto& student : m.students)  // folder names: a path would copy from or to elsewhere
    if (student.empty() || student == "." || student == ".." || student.find('/') != std::string::npos)
      throw InputError(path, "students", "'" + student + "' is not a folder name");
  if (m.students.size() != m.rows.size()) throw InputError(path, "rows", "one summary row per student expected");
  return m;
}

}  // namespace gradverify::cli
