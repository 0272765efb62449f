#include "gradverify/check/answer_reading.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "gradverify/check/compare.h"

namespace gradverify {
namespace {

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

// A tensor of the answer, when it is there and readable.
const Tensor* given(const SubmittedGradients& answer, const std::string& name) {
  const auto it = answer.find(name);
  return it == answer.end() || !it->second.tensor ? nullptr : &*it->second.tensor;
}

bool close(const Tensor& computed, const Tensor& submitted, const Tolerances& tol) {
  return computed.values.size() == submitted.values.size() &&
         compare_tensor("", SubmittedGradient{Tensor{submitted.shape, computed.values}, "", false}, submitted, tol).passed;
}

// How far an answer's own numbers agree with dz_k in rows (or, `as_columns`, transposed):
// db_k = dz_k summed over the batch, and dh_{k-1} = dz_k·W_kᵀ. These hold for most wrong
// answers too, so they tell a layout apart where the shapes can't and the numbers are wrong.
int self_consistent(const SubmittedGradients& answer, const Problem& problem, bool as_columns, const Tolerances& tol) {
  const auto read = [&](const std::string& name) -> std::optional<Tensor> {
    const Tensor* t = given(answer, name);
    if (!t || t->shape.size() != 2) return std::nullopt;
    return as_columns ? transposed(*t) : *t;
  };
  int agreeing = 0;
  for (int64_t k = 1; k <= problem.spec.num_layers(); ++k) {
    const auto dz = read(preactivation_name(k));
    if (!dz) continue;
    const int64_t N = dz->shape[0], out = dz->shape[1];
    if (const Tensor* db = given(answer, bias_name(k)); db && db->numel() == out) {
      Tensor sums{{out}, std::vector<double>(static_cast<size_t>(out))};
      for (int64_t r = 0; r < N; ++r)
        for (int64_t o = 0; o < out; ++o) sums.values[static_cast<size_t>(o)] += dz->values[static_cast<size_t>(r * out + o)];
      agreeing += close(sums, Tensor{{out}, db->values}, tol) ? 1 : 0;
    }
    const auto dh = k > 1 ? read(activation_name(k - 1)) : std::nullopt;
    const Tensor& W = problem.params.at(weight_name(k));  // [in, out]
    if (dh && dh->shape == Shape{N, W.shape[0]} && W.shape[1] == out) {
      Tensor back{dh->shape, std::vector<double>(dh->values.size())};
      for (int64_t r = 0; r < N; ++r)
        for (int64_t i = 0; i < W.shape[0]; ++i)
          for (int64_t o = 0; o < out; ++o)
            back.values[static_cast<size_t>(r * W.shape[0] + i)] +=
                dz->values[static_cast<size_t>(r * out + o)] * W.values[static_cast<size_t>(i * out + o)];
      agreeing += close(back, *dh, tol) ? 1 : 0;
    }
  }
  return agreeing;
}

// How many of the answer's tensors named `names` match LibTorch's.
int matching(const SubmittedGradients& answer, const std::vector<std::string>& names, const TensorMap& reference,
             const Tolerances& tol) {
  int n = 0;
  for (const auto& name : names) {
    const auto it = answer.find(name);
    const auto ref = reference.find(name);
    if (it != answer.end() && ref != reference.end()) n += compare_tensor(name, it->second, ref->second, tol).passed;
  }
  return n;
}

// "dz and dh", "dz": the intermediates the answer has.
std::string intermediates_named(const SubmittedGradients& answer, const MlpSpec& spec) {
  bool dz = false, dh = false;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    dz = dz || given(answer, preactivation_name(k));
    dh = dh || given(answer, activation_name(k));
  }
  return dz && dh ? "dz and dh" : dz ? "dz" : "dh";
}

}  // namespace

