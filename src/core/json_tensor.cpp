#include "json_tensor.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>
#include <utility>

#include "gradverify/errors.h"

namespace gradverify::detail {
namespace {

constexpr size_t kMaxRank = 8;  // deeper nesting is refused before it can exhaust the stack

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

double read_number(const nlohmann::json& value, const std::string& field, NonFinite non_finite) {
  if (value.is_number()) {
    const double x = value.get<double>();
    // nlohmann stores out-of-range literals such as 1e999 as +-inf.
    if (!std::isfinite(x) && non_finite == NonFinite::reject)
      throw FieldError(field, "expected a finite number, got " + value.dump());
    return x;
  }
  if (value.is_string() && non_finite == NonFinite::from_strings) {
    const std::string s = lower(value.get<std::string>());
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf" || s == "+inf" || s == "infinity") return std::numeric_limits<double>::infinity();
    if (s == "-inf" || s == "-infinity") return -std::numeric_limits<double>::infinity();
    throw FieldError(field, "expected a number or \"nan\", \"inf\", \"-inf\", got " + value.dump());
  }
  throw FieldError(field, std::string(non_finite == NonFinite::from_strings
                                          ? "expected a number or \"nan\", \"inf\", \"-inf\", got "
                                          : "expected a number, got ") +
                              json_kind(value));
}

void read_into(const nlohmann::json& value, const std::string& field, const Shape& shape, size_t depth,
               NonFinite non_finite, std::vector<double>& out) {
  if (depth == shape.size()) {
    out.push_back(read_number(value, field, non_finite));
    return;
  }
  if (!value.is_array())
    throw FieldError(field, "expected an array of " + std::to_string(shape[depth]) + ", got " + json_kind(value));
  if (static_cast<int64_t>(value.size()) != shape[depth])
    throw FieldError(field, "ragged array: expected " + std::to_string(shape[depth]) + " entries, got " +
                                std::to_string(value.size()));
  for (size_t i = 0; i < value.size(); ++i)
    read_into(value[i], field + "[" + std::to_string(i) + "]", shape, depth + 1, non_finite, out);
}

}  // namespace

std::string json_kind(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    default: return "a number";
  }
}

Tensor read_tensor(const nlohmann::json& value, const std::string& field, NonFinite non_finite) {
  // The shape is read down the first elements, then every element is checked against it.
  Tensor tensor;
  const nlohmann::json* probe = &value;
  while (probe->is_array()) {
    if (tensor.shape.size() == kMaxRank)
      throw FieldError(field, "arrays nested deeper than " + std::to_string(kMaxRank) + " levels");
    tensor.shape.push_back(static_cast<int64_t>(probe->size()));
    if (probe->empty()) break;
    probe = &(*probe)[0];
  }
  tensor.values.reserve(static_cast<size_t>(tensor.numel()));
  read_into(value, field, tensor.shape, 0, non_finite, tensor.values);
  return tensor;
}

nlohmann::json number_to_json(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

// Writes the sub-array of `tensor` at dimension `dim`, consuming values from `next` on.
static nlohmann::json slice_to_json(const Tensor& tensor, size_t dim, size_t& next) {
  if (dim == tensor.shape.size()) return number_to_json(tensor.values[next++]);
  nlohmann::json array = nlohmann::json::array();
  for (int64_t i = 0; i < tensor.shape[dim]; ++i) array.push_back(slice_to_json(tensor, dim + 1, next));
  return array;
}

nlohmann::json tensor_to_json(const Tensor& tensor) {
  size_t next = 0;
  return slice_to_json(tensor, 0, next);
}

std::string quote_python_nonfinite(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];  // keep escaped characters as they are
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const auto& [token, quoted] : {std::pair{"-Infinity", "\"-inf\""}, std::pair{"Infinity", "\"inf\""},
                                        std::pair{"NaN", "\"nan\""}}) {
      const std::string_view t(token);
      if (text.compare(i, t.size(), t) == 0) {
        out += quoted;
        i += t.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

void write_spec(nlohmann::json& doc, const MlpSpec& spec) {
  doc["layers"] = spec.layers;
  doc["activations"] = nlohmann::json::array();
  for (auto a : spec.activations) doc["activations"].push_back(to_string(a));
  doc["loss"] = to_string(spec.loss);
  doc["dtype"] = to_string(spec.dtype);
}

nlohmann::json parse_json_text(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    // or, for a number such as 1e999, "[json.exception.out_of_range.406] number overflow ...".
    std::string what = e.what();
    const auto pos = what.find("] ");
    throw InputError(source, "", "not valid JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
}

nlohmann::json parse_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open the file for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(path, "", "cannot read the file");
  return parse_json_text(text.str(), path);
}

}  // namespace gradverify::detail
