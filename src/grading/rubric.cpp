#include "gradverify/grading/rubric.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/problem/json_tensor.h"
#include "gradverify/errors.h"
#include "gradverify/grading/sandbox.h"
#include "gradverify/net/kernels.h"
#include "gradverify/problem/data.h"
#include "gradverify/problem/init.h"
#include "gradverify/problem/problem_file.h"

namespace gradverify {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

double Rubric::max_score() const {
  double total = 0;
  for (const auto& c : cases) total += c.points;
  return total;
}

OpCase generate_op_case(Op op, int64_t batch, int64_t width, int64_t out_width, Dtype dtype,
                        uint32_t seed, const OpCaseOptions& options) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  const auto tensor = [&](Shape shape, const std::function<double()>& draw) {
    Tensor t;
    t.shape = shape;
    int64_t n = 1;
    for (auto d : shape) n *= d;
    for (int64_t i = 0; i < n; ++i) t.values.push_back(round_to(dtype, draw()));
    return t;
  };
  OpCase c;
  c.op = op;
  c.dtype = dtype;
  c.negative_slope = options.negative_slope;
  if (op_activation(op)) {
    // A quarter of ReLU's inputs are exactly 0, where torch's ReLU'(0) = 0 (and leaky ReLU's
    // slope at 0) is tested.
    const bool kinked = op == Op::relu || op == Op::leaky_relu;
    c.inputs["z"] = tensor({batch, width}, [&] {
      const double z = 2 * normal(rng);
      return kinked && uniform(rng) < 0.25 ? 0.0 : z;
    });
    c.inputs["dh"] = tensor({batch, width}, [&] { return normal(rng); });
  } else if (op == Op::linear) {
    c.inputs["x"] = tensor({batch, width}, [&] { return normal(rng); });
    c.inputs["W"] = tensor({width, out_width}, [&] { return normal(rng) * std::sqrt(2.0 / static_cast<double>(width)); });
    c.inputs["b"] = tensor({out_width}, [&] { return 0.1 * normal(rng); });
    c.inputs["dz"] = tensor({batch, out_width}, [&] { return normal(rng); });
  } else if (op == Op::cross_entropy) {
    int64_t row = 0, column = 0;
    c.inputs["logits"] = tensor({batch, width}, [&] {
      const double offset = row % 2 == 0 ? options.logit_offset : -options.logit_offset;
      if (++column == width) column = 0, ++row;
      return 2 * normal(rng) + offset;
    });
    std::uniform_int_distribution<int64_t> label(0, width - 1);
    Tensor y{{batch, width}, std::vector<double>(static_cast<size_t>(batch * width), 0.0)};
    for (int64_t r = 0; r < batch; ++r) y.values[static_cast<size_t>(r * width + label(rng))] = 1;
    c.inputs["y"] = y;
  } else {
    // mse: any predictions; bce: probabilities away from 0 and 1; bce_with_logits: logits.
    c.inputs["pred"] = tensor({batch, width}, [&] {
      if (op == Op::bce) return 0.05 + 0.9 * uniform(rng);
      return op == Op::mse ? normal(rng) : 2 * normal(rng);
    });
    c.inputs["y"] = tensor({batch, width}, [&] { return op == Op::mse ? normal(rng) : (uniform(rng) < 0.5 ? 0.0 : 1.0); });
  }
  return c;
}

std::string case_request_json(const GradingCase& g) {
  nlohmann::json doc;
  if (g.kind == CaseKind::mlp) {
    doc = nlohmann::json::parse(problem_to_json(g.problem));
    doc["kind"] = "mlp";
  } else {
    doc["kind"] = "op";
    doc["op"] = to_string(g.op.op);
    doc["dtype"] = to_string(g.op.dtype);
    if (g.op.op == Op::leaky_relu) doc["negative_slope"] = g.op.negative_slope;
    for (const auto& [name, tensor] : g.op.inputs) doc[name] = detail::tensor_to_json(tensor);
  }
  return doc.dump() + "\n";
}

