#pragma once
// What every command that runs a network needs from the command line: the problem (a file,
// or a net built from --layers, --activations, --loss, --data, --dtype, --seed, --init).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "gradverify/problem/problem.h"

namespace gradverify::cli {

// The defaults reproduce the lab's network.
struct NetOptions {
  std::string problem_path;  // --problem: this problem.json instead of a built-in net
  std::string layers = "2,4,3,2,1";
  std::string activations;   // empty: relu for hidden layers, and a default output (see help)
  std::string loss = "mse";
  std::string data;          // empty: xor when the net is 2-...-1, otherwise random:8
  std::string dtype = "float64";
  double weight_decay = 0;   // --weight-decay: λ of the loss's (λ/2)·Σ‖W‖²
  int64_t seed = 0;
  std::string init = "he";
  bool init_given = false;   // --init was on the command line (a problem with params refuses it)
};

// Adds --problem (with `problem_help`), the net options (which exclude --problem), --seed and
// --init to a command.
void add_net_options(CLI::App* command, NetOptions& options, const std::string& problem_help);

// The problem the options describe, with weights from --init and --seed when it has none,
// validated. Throws InputError naming the option or file at fault, including --init given
// with a problem file whose params it would silently not change.
Problem problem_from_options(const NetOptions& options);

// "a,b,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(const std::string& list);

}  // namespace gradverify::cli