AnswerReading read_answer_layouts(const SubmittedGradients& answer, const Problem& problem, const TensorMap& reference,
                                  const Tolerances& tolerances) {
  const MlpSpec& spec = problem.spec;
  const int64_t batch = problem.batch();
  AnswerReading reading{answer, {}};
  const std::vector<std::string> intermediates = intermediate_names(spec);
  // The intermediates' shapes vote: [batch, width] as the protocol has it, or [width, batch].
  int rows = 0, columns = 0;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    const int64_t width = spec.fan_out(k);
    if (width == batch) continue;  // square: its shape can't tell
    for (const auto& name : {preactivation_name(k), activation_name(k)}) {
      const Tensor* t = given(answer, name);
      if (!t) continue;
      rows += t->shape == Shape{batch, width} ? 1 : 0;
      columns += t->shape == Shape{width, batch} ? 1 : 0;
    }
  }
  SubmittedGradients columns_read = answer;
  for (int64_t k = 1; k <= spec.num_layers(); ++k)
    for (const auto& name : {preactivation_name(k), activation_name(k)}) {
      auto it = columns_read.find(name);
      if (it != columns_read.end() && it->second.tensor && it->second.tensor->shape == Shape{spec.fan_out(k), batch})
        it->second.tensor = transposed(*it->second.tensor);
    }
  bool as_columns = columns > 0 && rows == 0;
  if (columns == 0 && rows == 0) {  // every width is the batch: the answer's own numbers decide, then LibTorch's
    const int own_rows = self_consistent(answer, problem, false, tolerances);
    const int own_columns = self_consistent(answer, problem, true, tolerances);
    as_columns = own_columns > own_rows ||
                 (own_columns == own_rows && matching(columns_read, intermediates, reference, tolerances) >
                                                 matching(answer, intermediates, reference, tolerances));
  }
  if (as_columns) {
    reading.gradients = std::move(columns_read);
    reading.notes.push_back(fmt::format("{} came column-per-sample, [width, batch]; judged transposed back to "
                                        "LibTorch's [batch, width]",
                                        intermediates_named(answer, spec)));
  }

  // Per example: every parameter right and every intermediate N times LibTorch's is the
  // gradient of the summed loss, the 1/N left for dW and db (Andrew Ng's dZ = A - Y).
  const std::vector<std::string> parameters = parameter_names(spec);
  SubmittedGradients per_sample = reading.gradients;
  int present = 0;
  for (const auto& name : intermediates) {
    auto it = per_sample.find(name);
    if (it == per_sample.end() || !it->second.tensor) continue;
    ++present;
    for (double& v : it->second.tensor->values) v /= static_cast<double>(batch);
  }
  if (batch > 1 && present > 0 &&
      matching(reading.gradients, parameters, reference, tolerances) == static_cast<int>(parameters.size()) &&
      matching(reading.gradients, intermediates, reference, tolerances) == 0 &&
      matching(per_sample, intermediates, reference, tolerances) == present) {
    reading.gradients = std::move(per_sample);
    reading.notes.push_back(fmt::format("{} came per example, N = {} times LibTorch's (the gradient of the summed "
                                        "loss, with the 1/N in dW and db, as Andrew Ng's dZ = A - Y); judged divided "
                                        "by N, since every dW and db is right",
                                        intermediates_named(answer, spec), batch));
  }
  return reading;
}

std::optional<std::string> meant_key(const std::string& key, const std::vector<std::string>& expected) {
  const std::string r = reduced(key);
  for (const auto& e : expected)
    if (e != key && reduced(e) == r) return e;
  return std::nullopt;
}

std::string unknown_keys_note(const std::vector<std::string>& ignored, const ExpectedKeys& expected,
                              const std::vector<std::string>& present, const std::string& source) {
  const bool none_present = std::none_of(expected.required.begin(), expected.required.end(), [&](const std::string& k) {
    return std::find(present.begin(), present.end(), k) != present.end();
  });
  std::vector<std::string> all = expected.required;
  all.insert(all.end(), expected.optional.begin(), expected.optional.end());
  std::vector<std::string> meant;
  for (const auto& key : ignored)
    if (const auto m = meant_key(key, all)) meant.push_back(*m);
  const std::string suggestion = meant.empty() ? "" : ": did you mean " + listed(meant) + "?";
  const std::string what = listed(expected.required) +
                           (expected.optional.empty() ? "" : ", and optionally " + listed(expected.optional, 4));
  if (none_present) {
    if (ignored.empty() && present.empty()) return fmt::format("{} is empty: expected {}", source, what);
    std::vector<std::string> has = present;
    has.insert(has.end(), ignored.begin(), ignored.end());
    return fmt::format("none of {} is in {}; it has {}{}", listed(expected.required), source,
                       ignored.empty() ? "only " + listed(present) : listed(has),
                       meant.empty() ? " (expected " + what + ")" : suggestion);
  }
  if (ignored.empty()) return "";
  return fmt::format("ignored {} in {}: {} no gradient here{} (expected {})", listed(ignored), source,
                     ignored.size() == 1 ? "it names" : "they name", suggestion, what);
}

}  // namespace gradverify
