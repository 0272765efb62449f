#include "gradverify/problem/data.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/problem/json_tensor.h"
#include "gradverify/errors.h"
#include "gradverify/net/random.h"

namespace gradverify {

std::string default_data(const MlpSpec& spec) {
  return spec.layers.front() == 2 && spec.layers.back() == 1 ? "xor" : "random:8";
}

std::optional<long long> random_data_samples(const std::string& choice) {
  if (choice.rfind("random:", 0) != 0) return std::nullopt;
  const std::string count = choice.substr(7);
  char* end = nullptr;
  const long long n = std::strtoll(count.c_str(), &end, 10);
  if (count.empty() || *end != '\0') return std::nullopt;
  return n;
}

void set_xor_data(Problem& problem) {
  const auto& layers = problem.spec.layers;
  if (layers.front() != 2 || layers.back() != 1)
    throw InputError("--data xor", "layers",
                     "XOR has 2 inputs and 1 output, so layers must start with 2 and end with 1, got " +
                         layers_to_string(layers));
  problem.X = Tensor{{4, 2}, {0, 0, 0, 1, 1, 0, 1, 1}};
  problem.y = Tensor{{4, 1}, {0, 1, 1, 0}};
  problem.data_description = "xor";
}

void set_random_data(Problem& problem, int64_t n, uint32_t seed) {
  if (n < 1) throw InputError("--data", "random:N", "expected N >= 1 samples, got " + std::to_string(n));
  validate_batch_size(problem.spec, n, "--data random:" + std::to_string(n));
  NumpyLegacyRandom rng(seed + 1u);
  const int64_t in = problem.spec.layers.front(), out = problem.spec.layers.back();
  problem.X = Tensor{{n, in}, {}};
  for (int64_t i = 0; i < n * in; ++i) problem.X.values.push_back(rng.next_gaussian());
  problem.y = Tensor{{n, out}, {}};
  if (problem.spec.loss == Loss::cross_entropy) {  // a random class per sample, one-hot
    problem.y.values.assign(static_cast<size_t>(n * out), 0.0);
    for (int64_t r = 0; r < n; ++r) {
      const auto label = static_cast<int64_t>(rng.next_double() * static_cast<double>(out));
      problem.y.values[static_cast<size_t>(r * out + std::min(label, out - 1))] = 1.0;
    }
  } else {
    const bool labels = problem.spec.loss != Loss::mse;
    for (int64_t i = 0; i < n * out; ++i)
      problem.y.values.push_back(labels ? (rng.next_double() < 0.5 ? 0.0 : 1.0) : rng.next_gaussian());
  }
  problem.data_description = "random:" + std::to_string(n) + " (seed " + std::to_string(seed) + ")";
}

namespace {

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r");
  const auto end = s.find_last_not_of(" \t\r");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) fields.push_back(trim(field));
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

// strtod that must consume the whole field.
std::optional<double> parse_number(const std::string& field) {
  if (field.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(field.c_str(), &end);
  if (end != field.c_str() + field.size()) return std::nullopt;
  return value;
}

}  // namespace

void set_csv_data(Problem& problem, const std::string& path) {
  std::istringstream in(detail::read_text_file(path));
  const int64_t n_in = problem.spec.layers.front(), n_out = problem.spec.layers.back();
  const auto width = static_cast<size_t>(n_in + n_out);
  problem.X = Tensor{{0, n_in}, {}};
  problem.y = Tensor{{0, n_out}, {}};
  std::string line;
  int64_t line_number = 0, rows = 0;
  bool first_content_line = true;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const auto fields = split_csv_line(line);
    std::vector<double> numbers;
    for (const auto& f : fields)
      if (auto v = parse_number(f)) numbers.push_back(*v);
    const bool is_header = first_content_line && numbers.size() != fields.size();
    first_content_line = false;
    if (is_header) continue;
    const std::string where = "line " + std::to_string(line_number);
    // cross_entropy's target may be one column, the class index.
    const bool class_column = problem.spec.loss == Loss::cross_entropy && fields.size() == static_cast<size_t>(n_in + 1);
    if (fields.size() != width && !class_column)
      throw InputError(path, where,
                       "expected " + std::to_string(width) + " comma-separated numbers (" + std::to_string(n_in) +
                           " inputs then " + std::to_string(n_out) + " targets" +
                           (problem.spec.loss == Loss::cross_entropy ? ", or the inputs then a class index" : "") +
                           "), got " +
                           std::to_string(fields.size()));
    for (size_t c = 0; c < fields.size(); ++c) {
      const auto v = parse_number(fields[c]);
      if (!v || !std::isfinite(*v))
        throw InputError(path, where + ", column " + std::to_string(c + 1),
                         "expected a finite number, got '" + fields[c] + "'");
    }
    problem.X.values.insert(problem.X.values.end(), numbers.begin(), numbers.begin() + n_in);
    if (class_column) {
      // One short column becomes a row of C targets: refused at the batch limit, not after the memory is gone.
      validate_batch_size(problem.spec, rows + 1, path);
      if (const std::string why = why_not_class_index(numbers.back(), n_out); !why.empty())
        throw InputError(path, where + ", column " + std::to_string(n_in + 1), why);
      std::vector<double> one_hot(static_cast<size_t>(n_out), 0.0);
      one_hot[static_cast<size_t>(numbers.back())] = 1.0;
      problem.y.values.insert(problem.y.values.end(), one_hot.begin(), one_hot.end());
    } else {
      problem.y.values.insert(problem.y.values.end(), numbers.begin() + n_in, numbers.end());
    }
    ++rows;
  }
  if (rows == 0) throw InputError(path, "", "no data rows: expected at least one row of numbers");
  problem.X.shape[0] = rows;
  problem.y.shape[0] = rows;
  problem.data_description = path;
}

}  // namespace gradverify
