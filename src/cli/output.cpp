#include "output.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>

#include "gradverify/check/check.h"
#include "gradverify/errors.h"

namespace gradverify::cli {

int exit_code(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass: return kPass;
    case Verdict::fail: return kMismatch;
    case Verdict::vacuous: return kVacuous;
  }
  return kMismatch;
}

namespace {

// A terminal, a pipe or a device such as /dev/null or /dev/stdout: written in place, since a
// rename would replace it with a regular file (as root, /dev/null itself). Only a character
// device or a FIFO, and through a symlink only under /dev: a link planted elsewhere is
// replaced, never followed to a device.
bool written_in_place(const std::string& path) {
  struct stat link {}, target {};
  if (lstat(path.c_str(), &link) != 0 || stat(path.c_str(), &target) != 0) return false;
  if (!S_ISCHR(target.st_mode) && !S_ISFIFO(target.st_mode)) return false;
  return !S_ISLNK(link.st_mode) || path.rfind("/dev/", 0) == 0;
}

void write_all(int fd, const std::string& text, size_t& written) {
  written = 0;
  errno = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
}

}  // namespace

void write_file(const std::string& path, const std::string& text, unsigned mode) {
  if (written_in_place(path)) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) throw InputError(path, "", std::string("cannot write to it: ") + std::strerror(errno));
    size_t written = 0;
    write_all(fd, text, written);
    const int error = errno;
    ::close(fd);
    if (written != text.size()) throw InputError(path, "", std::string("cannot write to it: ") + std::strerror(error ? error : EIO));
    return;
  }
  // A fresh temporary name (mkstemp, O_EXCL) in the same directory, then rename: readers see
  // the old file or the whole new one, and nothing placed at a predictable name is followed.
  std::string tmp = path + ".XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) throw InputError(path, "", std::string("cannot write the file: ") + std::strerror(errno));
  size_t written = 0;
  write_all(fd, text, written);
  // The descriptor is closed whatever went wrong, and errno kept from the first failure.
  bool ok = written == text.size() && fchmod(fd, static_cast<mode_t>(mode)) == 0;
  int error = ok ? 0 : errno;
  if (::close(fd) != 0 && ok) ok = false, error = errno;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) ok = false, error = errno;
  if (!ok) {
    const std::string reason = std::strerror(error != 0 ? error : EIO);
    std::remove(tmp.c_str());
    throw InputError(path, "", "cannot write the file: " + reason);
  }
}

void require_writable_file(const std::string& path) {
  if (path.empty()) return;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw InputError(path, "", "is a directory; expected the path of a file to write");
  if (written_in_place(path)) {
    // access, not open: opening a FIFO to write waits for its reader.
    if (access(path.c_str(), W_OK) != 0) throw InputError(path, "", std::string("cannot write to it: ") + std::strerror(errno));
    return;
  }
  // The very temporary file write_file will make, made and removed now.
  std::string probe = path + ".XXXXXX";
  const int fd = mkstemp(probe.data());
  if (fd < 0) throw InputError(path, "", std::string("cannot write the file: ") + std::strerror(errno));
  ::close(fd);
  std::remove(probe.c_str());
}

void require_writable_directory(const std::string& path, const std::string& what) {
  if (path.empty()) return;
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error || !std::filesystem::is_directory(path))
    throw InputError(path, "", error ? "cannot create the " + what + ": " + error.message()
                                     : "is not a directory; expected the " + what);
  if (access(path.c_str(), W_OK | X_OK) != 0)
    throw InputError(path, "", "cannot write into the " + what + ": " + std::strerror(errno));
}

Progress::Progress(bool quiet) : quiet_(quiet), terminal_(isatty(STDERR_FILENO) != 0) {}

void Progress::finish() {
  if (line_open_) std::cerr << "\n";
  line_open_ = false;
}

