#include "gradverify/grading/fingerprint.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "grading/digest.h"

namespace gradverify {

namespace fs = std::filesystem;

std::string text_sha256(const std::string& text) { return detail::sha256_hex(text); }

std::string folder_sha256(const std::string& directory) {
  std::vector<std::string> entries;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(directory, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    const fs::file_status status = it->symlink_status();
    const std::string relative = fs::relative(it->path(), directory, error).string();
    if (fs::is_symlink(status)) {
      entries.push_back("link\n" + relative + "\n" + fs::read_symlink(it->path(), error).string());
    } else if (fs::is_regular_file(status)) {
      std::ifstream in(it->path(), std::ios::binary);
      std::stringstream contents;
      contents << in.rdbuf();
      entries.push_back("file\n" + relative + "\n" + detail::sha256_hex(contents.str()));
    }
  }
  if (error) entries.push_back("unreadable\n" + error.message());  // never equal to a readable folder's
  std::sort(entries.begin(), entries.end());
  std::string all;
  for (const auto& e : entries) all += e + "\n\n";
  return detail::sha256_hex(all);
}

AnswerFingerprint answer_fingerprint(const Tensor& answer) {
  std::string text = "shape";
  for (const int64_t d : answer.shape) text += " " + std::to_string(d);
  std::set<std::string> distinct;
  for (const double v : answer.values) {
    const std::string shown = std::isnan(v) ? "nan" : std::isinf(v) ? (v > 0 ? "inf" : "-inf")
                                                     : fmt::format("{:.5e}", v == 0 ? 0.0 : v);
    distinct.insert(shown);
    text += "\n" + shown;
  }
  return {detail::sha256_hex(text).substr(0, 16), static_cast<int64_t>(distinct.size())};
}

}  // namespace gradverify
