#pragma once
// Pictures through gnuplot (Debian's gnuplot-nox): the data goes to a CSV file and the plot
// commands to a .gp script beside it, then gnuplot renders a PNG. Without gnuplot the CSV
// and script are still written, and the result says how to render them later.
#include <string>
#include <vector>

namespace gradverify::cli {

struct PlotResult {
  std::string data_path;    // the CSV
  std::string script_path;  // the gnuplot script
  std::string image_path;   // the PNG, when rendered
  bool rendered = false;
  std::string message;      // what happened, for the user: where the picture is, or how to make it
};

// Writes `data` to DIR/NAME.csv and `script` to DIR/NAME.gp, then runs gnuplot on it if it
// is installed. In `script`, @DATA@ and @IMAGE@ stand for the two paths, written absolute and
// quoted as gnuplot strings (so the .gp runs from any directory, whatever the names hold).
// When gnuplot fails, the message quotes its error.
PlotResult write_plot(const std::string& dir, const std::string& name, const std::string& data,
                      const std::string& script);

// A string as gnuplot reads it: in single quotes, a quote inside doubled; in double quotes
// (for titles), with backslashes and double quotes escaped.
std::string gnuplot_quoted(const std::string& text);
std::string gnuplot_double_quoted(const std::string& text);

}  // namespace gradverify::cli