// ---- rubric files ---------------------------------------------------------------------------

namespace {

struct CaseReader {
  const nlohmann::json& doc;
  std::string source, field;  // the file, and "cases[3]"

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw InputError(source, field + (key.empty() ? "" : "." + key), problem);
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    if (!doc.contains(key)) return fallback;
    if (!doc[key].is_string()) fail(key, "expected a string, got " + detail::describe(doc[key]));
    return doc[key].get<std::string>();
  }
  double number(const std::string& key, double fallback, double lo, double hi) const {
    if (!doc.contains(key)) return fallback;
    if (!doc[key].is_number()) fail(key, "expected a number, got " + detail::describe(doc[key]));
    const double v = doc[key].get<double>();
    if (!(v >= lo && v <= hi)) fail(key, fmt::format("expected a number from {:g} to {:g}, got {}", lo, hi, doc[key].dump()));
    return v;
  }
  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
    if (!doc.contains(key)) return fallback;
    const auto v = detail::exact_integer(doc[key]);  // 7 and 7.0 alike; 7.5 is refused
    if (!v || *v < lo || *v > hi)
      fail(key, fmt::format("expected an integer from {} to {}, got {}", lo, hi, detail::describe(doc[key])));
    return *v;
  }
};

const std::vector<std::string> kVisibilities = {"visible", "hidden", "after_due_date", "after_published"};
const std::vector<std::string> kCaseKeys = {"name", "points", "visibility", "credit", "tolerance", "kind", "op",
                                            "batch", "width", "out_width", "negative_slope", "logit_offset", "dtype",
                                            "seed", "layers", "activations", "loss", "weight_decay", "data", "init",
                                            "problem_file", "description"};
// Which of kCaseKeys each kind of case reads, beyond the common ones. A field a case would
// not read is refused: "dtype": "float32" beside a problem_file would otherwise be ignored,
// and the author would believe a float32 case was graded.
const std::vector<std::string> kCommonCaseKeys = {"name", "points", "visibility", "credit", "tolerance", "kind",
                                                  "description"};
const std::vector<std::string> kOpCaseKeys = {"op", "batch", "width", "out_width", "negative_slope", "logit_offset",
                                              "dtype", "seed"};
const std::vector<std::string> kGeneratedMlpCaseKeys = {"layers", "activations", "loss", "weight_decay", "data",
                                                        "dtype", "init", "seed"};
const std::vector<std::string> kFileMlpCaseKeys = {"problem_file", "init", "seed"};  // init, seed: a file without params

