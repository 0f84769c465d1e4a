#pragma once
// The limits of the command-line flags, as CLI11 validators: each flag states its limits once, where it is declared,
// and CLI11 checks them while parsing, before any file is read. A failing validator's message says what is wrong;
// CLI11 puts the flag's name in front ("--batch-size: ...").
#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "core/error.h"

namespace tangent::cli {

// The largest sizes the flags accept: far beyond what fits in memory, but small enough that products of two of
// them (batch * context, width * width) cannot overflow int64.
constexpr int64_t kMaxCount = int64_t{1} << 40;  // epochs, steps, tokens, examples
constexpr int64_t kMaxSize = int64_t{1} << 20;   // batch sizes, widths, context, heads, block sizes
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxThreads = 1024;
constexpr double kMaxReal = std::numeric_limits<double>::max();  // "no upper limit" for number()

// A decimal integer in [lo, hi] (no sign for lo >= 0, no spaces, no exponent).
CLI::Validator integer(int64_t lo, int64_t hi);
// A finite number in the interval from lo to hi (NaN and infinities are rejected); open_lo / open_hi exclude the
// end points.
CLI::Validator number(double lo, double hi, bool open_lo = false, bool open_hi = false);
// A comma-separated list of integers in [lo, hi]; at least one unless allow_empty.
CLI::Validator integer_list(int64_t lo, int64_t hi, bool allow_empty = false);
// A non-empty string.
CLI::Validator non_empty();
// A data set spec (data::load_dataset, data::load_text_dataset): the files it names ("npy:X.npy,Y.npy", "text:PATH",
// a plain "x.npy" where allowed) exist and are readable; the loader checks the rest of the grammar.
CLI::Validator data_spec();
// An existing regular file that this process can read (not a directory, FIFO or device).
CLI::Validator input_file();
// A file path to write: not empty, not a directory, in an existing directory this process can write to.
CLI::Validator output_file();
// A directory to write into (created when missing): not empty, not an existing non-directory, and the nearest
// existing ancestor is a writable directory.
CLI::Validator output_dir();

// Runs f(); a tangent::Error it raises is raised again with "FLAG: " in front, so that errors found while
// loading what a flag names (a data set, a checkpoint) name the flag.
template <typename F>
auto for_flag(const std::string& flag, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(flag + ": " + e.what());
  }
}

}  // namespace tangent::cli
