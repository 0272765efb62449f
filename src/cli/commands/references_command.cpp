// gradverify references: LibTorch's answers to a rubric's cases, computed once here and
// stored (grading/references.h), so that `grade --references` needs no LibTorch.
#include "references_command.h"

#include <fmt/format.h>

#include <iostream>

#include "gradverify/grading/references.h"
#include "output.h"
#include "torch_backend.h"
#include "usage.h"

namespace gradverify::cli {

void add_references_command(CLI::App& app, ReferencesOptions& o) {
  CLI::App* command =
      app.add_subcommand("references", "Compute a rubric's references with LibTorch once, to grade without LibTorch");
  command->footer(R"(
LibTorch's gradients for every case of the rubric, and with --variants K, K different inputs
for every generated case (an op case, or an mlp case without a problem_file), written to one
JSON file. `gradverify grade --references FILE` then grades with them and never loads
LibTorch: a grading machine needs no LibTorch package, starts in milliseconds and stays
under 100 MB. autograder-bundle puts such a file in the bundle.

With variants, each student gets their own inputs, so a copied answer fails: the variant is
HMAC-SHA-256(secret, student id) mod K, where the secret is drawn now and kept in the file.
The same student gets the same variant on every regrade; a classmate most likely another.
Remade references draw a new secret, unless --secret-from keeps an earlier file's: with the
same --variants, every student keeps their variant (after a fix to the rubric, say).

The file holds the hidden cases' answers: it is written readable by its owner only (0600).
It records the gradverify and LibTorch versions that made it and the rubric's SHA-256;
grading with another rubric, or a changed one, is refused.

Exit status: 0 written, 2 a bad rubric, option or output path, 4 an internal error.

Examples:
  gradverify references -o references.json
  gradverify references --rubric my_rubric.json --variants 8 -o references.json
  gradverify grade --rubric my_rubric.json --references references.json --student-id 1234 \
      --submission-cmd ./runner)");
  add_rubric_option(command, o.rubric_path, o.builtin_rubric);
  command->add_option("--variants", o.variants, "Inputs per generated case, one picked per student")
      ->capture_default_str()
      ->check(whole_number_from(int64_t{1}, kMaxVariants));
  command->add_option("--output,-o", o.output_path, "The references file to write")->required();
  command->add_option("--secret-from", o.secret_from,
                      "An earlier references file whose secret to keep, so that students keep their variants")
      ->check(existing_file());
  command->add_flag("--quiet,-q", o.quiet, "No progress on stderr");
}

int run_references(const ReferencesOptions& o) {
  require_writable_file(o.output_path);
  const Rubric rubric = o.rubric_path.empty() ? builtin_rubric(o.builtin_rubric) : load_rubric(o.rubric_path);
  const std::string secret = o.secret_from.empty() ? "" : secret_of_references(o.secret_from);
  Progress progress(o.quiet);
  const StoredReferences refs = compute_references(rubric, torch_reference_source(), o.variants, secret,
                                                   [&](size_t done, size_t total) {
    progress.update(fmt::format("references: {}/{} computed with LibTorch", done, total), done, total);
  });
  progress.finish();
  size_t stored = 0;
  for (const auto& c : refs.cases) stored += c.variants.size();
  write_file(o.output_path, references_to_json(refs), 0600);
  std::cout << fmt::format("gradverify: wrote {}: {} references for {} cases ({} variant{} per generated case), by "
                           "LibTorch {}; readable by its owner only\n",
                           o.output_path, stored, refs.cases.size(), refs.variants, refs.variants == 1 ? "" : "s",
                           refs.libtorch_version);
  return kPass;
}

}  // namespace gradverify::cli
