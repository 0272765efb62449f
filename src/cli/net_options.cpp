#include "net_options.h"

#include <cstdlib>
#include <sstream>

#include "gradverify/errors.h"
#include "gradverify/problem/data.h"
#include "gradverify/problem/init.h"
#include "gradverify/problem/problem_file.h"
#include "usage.h"

namespace gradverify::cli {

void add_net_options(CLI::App* command, NetOptions& o, const std::string& problem_help) {
  auto* problem = command->add_option("--problem", o.problem_path, problem_help)->check(existing_file());
  const auto net_option = [&](const char* name, std::string& target, const char* help) {
    return command->add_option(name, target, help)->capture_default_str()->excludes(problem);
  };
  net_option("--layers", o.layers, "Widths, input first, comma-separated");
  net_option("--activations", o.activations,
             "One per layer (relu, leaky_relu or leaky_relu:SLOPE, sigmoid, tanh, identity), or one for all layers "
             "[default: relu, then sigmoid for mse/bce or identity for bce_with_logits/cross_entropy]");
  net_option("--loss", o.loss,
             "mse, bce (takes probabilities), bce_with_logits (takes logits) or cross_entropy (softmax over "
             "the last layer's logits, the mean over the batch, as torch's cross_entropy)");
  net_option("--data", o.data, "xor, random:N, or a CSV file (inputs then targets per row; for cross_entropy "
                               "the targets may be one class index) [default: xor for a 2-...-1 net, otherwise "
                               "random:8]");
  net_option("--dtype", o.dtype, "float64 or float32: both sides compute in it");
  command->add_option("--weight-decay", o.weight_decay,
                      "L2 weight decay λ, a term of the loss: loss + (λ/2)·Σ‖W_k‖² over the weights, not the "
                      "biases (CS231n's form); both sides add it")
      ->capture_default_str()
      ->excludes(problem)
      ->check(non_negative_number());
  command->add_option("--seed", o.seed,
                      "Seed for the weights (as numpy's np.random.seed) and random data, when the problem "
                      "has none of its own, and for check's finite-difference directions")
      ->capture_default_str()
      ->check(whole_number_from(int64_t{0}, int64_t{4294967295}));
  command->add_option("--init", o.init,
                      "he: randn * sqrt(2/fan_in), numpy's stream, as the lab does; numpy: the same, by the "
                      "lab's name; xavier: randn * sqrt(2/(fan_in+fan_out)); these start biases at 0. torch: "
                      "weights and biases uniform in ±1/sqrt(fan_in), nn.Linear's bounds. Not with a "
                      "--problem that has params")
      ->capture_default_str()
      ->each([&o](const std::string&) { o.init_given = true; })
      ->check(one_of({"he", "numpy", "xavier", "torch"}));
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) items.push_back(item);
  return items;
}

namespace {

MlpSpec spec_from_options(const NetOptions& o) {
  MlpSpec spec;
  for (const auto& w : split_list(o.layers)) {
    char* end = nullptr;
    const long long width = std::strtoll(w.c_str(), &end, 10);
    if (w.empty() || *end != '\0')
      throw InputError("--layers", "", "expected comma-separated integer widths like 2,4,3,2,1, got '" + o.layers + "'");
    spec.layers.push_back(width);
  }
  const auto loss = parse_loss(o.loss);
  if (!loss) throw InputError("--loss", "", "unknown loss '" + o.loss + "'; expected one of " + loss_names());
  spec.loss = *loss;
  const auto dtype = parse_dtype(o.dtype);
  if (!dtype) throw InputError("--dtype", "", "unknown dtype '" + o.dtype + "'; expected one of " + dtype_names());
  spec.dtype = *dtype;

  const int64_t L = static_cast<int64_t>(spec.layers.size()) - 1;
  auto names = split_list(o.activations);
  if (names.size() == 1 && L > 1) names.assign(static_cast<size_t>(L), names[0]);  // one name for every layer
  for (const auto& name : names) append_activation(spec, name, "--activations", "");
  if (names.empty()) spec.activations = default_activations(L, spec.loss);
  spec.weight_decay = o.weight_decay;
  validate_spec(spec, "command line");
  return spec;
}

void set_data(Problem& problem, const std::string& data, uint32_t seed) {
  const std::string choice = !data.empty() ? data : default_data(problem.spec);
  if (choice == "xor") return set_xor_data(problem);
  if (choice.rfind("random:", 0) == 0) {
    const auto n = random_data_samples(choice);
    if (!n || *n < 1 || *n > 1000000)
      throw InputError("--data", "", "expected random:N with N from 1 to 1000000, got '" + choice + "'");
    validate_batch_size(problem.spec, *n, "--data " + choice);
    return set_random_data(problem, *n, seed);
  }
  set_csv_data(problem, choice);
}

}  // namespace

Problem problem_from_options(const NetOptions& o) {
  const auto seed = static_cast<uint32_t>(o.seed);
  Problem problem;
  if (!o.problem_path.empty()) {
    problem = load_problem_file(o.problem_path);
    // Its weights are the file's: an --init that changed nothing would hide that.
    if (o.init_given && !problem.params.empty())
      throw InputError("--init", "", o.problem_path + " has its own params, so --init " + o.init +
                                         " would not change them; drop --init, or the file's params");
  } else {
    problem.spec = spec_from_options(o);
    set_data(problem, o.data, seed);
  }
  if (problem.params.empty()) problem.params = init_params(problem.spec, *parse_init(o.init), seed);
  validate_problem(problem, o.problem_path.empty() ? "command line" : o.problem_path);
  return problem;
}

}  // namespace gradverify::cli