void Progress::update(const std::string& line, size_t done, size_t total) {
  if (quiet_) return;
  if (terminal_) {
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (done < total && now - last_shown_ < 0.1) return;
    last_shown_ = now;
    std::cerr << "\r" << line << "\033[K" << std::flush;  // \033[K: clear what a longer line left
    line_open_ = true;
    return;
  }
  const size_t tenth = total == 0 ? 10 : 10 * done / total;
  if (tenth == last_tenth_ && done < total) return;
  last_tenth_ = tenth;
  std::cerr << line << "\n" << std::flush;
}

std::string written_to(const std::string& outcome, const std::string& output_path) {
  return "gradverify: " + outcome + "; report written to " + output_path;
}

namespace {
ColorMode color_mode = ColorMode::automatic;
}  // namespace

void set_color_mode(ColorMode mode) { color_mode = mode; }

bool colour_enabled() {
  if (color_mode != ColorMode::automatic) return color_mode == ColorMode::always;
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return isatty(STDOUT_FILENO) && !(no_color && *no_color) && term && std::string(term) != "dumb";
}

std::string with_colour(const std::string& text) {
  if (!colour_enabled()) return text;
  static const std::regex verdict(R"(\b(FAIL|VACUOUS|PASS|LOCKSTEP|DISAGREES)\b)");
  std::string out;
  std::sregex_iterator it(text.begin(), text.end(), verdict), end;
  size_t at = 0;
  for (; it != end; ++it) {
    const std::string word = (*it)[1];
    const char* code = word == "FAIL" || word == "DISAGREES" ? "\033[1;31m" : word == "VACUOUS" ? "\033[1;33m" : "\033[1;32m";
    out += text.substr(at, static_cast<size_t>(it->position()) - at) + code + word + "\033[0m";
    at = static_cast<size_t>(it->position() + it->length());
  }
  return out + text.substr(at);
}

namespace {

// Columns a UTF-8 string takes: its code points (every one of ours is one column wide).
size_t columns_of(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

size_t terminal_width() {
  if (!isatty(STDOUT_FILENO)) return 0;
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  const char* columns = std::getenv("COLUMNS");
  return columns ? static_cast<size_t>(std::max(0L, std::strtol(columns, nullptr, 10))) : 0;
}

std::string wrapped(const std::string& text, size_t width) {
  if (width < 40) return text;  // too narrow to help; leave the lines whole
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t indent = line.find_first_not_of(' ');
    // A table row has columns: runs of spaces inside it. Those, and short lines, stay whole.
    if (columns_of(line) <= width || indent == std::string::npos || line.find("   ", indent) != std::string::npos) {
      out += line + "\n";
      continue;
    }
    const std::string hanging(indent + 4, ' ');
    std::string current = line.substr(0, indent);
    bool first_word = true;
    std::istringstream words(line.substr(indent));
    for (std::string word; words >> word;) {
      if (!first_word && columns_of(current) + 1 + columns_of(word) > width) {
        out += current + "\n";
        current = hanging + word;
      } else {
        current += (first_word ? "" : " ") + word;
      }
      first_word = false;
    }
    out += current + "\n";
  }
  if (!text.empty() && text.back() != '\n' && !out.empty()) out.pop_back();
  return out;
}

void write_output(const std::string& text, const std::string& output_path, const std::string& notice,
                  Audience audience) {
  if (output_path.empty()) {
    std::cout << (audience == Audience::people ? with_colour(wrapped(text, terminal_width())) : text);
    return;
  }
  try {
    write_file(output_path, text);
  } catch (const InputError& e) {
    // Checked before the work began, and unwritable now (the disk filled, or a directory was
    // planted at the path): the work is not thrown away, it goes to stdout, and the error
    // says where it went.
    std::cout << text << std::flush;
    throw InputError(output_path, "", std::string(e.what()).substr(output_path.size() + 2) +
                                          "; the report was written to stdout instead");
  }
  std::cout << notice << "\n";
}

}  // namespace gradverify::cli
