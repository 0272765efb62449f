#include "plots.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

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

// Runs `gnuplot script` with its output discarded; false when gnuplot is missing or fails.
bool run_gnuplot(const std::string& script_path, std::string& error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  const char* argv[] = {"gnuplot", script_path.c_str(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "gnuplot", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    error = spawned == ENOENT ? "gnuplot is not installed (apt-get install gnuplot-nox)"
                              : std::string("gnuplot could not start: ") + std::strerror(spawned);
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error = "gnuplot failed on " + script_path;
    return false;
  }
  return true;
}

}  // namespace

PlotResult write_plot(const std::string& dir, const std::string& name, const std::string& data,
                      const std::string& script) {
  if (mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw InputError(dir, "", std::string("cannot create the plot directory: ") + std::strerror(errno));
  PlotResult r;
  r.data_path = dir + "/" + name + ".csv";
  r.script_path = dir + "/" + name + ".gp";
  r.image_path = dir + "/" + name + ".png";
  write_file(r.data_path, data);
  write_file(r.script_path, replace_all(replace_all(script, "@DATA@", r.data_path), "@IMAGE@", r.image_path));
  std::string error;
  r.rendered = run_gnuplot(r.script_path, error);
  r.message = r.rendered ? "wrote " + r.image_path
                         : error + "; the data is in " + r.data_path + ", plot it with: gnuplot " + r.script_path;
  if (!r.rendered) r.image_path.clear();
  return r;
}

}  // namespace gradverify::cli
