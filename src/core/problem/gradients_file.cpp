#include "gradverify/problem/gradients_file.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/problem/json_tensor.h"
#include "gradverify/errors.h"

namespace gradverify {

GradientsFile parse_gradients_json(const std::string& text, const std::string& source, const MlpSpec& spec) {
  const nlohmann::json doc = detail::parse_json_text(detail::quote_python_nonfinite(text), source);
  if (!doc.is_object())
    throw InputError(source, "", "expected a JSON object {\"dW1\": [[...]], \"db1\": [...], ...}, got " +
                                     detail::json_kind(doc));
  auto names = parameter_names(spec);
  const auto intermediates = intermediate_names(spec);
  names.insert(names.end(), intermediates.begin(), intermediates.end());

  GradientsFile file;
  for (const auto& [key, value] : doc.items()) {
    const std::string name = variable_of_key(key);
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      file.ignored_keys.push_back(key);
      continue;
    }
    SubmittedGradient& entry = file.gradients[name];
    try {
      entry.tensor = detail::read_tensor(value, key, detail::NonFinite::from_strings);
    } catch (const detail::FieldError& e) {
      entry.problem = e.field + ": " + e.what();  // costs this parameter only
      entry.malformed = true;
    }
  }
  return file;
}

GradientsFile load_gradients_file(const std::string& path, const MlpSpec& spec) {
  return parse_gradients_json(detail::read_text_file(path), path, spec);
}

std::string gradients_to_json(const TensorMap& gradients) {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [name, tensor] : gradients) doc[gradient_key(name)] = detail::tensor_to_json(tensor);
  return doc.dump(1) + "\n";
}

}  // namespace gradverify
