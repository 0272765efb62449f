#include "plots.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gradverify/errors.h"
#include "output.h"

extern char** environ;

namespace gradverify::cli {
namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The last `most` bytes of a file, lines joined with "; ": what gnuplot said.
std::string tail_of(const std::string& path, size_t most) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > most) text = "..." + text.substr(text.size() - most);
  std::string joined;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(" \t^") == std::string::npos) continue;  // gnuplot's caret under the error
    joined += (joined.empty() ? "" : "; ") + line.substr(line.find_first_not_of(' '));
  }
  return joined;
}

// Runs `gnuplot script` with its output discarded; false when gnuplot is missing or fails,
// with gnuplot's own error in `error`.
bool run_gnuplot(const std::string& script_path, std::string& error) {
  char errors_template[] = "/tmp/gradverify-gnuplot-XXXXXX";
  const int errors_fd = mkstemp(errors_template);
  const std::string errors_path = errors_fd >= 0 ? errors_template : "/dev/null";
  if (errors_fd >= 0) close(errors_fd);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, errors_path.c_str(), O_WRONLY | O_TRUNC, 0);
  const char* argv[] = {"gnuplot", script_path.c_str(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "gnuplot", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    if (errors_fd >= 0) unlink(errors_path.c_str());
    error = spawned == ENOENT ? "gnuplot is not installed (apt-get install gnuplot-nox)"
                              : std::string("gnuplot could not start: ") + std::strerror(spawned);
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string said = errors_fd >= 0 ? tail_of(errors_path, 600) : "";
  if (errors_fd >= 0) unlink(errors_path.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error = "gnuplot failed on " + script_path + (said.empty() ? "" : ": " + said);
    return false;
  }
  return true;
}

}  // namespace

std::string gnuplot_quoted(const std::string& text) { return "'" + replace_all(text, "'", "''") + "'"; }

std::string gnuplot_double_quoted(const std::string& text) {
  return "\"" + replace_all(replace_all(text, "\\", "\\\\"), "\"", "\\\"") + "\"";
}

PlotResult write_plot(const std::string& dir, const std::string& name, const std::string& data,
                      const std::string& script) {
  if (mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw InputError(dir, "", std::string("cannot create the plot directory: ") + std::strerror(errno));
  PlotResult r;
  r.data_path = dir + "/" + name + ".csv";
  r.script_path = dir + "/" + name + ".gp";
  r.image_path = dir + "/" + name + ".png";
  write_file(r.data_path, data);
  const std::string data_path = std::filesystem::absolute(r.data_path).string();
  const std::string image_path = std::filesystem::absolute(r.image_path).string();
  write_file(r.script_path,
             replace_all(replace_all(script, "@DATA@", gnuplot_quoted(data_path)), "@IMAGE@", gnuplot_quoted(image_path)));
  std::string error;
  r.rendered = run_gnuplot(r.script_path, error);
  r.message = r.rendered ? "wrote " + r.image_path
                         : error + "; the data is in " + r.data_path + ", plot it with: gnuplot " + r.script_path;
  if (!r.rendered) r.image_path.clear();
  return r;
}

}  // namespace gradverify::cli