bool is_one_of(const std::string& name, const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Every number of a case's answer as the kit prints it: the op's outputs, or a whole net's
// dW_k, db_k, dz_k and dh_k. Known from the sizes alone, so it is checked before generating.
int64_t op_answer_numbers(Op op, int64_t batch, int64_t width, int64_t out_width) {
  return op == Op::linear ? width * out_width + out_width + batch * width : batch * width;
}
int64_t mlp_answer_numbers(const MlpSpec& spec, int64_t batch) {
  int64_t units = 0;
  for (size_t k = 1; k < spec.layers.size(); ++k) units += spec.layers[k];
  return spec.parameter_count() + 2 * batch * units;
}

GradingCase read_case(const nlohmann::json& doc, const std::string& source, const std::string& field,
                      const std::filesystem::path& base_dir) {
  if (!doc.is_object()) throw InputError(source, field, "expected a case object, got " + detail::json_kind(doc));
  const CaseReader r{doc, source, field};
  // A full-precision number takes up to 24 characters, so 2^19 of them fit the 16 MiB cap
  // on a submission's stdout: a larger case could not be answered by any submission.
  const auto require_answerable = [&](int64_t numbers) {
    if (numbers > kMaxAnswerNumbers)
      r.fail("", fmt::format("the answer to this case would hold {} numbers; at most {} are accepted, so that a "
                             "full-precision answer fits in the {} MiB a submission may print",
                             numbers, kMaxAnswerNumbers, SandboxLimits{}.stdout_bytes >> 20));
  };
  for (const auto& [key, value] : doc.items())
    if (!is_one_of(key, kCaseKeys)) r.fail(key, "unknown field; a case has " + joined(kCaseKeys));
  // Fields the case's kind does not read, checked before any of them is.
  const std::string kind_name = doc.contains("kind") && doc["kind"].is_string() ? doc["kind"].get<std::string>() : "";
  const bool from_file = doc.contains("problem_file");
  if (from_file && r.string("problem_file", "").empty())
    r.fail("problem_file", "expected the path of a problem.json, relative to the rubric");
  const std::vector<std::string>* kind_keys = kind_name == "op"    ? &kOpCaseKeys
                                              : kind_name != "mlp" ? nullptr
                                              : from_file          ? &kFileMlpCaseKeys
                                                                   : &kGeneratedMlpCaseKeys;
  if (kind_keys)
    for (const auto& [key, value] : doc.items())
      if (!is_one_of(key, kCommonCaseKeys) && !is_one_of(key, *kind_keys))
        r.fail(key, from_file && kind_name == "mlp"
                        ? "the problem file sets this, so it would be ignored; beside problem_file a case takes " +
                              joined(kFileMlpCaseKeys) + " (the last two only for a file without params)"
                        : "an " + kind_name + " case does not read this field; it takes " + joined(*kind_keys));
  GradingCase g;
  g.name = r.string("name", "");
  if (g.name.empty()) r.fail("name", "every case needs a name (students see it)");
  g.points = r.number("points", 1, 0, 1e6);
  g.visibility = r.string("visibility", "visible");
  if (std::find(kVisibilities.begin(), kVisibilities.end(), g.visibility) == kVisibilities.end())
    r.fail("visibility", "expected one of " + joined(kVisibilities) + ", got '" + g.visibility + "'");
  const std::string credit = r.string("credit", "all_or_nothing");
  if (credit != "all_or_nothing" && credit != "per_tensor")
    r.fail("credit", "expected all_or_nothing or per_tensor, got '" + credit + "'");
  g.credit = credit == "per_tensor" ? Credit::per_tensor : Credit::all_or_nothing;
  const std::string dtype_name = r.string("dtype", "float64");
  const auto dtype = parse_dtype(dtype_name);
  if (!dtype) r.fail("dtype", "expected one of " + dtype_names() + ", got '" + dtype_name + "'");
  const auto seed = static_cast<uint32_t>(r.integer("seed", 0, 0, 4294967295LL));
  const std::string kind = r.string("kind", "");

  if (kind == "op") {
    g.kind = CaseKind::op;
    const std::string op_name = r.string("op", "");
    const auto parsed_op = parse_op(op_name);
    if (!parsed_op) r.fail("op", "expected one of " + op_names() + ", got '" + op_name + "'");
    const Op op = *parsed_op;
    if (op != Op::linear && doc.contains("out_width")) r.fail("out_width", "only the linear op has an out_width");
    if (op != Op::leaky_relu && doc.contains("negative_slope"))
      r.fail("negative_slope", "only the leaky_relu op has a negative_slope");
    if (op != Op::cross_entropy && doc.contains("logit_offset"))
      r.fail("logit_offset", "only the cross_entropy op has a logit_offset");
    const int64_t batch = r.integer("batch", 4, 1, 4096);
    const int64_t width = r.integer("width", 3, op == Op::cross_entropy ? 2 : 1, 4096);  // classes, for cross_entropy
    const int64_t out_width = r.integer("out_width", 2, 1, 4096);
    OpCaseOptions options;
    options.negative_slope = r.number("negative_slope", options.negative_slope, 0, 1);
    if (!(options.negative_slope > 0 && options.negative_slope < 1))  // as leaky_relu:SLOPE in a net
      r.fail("negative_slope", fmt::format("expected a slope in (0, 1), got {}", doc["negative_slope"].dump()));
    options.logit_offset = r.number("logit_offset", 0, 0, 1e4);
    require_answerable(op_answer_numbers(op, batch, width, out_width));
    g.op = generate_op_case(op, batch, width, out_width, *dtype, seed, options);
    if (op == Op::linear)
      g.description = fmt::format("linear backward, x {}x{}, W {}x{}, {}, seed {}", batch, width, width, out_width,
                                  dtype_name, seed);
    else if (op == Op::cross_entropy)
      g.description = fmt::format("cross_entropy backward, {} samples x {} classes{}, {}, seed {}", batch, width,
                                  options.logit_offset > 0 ? fmt::format(", logits ±{:g}", options.logit_offset) : "",
                                  dtype_name, seed);
    else
      g.description = fmt::format("{} backward, {}x{}{}, {}, seed {}", op_name, batch, width,
                                  op == Op::leaky_relu ? fmt::format(", slope {:g}", options.negative_slope) : "",
                                  dtype_name, seed);
  } else if (kind == "mlp") {
    g.kind = CaseKind::mlp;
    const std::string problem_file = r.string("problem_file", "");
    const std::string init_name = r.string("init", "he");
    const auto init = parse_init(init_name);
    if (!init) r.fail("init", "expected one of " + init_names() + ", got '" + init_name + "'");
    if (!problem_file.empty()) {
      const auto path = std::filesystem::path(problem_file).is_absolute() ? std::filesystem::path(problem_file)
                                                                         : base_dir / problem_file;
      // Not a device or a FIFO: /dev/zero would never end.
      std::error_code error;
      if (!std::filesystem::is_regular_file(path, error)) r.fail("problem_file", "no such file: " + path.string());
      g.problem = load_problem_file(path.string());
      g.problem_path = std::filesystem::absolute(path).string();
      require_answerable(mlp_answer_numbers(g.problem.spec, g.problem.batch()));
      if (g.problem.params.empty()) {
        g.problem.params = init_params(g.problem.spec, *init, seed);
      } else {
        for (const char* key : {"init", "seed"})
          if (doc.contains(key))
            r.fail(key, problem_file + " has its own params, so " + key + " would not change them");
      }
      g.description = "problem file " + problem_file;
    } else {
      MlpSpec spec;
      if (!doc.contains("layers") || !doc["layers"].is_array()) r.fail("layers", "expected widths, e.g. [2, 4, 3, 2, 1]");
      for (size_t i = 0; i < doc["layers"].size(); ++i) {
        const auto width = detail::exact_integer(doc["layers"][i]);
        if (!width || *width < 1)
          r.fail("layers[" + std::to_string(i) + "]",
                 "expected a positive integer width, got " + detail::describe(doc["layers"][i]));
        spec.layers.push_back(*width);
      }
      const int64_t L = static_cast<int64_t>(spec.layers.size()) - 1;
      const std::string loss_name = r.string("loss", "mse");
      const auto loss = parse_loss(loss_name);
      if (!loss) r.fail("loss", "expected one of " + loss_names() + ", got '" + loss_name + "'");
      spec.loss = *loss;
      spec.dtype = *dtype;
      spec.weight_decay = r.number("weight_decay", 0, 0, 1e6);
      if (doc.contains("activations")) {
        if (!doc["activations"].is_array()) r.fail("activations", "expected a list such as [\"relu\", \"sigmoid\"]");
        for (const auto& a : doc["activations"]) {
          if (!a.is_string()) r.fail("activations", "expected names among " + activation_names() + ", got " + detail::describe(a));
          try {
            append_activation(spec, a.get<std::string>(), "", "");
          } catch (const InputError& e) {
            r.fail("activations", e.problem());
          }
        }
      } else {
        spec.activations = default_activations(L, spec.loss);
      }
      try {
        validate_spec(spec, source);
      } catch (const InputError& e) {
        r.fail("layers", e.problem());
      }
      g.problem.spec = spec;
      const std::string data = r.string("data", default_data(spec));
      if (data == "xor") {
        if (spec.layers.front() != 2 || spec.layers.back() != 1) r.fail("data", "xor needs a 2-...-1 net");
        require_answerable(mlp_answer_numbers(spec, 4));
        set_xor_data(g.problem);
      } else if (data.rfind("random:", 0) == 0) {
        const auto n = random_data_samples(data);
        if (!n || *n < 1 || *n > 4096) r.fail("data", "expected xor or random:N with N from 1 to 4096, got '" + data + "'");
        require_answerable(mlp_answer_numbers(spec, *n));
        set_random_data(g.problem, *n, seed);
      } else {
        r.fail("data", "expected xor or random:N, got '" + data + "'");
      }
      g.problem.params = init_params(spec, *init, seed);
      std::string acts;
      for (int64_t k = 1; k <= spec.num_layers(); ++k) acts += (acts.empty() ? "" : ",") + written_activation(spec, k);
      g.description = fmt::format("{} {} {}{} {}, {} batch {}{}, seed {}", layers_to_string(spec.layers), acts,
                                  to_string(spec.loss),
                                  spec.weight_decay > 0 ? fmt::format(" weight decay {:g}", spec.weight_decay) : "",
                                  dtype_name, data, g.problem.batch(),
                                  *init == Init::he ? "" : fmt::format(", {} init", to_string(*init)), seed);
    }
    validate_problem(g.problem, source + ": " + field);
  } else {
    r.fail("kind", "expected \"op\" or \"mlp\", got '" + kind + "'");
  }
  const Dtype case_dtype = g.kind == CaseKind::mlp ? g.problem.spec.dtype : g.op.dtype;
  g.tolerances = default_tolerances(case_dtype);
  if (doc.contains("tolerance")) {
    const CaseReader t{doc["tolerance"], source, field + ".tolerance"};
    if (!doc["tolerance"].is_object()) r.fail("tolerance", "expected {\"rtol\": ..., \"atol\": ..., \"atol_scale\": ...}");
    g.tolerances.rtol = t.number("rtol", g.tolerances.rtol, 0, 1);
    g.tolerances.atol_abs = t.number("atol", g.tolerances.atol_abs, 0, 1);
    g.tolerances.atol_scale = t.number("atol_scale", g.tolerances.atol_scale, 0, 1);
  }
  if (doc.contains("description")) g.description = r.string("description", g.description);
  g.definition = doc.dump();
  g.generated = !from_file;
  g.seed = seed;
  return g;
}

Rubric parse_rubric(const nlohmann::json& doc, const std::string& source, const std::filesystem::path& base_dir) {
  if (!doc.is_object()) throw InputError(source, "", "expected a rubric object {\"cases\": [...]}, got " + detail::json_kind(doc));
  const CaseReader r{doc, source, "rubric"};
  Rubric rubric;
  rubric.source = source;
  rubric.name = r.string("name", "gradverify");
  rubric.timeout_seconds = r.number("timeout_seconds", 10, 0.1, 3600);
  rubric.memory_mb = r.integer("memory_mb", 1024, 16, 1 << 20);
  if (!doc.contains("cases") || !doc["cases"].is_array() || doc["cases"].empty())
    throw InputError(source, "cases", "expected a non-empty list of cases");
  if (doc["cases"].size() > kMaxRubricCases)
    throw InputError(source, "cases", fmt::format("{} cases; at most {} are accepted", doc["cases"].size(), kMaxRubricCases));
  std::vector<std::string> names;
  for (size_t i = 0; i < doc["cases"].size(); ++i) {
    const std::string field = "cases[" + std::to_string(i) + "]";
    GradingCase g = read_case(doc["cases"][i], source, field, base_dir);
    if (std::find(names.begin(), names.end(), g.name) != names.end())
      throw InputError(source, field + ".name", "'" + g.name + "' names two cases; names must be unique");
    names.push_back(g.name);
    rubric.cases.push_back(std::move(g));
  }
  rubric.definition = doc.dump();  // nlohmann's objects are ordered by key: canonical
  return rubric;
}

}  // namespace

