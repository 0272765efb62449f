#pragma once
// Usage errors in gradverify's one voice. CLI11 parses; this names what was expected, in
// words, on one line: "gradverify: error: check: --rtol: expected a number ≥ 0, got 'abc'",
// with "did you mean" for options, commands and choices. Exit 2, like any input error.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gradverify::cli {

// Validators whose failures read as "expected ..., got '...'" (CLI11 prefixes the option).
CLI::Validator non_negative_number();
CLI::Validator positive_number();
CLI::Validator number_from(double lo, double hi);
CLI::Validator whole_number_from(int64_t lo, int64_t hi);
CLI::Validator one_of(std::vector<std::string> choices);
CLI::Validator existing_file();
CLI::Validator existing_directory();

// --rubric FILE, or builtin:NAME for one of the built-in rubrics (rubric.h), for grade,
// references and autograder-bundle: a file's path goes to `path`, a built-in's name to `builtin`.
CLI::Option* add_rubric_option(CLI::App* command, std::string& path, std::string& builtin);

// The candidate `word` was most likely meant as: within two edits, or a prefix of one.
std::optional<std::string> closest(const std::string& word, const std::vector<std::string>& candidates);

// Allows unknown arguments on every command, so that they can be named by unknown_arguments
// rather than CLI11's "The following arguments were not expected".
void collect_unknown_arguments(CLI::App& app);

// After a parse: the first argument the command that ran doesn't take, as one message
// ("check: unknown option --layer; did you mean --layers?"), or nothing.
std::optional<std::string> unknown_arguments(const CLI::App& app);

// A CLI11 parse error, as one message without the "gradverify: error: " prefix.
std::string usage_message(const CLI::App& app, const CLI::ParseError& error);

// "unknown command 'chek' (did you mean check?); the commands are check, train, ..."
std::string unknown_command_message(const CLI::App& app, const std::string& name);

// Help without CLI11's artefacts: no "Excludes: ..." lists and no "{false}" after a flag's
// name; an option shows its name, its value's type and its default. Set on the app before its
// commands are added, which inherit it.
std::shared_ptr<CLI::Formatter> plain_help_formatter();

}  // namespace gradverify::cli
