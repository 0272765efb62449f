// The tree shows the architecture, and these keep it so: the README's Layout table names every
// public header and source folder, LibTorch's headers stay in the torch folders, and CLI
// headers stay in the CLI.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path kSource = GRADVERIFY_SOURCE_DIR;

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The rows of the README's Layout table.
std::vector<std::string> layout_rows() {
  const std::string readme = read(kSource / "README.md");
  const auto start = readme.find("\n## Layout\n");
  const auto end = readme.find("\n## ", start + 1);
  std::vector<std::string> rows;
  std::istringstream section(readme.substr(start, end - start));
  for (std::string line; std::getline(section, line);)
    if (line.rfind("| `", 0) == 0) rows.push_back(line);
  return rows;
}

// Files under `dir` (relative to the source tree) whose name ends in one of `extensions`.
std::vector<fs::path> files_under(const std::string& dir, const std::set<std::string>& extensions) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(kSource / dir))
    if (entry.is_regular_file() && extensions.count(entry.path().extension().string()))
      files.push_back(fs::relative(entry.path(), kSource));
  return files;
}

bool starts_with(const fs::path& path, const std::string& prefix) { return path.generic_string().rfind(prefix, 0) == 0; }

TEST(Layout, TheReadmeTableNamesEveryPublicHeaderInTheRowOfItsFolder) {
  const auto rows = layout_rows();
  ASSERT_GT(rows.size(), 5u) << "no Layout table in README.md";
  const auto headers = files_under("include/gradverify", {".h"});
  ASSERT_GT(headers.size(), 20u);
  for (const fs::path& header : headers) {
    const std::string folder = "`" + header.parent_path().generic_string() + "/`";
    const std::string name = "`" + header.filename().string() + "`";
    bool listed = false;
    for (const auto& row : rows) listed = listed || (row.find(folder) != std::string::npos && row.find(name) != std::string::npos);
    EXPECT_TRUE(listed) << header << ": add " << name << " to the Layout row of " << folder << " in README.md";
  }
}

TEST(Layout, TheReadmeTableNamesEverySourceAndTestFolder) {
  const auto rows = layout_rows();
  for (const std::string top : {"src", "tests"})
    for (const auto& entry : fs::recursive_directory_iterator(kSource / top)) {
      if (!entry.is_directory()) continue;
      const fs::path dir = fs::relative(entry.path(), kSource);
      if (dir.generic_string().find("/regressions") != std::string::npos || starts_with(dir, "tests/data/")) continue;
      const std::string cell = "`" + dir.generic_string() + "/`";
      bool listed = false;
      for (const auto& row : rows) listed = listed || row.find(cell) != std::string::npos;
      EXPECT_TRUE(listed) << cell << " is not in README.md's Layout table";
    }
}

TEST(Layout, OnlyTheTorchFoldersIncludeLibTorch) {
  // LibTorch's headers take 13-16 s and ~1.1 GB to compile, and a process that loads it 0.4 s:
  // they stay where the torch target, its tests and the consumer example are.
  const std::vector<std::string> allowed = {"src/torch/", "include/gradverify/torch/", "tests/torch/", "examples/"};
  // LibTorch's own headers, and gradverify's two that include them.
  const std::regex torch_include(R"re(#include\s*[<"](torch/|ATen/|c10/|gradverify/torch/(mlp_twin|op_check)\.h))re");
  int torch_files = 0;
  for (const std::string top : {"src", "include", "tests", "examples"})
    for (const fs::path& file : files_under(top, {".h", ".cpp"})) {
      if (!std::regex_search(read(kSource / file), torch_include)) continue;
      ++torch_files;
      bool inside = false;
      for (const auto& prefix : allowed) inside = inside || starts_with(file, prefix);
      EXPECT_TRUE(inside) << file << " includes LibTorch's headers outside src/torch/, include/gradverify/torch/, "
                          << "tests/torch/ and examples/";
    }
  EXPECT_GE(torch_files, 3) << "the check found no file including LibTorch at all: it proves nothing";
}

TEST(Layout, CliHeadersStayInTheCli) {
  std::vector<std::string> cli_headers;
  for (const fs::path& header : files_under("src/cli", {".h"})) cli_headers.push_back(header.filename().string());
  ASSERT_FALSE(cli_headers.empty());
  for (const std::string top : {"src", "include", "tests"})
    for (const fs::path& file : files_under(top, {".h", ".cpp"})) {
      if (starts_with(file, "src/cli/")) continue;
      const std::string text = read(kSource / file);
      for (const auto& header : cli_headers) {
        // By name, with any path in front: "output.h", "cli/output.h", "../cli/output.h".
        const std::regex include("#include\\s*\"([^\"]*/)?" + header + "\"");
        EXPECT_FALSE(std::regex_search(text, include)) << file << " includes the CLI's " << header;
      }
    }
}

}  // namespace
