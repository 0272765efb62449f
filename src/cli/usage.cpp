#include "usage.h"

#include "gradverify/grading/rubric.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

namespace gradverify::cli {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + item;
  return s;
}

// A bound as a person writes it: 1000, 0.1, 4294967295.
std::string bound(double v) {
  return std::floor(v) == v && std::fabs(v) < 1e15 ? fmt::format("{:.0f}", v) : fmt::format("{:g}", v);
}

std::optional<double> as_number(const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The names of a command's options, as typed: "--layers", "-o", ...
std::vector<std::string> option_names(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options()) {
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
    for (const auto& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

// The command that ran: the parsed subcommand, or the app itself.
const CLI::App& command_run(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return *sub;
  return app;
}

std::string command_prefix(const CLI::App& app) {
  const CLI::App& command = command_run(app);
  return &command == &app ? "" : command.get_name() + ": ";
}

}  // namespace

CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto v = as_number(text);
        return v && *v >= 0 ? "" : "expected a number ≥ 0, got '" + text + "'";
      },
      "", "non_negative_number");
}

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto v = as_number(text);
        return v && *v > 0 ? "" : "expected a number > 0, got '" + text + "'";
      },
      "", "positive_number");
}

CLI::Validator number_from(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const auto v = as_number(text);
        return v && *v >= lo && *v <= hi ? "" : fmt::format("expected a number from {} to {}, got '{}'", bound(lo), bound(hi), text);
      },
      "", "number_from");
}

CLI::Validator whole_number_from(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const auto v = as_number(text);
        const bool whole = v && std::floor(*v) == *v && text.find_first_of(".eE") == std::string::npos;
        return whole && *v >= static_cast<double>(lo) && *v <= static_cast<double>(hi)
                   ? ""
                   : fmt::format("expected a whole number from {} to {}, got '{}'", lo, hi, text);
      },
      "", "whole_number_from");
}

CLI::Validator one_of(std::vector<std::string> choices) {
  return CLI::Validator(
      [choices](std::string& text) -> std::string {
        if (std::find(choices.begin(), choices.end(), text) != choices.end()) return "";
        const auto meant = closest(text, choices);
        return fmt::format("expected one of {}, got '{}'{}", joined(choices), text,
                           meant ? "; did you mean " + *meant + "?" : "");
      },
      "", "one_of");
}

CLI::Validator existing_file() {
  return CLI::Validator(
      [](std::string& path) -> std::string {
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec)) return "expected a file, got the directory '" + path + "'";
        if (std::filesystem::exists(path, ec)) return "";  // a file, a device or a pipe: read as a file
        return "no such file: '" + path + "'";
      },
      "", "existing_file");
}

CLI::Option* add_rubric_option(CLI::App* command, std::string& path, std::string& builtin) {
  const CLI::Validator file_or_builtin(
      [](std::string& text) -> std::string {
        const auto name = builtin_rubric_named(text);
        if (!name) {
          const std::string problem = existing_file()(text);
          const auto& names = builtin_rubric_names();
          if (!problem.empty() && std::find(names.begin(), names.end(), text) != names.end())
            return problem + "; did you mean builtin:" + text + "?";
          return problem;
        }
        const auto& names = builtin_rubric_names();
        if (std::find(names.begin(), names.end(), *name) != names.end()) return "";
        const auto meant = closest(*name, names);
        return fmt::format("no built-in rubric is named '{}'; there are {}{}", *name, builtin_rubric_list(),
                           meant ? "; did you mean builtin:" + *meant + "?" : "");
      },
      "", "rubric");
  return command
      ->add_option_function<std::string>(
          "--rubric",
          [&path, &builtin](const std::string& value) {
            const auto name = builtin_rubric_named(value);
            path = name ? "" : value;
            builtin = name.value_or(builtin);
          },
          fmt::format("A rubric file, or builtin:NAME for a built-in one ({}) [default: builtin:lab, the first "
                      "lab's]",
                      builtin_rubric_list()))
      ->check(file_or_builtin);
}

CLI::Validator existing_directory() {
  return CLI::Validator(
      [](std::string& path) -> std::string {
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec)) return "";
        if (std::filesystem::exists(path, ec)) return "expected a directory, got the file '" + path + "'";
        return "no such directory: '" + path + "'";
      },
      "", "existing_directory");
}