GradingCase case_with_seed(const GradingCase& g, uint32_t seed) {
  if (!g.generated) throw std::logic_error("case_with_seed: '" + g.name + "' is read from a file, not generated");
  nlohmann::json doc = nlohmann::json::parse(g.definition);
  doc["seed"] = seed;
  return read_case(doc, "variant of case '" + g.name + "'", "seed " + std::to_string(seed), ".");
}

Rubric load_rubric(const std::string& path) {
  const auto doc = detail::parse_json_file(path);
  return parse_rubric(doc, path, std::filesystem::path(path).parent_path());
}

Rubric parse_rubric_json(const std::string& text, const std::string& source, const std::string& base_dir) {
  return parse_rubric(detail::parse_json_text(text, source), source, base_dir);
}

namespace {

// Seeds chosen so that every reference is informative (no all-zero gradient); the grader
// refuses a case that isn't, so a change here that breaks that fails loudly.
std::string lab_rubric_json() {
  return R"RUBRIC({
  "name": "Manual backprop lab",
  "timeout_seconds": 10,
  "memory_mb": 1024,
  "cases": [
    {"name": "ReLU backward", "points": 2, "kind": "op", "op": "relu", "batch": 4, "width": 5, "seed": 1},
    {"name": "ReLU backward (hidden)", "points": 2, "visibility": "hidden", "kind": "op", "op": "relu", "batch": 8, "width": 6, "seed": 9101},
    {"name": "Sigmoid backward", "points": 2, "kind": "op", "op": "sigmoid", "batch": 4, "width": 3, "seed": 2},
    {"name": "Tanh backward", "points": 2, "kind": "op", "op": "tanh", "batch": 4, "width": 3, "seed": 3},
    {"name": "Identity backward", "points": 1, "kind": "op", "op": "identity", "batch": 3, "width": 2, "seed": 4},
    {"name": "Linear backward", "points": 6, "credit": "per_tensor", "kind": "op", "op": "linear", "batch": 4, "width": 3, "out_width": 2, "seed": 5},
    {"name": "Linear backward (hidden)", "points": 6, "credit": "per_tensor", "visibility": "hidden", "kind": "op", "op": "linear", "batch": 7, "width": 5, "out_width": 4, "seed": 9105},
    {"name": "MSE backward", "points": 2, "kind": "op", "op": "mse", "batch": 4, "width": 1, "seed": 6},
    {"name": "BCE backward", "points": 2, "kind": "op", "op": "bce", "batch": 5, "width": 1, "seed": 7},
    {"name": "BCE-with-logits backward", "points": 2, "kind": "op", "op": "bce_with_logits", "batch": 5, "width": 2, "seed": 8},
    {"name": "MSE backward, float32 (hidden)", "points": 1, "visibility": "hidden", "kind": "op", "op": "mse", "batch": 6, "width": 3, "dtype": "float32", "seed": 9106},
    {"name": "XOR net (the lab's 2-4-3-2-1)", "points": 8, "credit": "per_tensor", "kind": "mlp", "layers": [2, 4, 3, 2, 1], "activations": ["relu", "relu", "relu", "sigmoid"], "loss": "mse", "data": "xor", "seed": 1},
    {"name": "Tanh net with BCE", "points": 6, "credit": "per_tensor", "kind": "mlp", "layers": [3, 5, 1], "activations": ["tanh", "sigmoid"], "loss": "bce", "data": "random:8", "seed": 11},
    {"name": "Logits net, float32 (hidden)", "points": 6, "credit": "per_tensor", "visibility": "hidden", "kind": "mlp", "layers": [4, 6, 3, 2], "activations": ["relu", "tanh", "identity"], "loss": "bce_with_logits", "data": "random:10", "dtype": "float32", "seed": 9112},
    {"name": "Deep ReLU net (hidden)", "points": 6, "credit": "per_tensor", "visibility": "hidden", "kind": "mlp", "layers": [5, 8, 8, 8, 2], "activations": ["relu", "relu", "relu", "sigmoid"], "loss": "mse", "data": "random:12", "seed": 9113}
  ]
}
)RUBRIC";
}

