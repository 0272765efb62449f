// gradverify: the command line. Library code throws InputError on bad input and returns
// results as data; only the CLI turns them into exit codes (output.h: 0 pass, 1 mismatch,
// 2 bad input, 3 vacuous, 4 internal error).
#include <CLI/CLI.hpp>

#include <iostream>

#include "commands/bench_command.h"
#include "commands/bundle_command.h"
#include "commands/check_command.h"
#include "commands/grade_command.h"
#include "commands/lab_commands.h"
#include "commands/merge_command.h"
#include "commands/report_command.h"
#include "commands/references_command.h"
#include "commands/train_command.h"
#include "gradverify/errors.h"
#include "gradverify/version.h"
#include "output.h"
#include "usage.h"

int main(int argc, char** argv) {
  CLI::App app{"gradverify: checks hand-written backward passes against LibTorch autograd", "gradverify"};
  app.set_version_flag("--version", std::string("gradverify ") + gradverify::kVersion);
  app.require_subcommand(1);
  app.formatter(gradverify::cli::plain_help_formatter());
  app.footer("Run 'gradverify <command> --help' for a command's options.");
  // Before or after the command: gradverify --color never check, gradverify check --color never.
  std::string color = "auto";
  app.add_option("--color", color, "Colour the verdicts: auto (on a terminal, unless NO_COLOR or TERM=dumb), always "
                                   "or never")
      ->capture_default_str()
      ->check(gradverify::cli::one_of({"auto", "always", "never"}));
  app.fallthrough();

  gradverify::cli::CheckOptions check_options;
  gradverify::cli::add_check_command(app, check_options);
  gradverify::cli::TrainOptions train_options;
  gradverify::cli::add_train_command(app, train_options);
  gradverify::cli::NeuronOptions neuron_options;
  gradverify::cli::add_neuron_command(app, neuron_options);
  gradverify::cli::BceOptions bce_options;
  gradverify::cli::add_bce_command(app, bce_options);
  gradverify::cli::SoftmaxOptions softmax_options;
  gradverify::cli::add_softmax_command(app, softmax_options);
  gradverify::cli::GradeOptions grade_options;
  gradverify::cli::add_grade_command(app, grade_options);
  gradverify::cli::ReferencesOptions references_options;
  gradverify::cli::add_references_command(app, references_options);
  gradverify::cli::MergeOptions merge_options;
  gradverify::cli::add_merge_command(app, merge_options);
  gradverify::cli::ReportOptions report_options;
  gradverify::cli::add_report_command(app, report_options);
  gradverify::cli::BundleOptions bundle_options;
  gradverify::cli::add_bundle_command(app, bundle_options);
  gradverify::cli::BenchOptions bench_options;
  gradverify::cli::add_bench_command(app, bench_options);

  const auto usage_error = [](const std::string& message) {
    std::cerr << "gradverify: error: " << message << "\n";
    return gradverify::cli::kInputError;
  };
  const auto is_command = [&](const std::string& name) {
    for (const CLI::App* sub : app.get_subcommands({}))
      if (sub->check_name(name)) return true;
    return false;
  };
  // `gradverify` alone and `gradverify help [command]` print the help.
  if (argc == 1) {
    std::cout << app.help();
    return gradverify::cli::kPass;
  }
  if (std::string(argv[1]) == "help") {
    if (argc == 2) {
      std::cout << app.help();
      return gradverify::cli::kPass;
    }
    if (argc > 3) return usage_error("help takes one command, e.g. 'gradverify help check'");
    if (!is_command(argv[2])) return usage_error(gradverify::cli::unknown_command_message(app, argv[2]));
    std::cout << app.get_subcommand(argv[2])->help(app.get_name());
    return gradverify::cli::kPass;
  }
  // CLI11 would call a mistyped command "a missing subcommand"; name it instead.
  if (argv[1][0] != '-' && !is_command(argv[1])) return usage_error(gradverify::cli::unknown_command_message(app, argv[1]));

  gradverify::cli::collect_unknown_arguments(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(gradverify::cli::usage_message(app, e));
  }
  if (const auto unknown = gradverify::cli::unknown_arguments(app)) return usage_error(*unknown);
  gradverify::cli::set_color_mode(color == "always"  ? gradverify::cli::ColorMode::always
                                  : color == "never" ? gradverify::cli::ColorMode::never
                                                     : gradverify::cli::ColorMode::automatic);

  try {
    if (app.got_subcommand("check")) return gradverify::cli::run_check(check_options);
    if (app.got_subcommand("train")) return gradverify::cli::run_train(train_options);
    if (app.got_subcommand("neuron")) return gradverify::cli::run_neuron(neuron_options);
    if (app.got_subcommand("bce")) return gradverify::cli::run_bce(bce_options);
    if (app.got_subcommand("softmax")) return gradverify::cli::run_softmax(softmax_options);
    if (app.got_subcommand("grade")) return gradverify::cli::run_grade(grade_options);
    if (app.got_subcommand("references")) return gradverify::cli::run_references(references_options);
    if (app.got_subcommand("merge")) return gradverify::cli::run_merge(merge_options);
    if (app.got_subcommand("report")) return gradverify::cli::run_report(report_options);
    if (app.got_subcommand("autograder-bundle")) return gradverify::cli::run_bundle(bundle_options);
    if (app.got_subcommand("bench")) return gradverify::cli::run_bench(bench_options);
  } catch (const gradverify::InputError& e) {
    std::cerr << "gradverify: error: " << e.what() << "\n";
    return gradverify::cli::kInputError;
  } catch (const std::exception& e) {
    // Anything else is a bug in gradverify, not in the input: say so plainly.
    std::cerr << "gradverify: internal error: " << e.what() << "\n";
    return gradverify::cli::kInternalError;
  }
  return gradverify::cli::kPass;
}
