#pragma once
// The `tangent` command line: each subcommand registers its options on a CLI11 app and returns the function
// that runs it.
#include <CLI/CLI.hpp>

#include <functional>

namespace tangent::cli {

using Run = std::function<int()>;

Run add_train(CLI::App& app);
Run add_eval(CLI::App& app);
Run add_predict(CLI::App& app);
Run add_export(CLI::App& app);    // tools/tangent/export.cpp
Run add_generate(CLI::App& app);  // tools/tangent/generate.cpp
Run add_ntk(CLI::App& app);       // tools/tangent/ntk.cpp
Run add_data(CLI::App& app);      // tools/tangent/data.cpp

}  // namespace tangent::cli