// The next lab's. Its nets start from torch's init, whose biases are not zero, so that weight
// decay applied to the biases changes db; its float32 nets use class indices' one-hot rows as
// every random:N does.
std::string multiclass_rubric_json() {
  return R"RUBRIC({
  "name": "Softmax, leaky ReLU and weight decay lab",
  "timeout_seconds": 10,
  "memory_mb": 1024,
  "cases": [
    {"name": "Leaky ReLU backward", "points": 2, "kind": "op", "op": "leaky_relu", "batch": 4, "width": 5, "seed": 21},
    {"name": "Leaky ReLU backward, slope 0.2 (hidden)", "points": 2, "visibility": "hidden", "kind": "op", "op": "leaky_relu", "negative_slope": 0.2, "batch": 6, "width": 4, "seed": 9121},
    {"name": "Linear backward", "points": 4, "credit": "per_tensor", "kind": "op", "op": "linear", "batch": 5, "width": 4, "out_width": 3, "seed": 22},
    {"name": "Softmax cross-entropy backward", "points": 4, "kind": "op", "op": "cross_entropy", "batch": 6, "width": 5, "seed": 23},
    {"name": "Softmax cross-entropy backward, logits of ±1000", "points": 3, "kind": "op", "op": "cross_entropy", "batch": 4, "width": 4, "logit_offset": 1000, "seed": 24},
    {"name": "Softmax cross-entropy backward, float32 (hidden)", "points": 2, "visibility": "hidden", "kind": "op", "op": "cross_entropy", "batch": 8, "width": 10, "dtype": "float32", "seed": 9123},
    {"name": "MNIST-shaped net, 784-64-10", "points": 8, "credit": "per_tensor", "kind": "mlp", "layers": [784, 64, 10], "activations": ["relu", "identity"], "loss": "cross_entropy", "data": "random:16", "init": "torch", "seed": 25},
    {"name": "MNIST-shaped net with weight decay", "points": 8, "credit": "per_tensor", "kind": "mlp", "layers": [784, 64, 10], "activations": ["relu", "identity"], "loss": "cross_entropy", "weight_decay": 0.001, "data": "random:16", "init": "torch", "seed": 26},
    {"name": "Leaky ReLU net with weight decay", "points": 6, "credit": "per_tensor", "kind": "mlp", "layers": [20, 16, 12, 5], "activations": ["leaky_relu:0.1", "leaky_relu:0.1", "identity"], "loss": "cross_entropy", "weight_decay": 0.01, "data": "random:12", "init": "torch", "seed": 9126},
    {"name": "Softmax net, float32 (hidden)", "points": 4, "credit": "per_tensor", "visibility": "hidden", "kind": "mlp", "layers": [12, 8, 4], "activations": ["tanh", "identity"], "loss": "cross_entropy", "weight_decay": 0.005, "data": "random:10", "dtype": "float32", "init": "torch", "seed": 9127}
  ]
}
)RUBRIC";
}

}  // namespace

const std::vector<std::string>& builtin_rubric_names() {
  static const std::vector<std::string> names = {"lab", "multiclass"};
  return names;
}

std::string builtin_rubric_list() { return joined(builtin_rubric_names()); }

std::string builtin_rubric_json(const std::string& name) {
  if (name == "lab") return lab_rubric_json();
  if (name == "multiclass") return multiclass_rubric_json();
  throw InputError("--rubric", "", "no built-in rubric is named '" + name + "'; there are " + builtin_rubric_list());
}

Rubric builtin_rubric(const std::string& name) {
  return parse_rubric(nlohmann::json::parse(builtin_rubric_json(name)),
                      name == "lab" ? "built-in rubric" : "built-in rubric " + name, ".");
}

std::optional<std::string> builtin_rubric_named(const std::string& argument) {
  if (argument == "builtin") return "lab";
  if (argument.rfind("builtin:", 0) == 0) return argument.substr(8);
  return std::nullopt;
}

}  // namespace gradverify
