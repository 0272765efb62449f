#include "support/run_command.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace gradverify::testing {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "gv_" + name; }

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string machine_temp_dir(const std::string& name) {
  // Removed by a static's destructor at exit, however the test ended short of a crash.
  // Only by the process that made them: a forked child that exits must not remove them.
  static struct Made {
    std::vector<std::string> paths;
    pid_t owner = getpid();
    ~Made() {
      if (getpid() != owner) return;
      for (const auto& p : paths) {
        std::error_code ignored;
        std::filesystem::remove_all(p, ignored);
      }
    }
  } made;
  const std::string path = "/tmp/gradverify-" + name + "-" + std::to_string(getpid());
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  if (std::find(made.paths.begin(), made.paths.end(), path) == made.paths.end()) made.paths.push_back(path);
  return path;
}

CommandRun run_shell(const std::string& command_line) {
  // One stderr file per test process: ctest -j runs several of these at once.
  const std::string err_path = temp_path("stderr_" + std::to_string(getpid()) + ".txt");
  const std::string command = command_line + " 2>" + err_path;
  CommandRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return run;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) run.out.append(buf.data(), n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = slurp(err_path);
  return run;
}

int processes_with(const std::string& marker) {
  int count = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* entry = readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::string cmdline = slurp("/proc/" + std::string(entry->d_name) + "/cmdline");
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    if (cmdline.find(marker) != std::string::npos) ++count;
  }
  closedir(proc);
  return count;
}

}  // namespace gradverify::testing