std::optional<std::string> closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = 3;  // within two edits
  for (const auto& c : candidates) {
    const size_t d = c.rfind(word, 0) == 0 && word.size() >= 3 ? 1 : edit_distance(word, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  return best;
}

void collect_unknown_arguments(CLI::App& app) {
  app.allow_extras();
  for (CLI::App* sub : app.get_subcommands({})) sub->allow_extras();
}

std::optional<std::string> unknown_arguments(const CLI::App& app) {
  const CLI::App& command = command_run(app);
  std::vector<std::string> extra = command.remaining();
  if (&command != &app) {
    const auto more = app.remaining();
    extra.insert(extra.end(), more.begin(), more.end());
  }
  if (extra.empty()) return std::nullopt;
  for (const auto& arg : extra) {
    if (arg.size() < 2 || arg[0] != '-') continue;
    const std::string name = arg.substr(0, arg.find('='));
    // A one-letter option is within two edits of any other: only long ones get a guess.
    std::vector<std::string> names = option_names(command);
    if (&command != &app) {  // the app's own options (--color) are taken after a command too
      const auto own = option_names(app);
      names.insert(names.end(), own.begin(), own.end());
    }
    const auto meant = name.size() > 2 ? closest(name, names) : std::nullopt;
    return fmt::format("{}unknown option {}{}", command_prefix(app), name, meant ? "; did you mean " + *meant + "?" : "");
  }
  return fmt::format("{}unexpected argument '{}': {} takes options only (see --help)", command_prefix(app),
                     extra.front(), &command == &app ? "gradverify" : command.get_name());
}

std::string usage_message(const CLI::App& app, const CLI::ParseError& error) {
  std::string what = error.what();
  // "--layers: 1 required TEXT missing": the option came last, without its value.
  static const std::regex value_missing(R"(^(-{1,2}[A-Za-z0-9-]+): \d+ required \S+ missing$)");
  std::smatch m;
  if (std::regex_match(what, m, value_missing)) what = m[1].str() + ": expected a value after it";
  // "Could not convert: --seed = abc"
  static const std::regex not_converted(R"(^Could not convert: (\S+) = (.*)$)");
  if (std::regex_match(what, m, not_converted)) {
    const CLI::Option* option = nullptr;
    try {
      option = command_run(app).get_option(m[1].str());
    } catch (const CLI::Error&) {
    }
    const bool whole = option && option->get_type_name().find("INT") != std::string::npos;
    what = fmt::format("{}: expected {}, got '{}'", m[1].str(), whole ? "a whole number" : "a number", m[2].str());
  }
  // "--rtol: At Most 1 required but received 2"
  static const std::regex repeated(R"(^(\S+): At Most \d+ required but received \d+$)");
  if (std::regex_match(what, m, repeated)) what = m[1].str() + ": given more than once; give it once";
  // "A subcommand is required": options alone, or a mistyped command after them
  if (what == "A subcommand is required") {
    for (const auto& word : app.remaining())
      if (!word.empty() && word[0] != '-') return unknown_command_message(app, word);
    std::vector<std::string> commands;
    for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
    what = "expected a command, one of " + joined(commands) + " (gradverify help lists them)";
  }
  // "--problem excludes --layers"
  static const std::regex excludes(R"(^(\S+) excludes (\S+)$)");
  if (std::regex_match(what, m, excludes)) what = m[1].str() + " and " + m[2].str() + " can't be given together";
  return command_prefix(app) + what;
}

namespace {

class PlainHelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* option, bool is_positional) const override {
    if (is_positional) return option->get_name(true, false);
    std::string names;  // "-o,--output", without a flag's "{false}"
    for (const auto& name : option->get_snames()) names += (names.empty() ? "-" : ",-") + name;
    for (const auto& name : option->get_lnames()) names += (names.empty() ? "--" : ",--") + name;
    return names;
  }
  std::string make_option_opts(const CLI::Option* option) const override {
    std::string out;
    if (option->get_type_size() == 0) return out;  // a flag
    if (!option->get_type_name().empty()) out += " " + get_label(option->get_type_name());
    if (!option->get_default_str().empty()) out += "=" + option->get_default_str();
    if (option->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
    if (option->get_required()) out += " " + get_label("REQUIRED");
    return out;
  }
};

}  // namespace

std::shared_ptr<CLI::Formatter> plain_help_formatter() { return std::make_shared<PlainHelpFormatter>(); }

std::string unknown_command_message(const CLI::App& app, const std::string& name) {
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  const auto meant = closest(name, commands);
  return fmt::format("unknown command '{}'{}; the commands are {}", name, meant ? " (did you mean " + *meant + "?)" : "",
                     joined(commands));
}

}  // namespace gradverify::cli
