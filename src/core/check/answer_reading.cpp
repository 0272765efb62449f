#include "gradverify/check/answer_reading.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "gradverify/check/compare.h"

namespace gradverify {
namespace {

Tensor transposed(const Tensor& a) {
  Tensor t{{a.shape[1], a.shape[0]}, std::vector<double>(a.values.size())};
  for (int64_t i = 0; i < a.shape[0]; ++i)
    for (int64_t j = 0; j < a.shape[1]; ++j)
      t.values[static_cast<size_t>(j * a.shape[0] + i)] = a.values[static_cast<size_t>(i * a.shape[1] + j)];
  return t;
}

// A name reduced to what tells gradients apart: "grad_W1", "dL_dW1", "DW_1" and "W1" all give "w1".
std::string reduced(const std::string& key) {
  std::string s;
  for (const char ch : key)
    if (std::isalnum(static_cast<unsigned char>(ch))) s += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const auto strip_prefix = [&](const std::string& p) {
    if (s.size() > p.size() && s.compare(0, p.size(), p) == 0) s.erase(0, p.size());
  };
  strip_prefix("grad");
  if (s.size() > 3 && s.compare(0, 3, "dld") == 0) s.erase(0, 2);  // dL/dW1
  if (s.size() > 4 && s.compare(s.size() - 4, 4, "grad") == 0) s.erase(s.size() - 4);
  if (s.size() > 1 && s[0] == 'd') s.erase(0, 1);
  return s;
}

// "a, b, c" with at most `most` items, then how many in all.
std::string listed(const std::vector<std::string>& items, size_t most = 8) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < most; ++i) s += (i == 0 ? "" : ", ") + items[i];
  if (items.size() > most) s += fmt::format(", ... ({} in all)", items.size());
  return s;
}

}  // namespace

AnswerReading read_answer_layouts(const SubmittedGradients& answer, const MlpSpec& spec, int64_t batch,
                                  const TensorMap& reference, const Tolerances& tolerances) {
  AnswerReading reading{answer, {}};
  // The intermediates' shapes vote: [batch, width] as the protocol has it, or [width, batch].
  int rows = 0, columns = 0;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    const int64_t width = spec.fan_out(k);
    if (width == batch) continue;  // square: its shape can't tell
    for (const auto& name : {preactivation_name(k), activation_name(k)}) {
      const auto it = answer.find(name);
      if (it == answer.end() || !it->second.tensor) continue;
      const Shape& shape = it->second.tensor->shape;
      rows += shape == Shape{batch, width} ? 1 : 0;
      columns += shape == Shape{width, batch} ? 1 : 0;
    }
  }
  SubmittedGradients columns_read = answer;
  int matching_as_given = 0, matching_transposed = 0;
  for (int64_t k = 1; k <= spec.num_layers(); ++k)
    for (const auto& name : {preactivation_name(k), activation_name(k)}) {
      auto it = columns_read.find(name);
      if (it == columns_read.end() || !it->second.tensor || it->second.tensor->shape != Shape{spec.fan_out(k), batch})
        continue;
      const auto ref = reference.find(name);
      if (ref != reference.end()) matching_as_given += compare_tensor(name, it->second, ref->second, tolerances).passed;
      it->second.tensor = transposed(*it->second.tensor);
      if (ref != reference.end()) matching_transposed += compare_tensor(name, it->second, ref->second, tolerances).passed;
    }
  const bool shapes_say_columns = columns > 0 && rows == 0;
  const bool numbers_say_columns = columns == 0 && rows == 0 && matching_transposed > matching_as_given;
  if (!shapes_say_columns && !numbers_say_columns) return reading;
  reading.gradients = std::move(columns_read);
  reading.notes.push_back(fmt::format("dz and dh came column-per-sample, [width, batch]; they were judged transposed "
                                      "back to LibTorch's [batch, width] = [{}, ...]", batch));
  return reading;
}

std::optional<std::string> meant_key(const std::string& key, const std::vector<std::string>& expected) {
  const std::string r = reduced(key);
  for (const auto& e : expected)
    if (e != key && reduced(e) == r) return e;
  return std::nullopt;
}

std::string unknown_keys_note(const std::vector<std::string>& ignored, const ExpectedKeys& expected,
                              bool none_present, const std::string& source) {
  std::vector<std::string> all = expected.required;
  all.insert(all.end(), expected.optional.begin(), expected.optional.end());
  std::vector<std::string> meant;
  for (const auto& key : ignored)
    if (const auto m = meant_key(key, all)) meant.push_back(*m);
  const std::string suggestion = meant.empty() ? "" : ": did you mean " + listed(meant) + "?";
  const std::string what = listed(expected.required) +
                           (expected.optional.empty() ? "" : ", and optionally " + listed(expected.optional, 4));
  if (none_present) {
    if (ignored.empty()) return fmt::format("{} has none of the answer's entries: expected {}", source, what);
    return fmt::format("none of {} is in {}; it has {}{}", listed(expected.required), source, listed(ignored),
                       meant.empty() ? " (expected " + what + ")" : suggestion);
  }
  if (ignored.empty()) return "";
  return fmt::format("ignored {} in {}: {} no gradient here{} (expected {})", listed(ignored), source,
                     ignored.size() == 1 ? "it names" : "they name", suggestion, what);
}

}  // namespace gradverify
