#pragma once
// The lab's worked examples as commands: Solution 1 (`neuron`), Solution 3 (`bce`) and the
// next lab's softmax cross-entropy (`softmax`), each computed by the manual kernels, printed
// step by step, and verified against LibTorch in the same dtype.
#include <CLI/CLI.hpp>

#include <string>

namespace gradverify::cli {

struct NeuronOptions {
  double x = 2.0, y = 1.0, w = 0.5, b = 0.1;  // the lab's values
  std::string activation = "relu";
  std::string dtype = "float64";
  std::string format = "table";
  std::string output_path;
};

struct BceOptions {
  std::string labels = "1,0,1,1,0";        // the lab's values
  std::string logits = "2,-1.5,1,0.5,-2";
  std::string dtype = "float64";
  std::string format = "table";
  std::string output_path;
};

struct SoftmaxOptions {
  std::string logits = "2,1,0.1";  // one sample's logits, CS231n's example
  int64_t label = 0;               // its class
  std::string dtype = "float64";
  std::string format = "table";
  std::string output_path;
};

void add_neuron_command(CLI::App& app, NeuronOptions& options);
void add_bce_command(CLI::App& app, BceOptions& options);
void add_softmax_command(CLI::App& app, SoftmaxOptions& options);

// Exit codes as check's: 0 verified, 1 a mismatch, 3 vacuous (a dead neuron); InputError is 2.
int run_neuron(const NeuronOptions& options);
int run_bce(const BceOptions& options);
int run_softmax(const SoftmaxOptions& options);

}  // namespace gradverify::cli
