// tangent: train, evaluate and run models from the command line.
#include <cstdio>
#include <map>

#include "core/error.h"
#include "tools/tangent/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"tangent: train, evaluate, export and analyse models (see `tangent <command> --help`)"};
  app.require_subcommand(1);
  std::map<CLI::App*, tangent::cli::Run> runs;
  auto sub = [&](const char* name, const char* help, tangent::cli::Run (*add)(CLI::App&)) {
    CLI::App* s = app.add_subcommand(name, help);
    runs[s] = add(*s);
  };
  sub("train", "Train a model and write DIR/model.tgt, DIR/metrics.csv and DIR/curves.svg", tangent::cli::add_train);
  sub("eval", "Print a checkpoint's accuracy and loss on a data set", tangent::cli::add_eval);
  sub("predict", "Write a checkpoint's outputs for inputs in a .npy file", tangent::cli::add_predict);
  sub("export", "Export a checkpoint to ONNX or safetensors, or inspect an ONNX file", tangent::cli::add_export);
  sub("generate", "Sample text from a language-model checkpoint", tangent::cli::add_generate);
  sub("ntk", "Compute the empirical (or analytic) neural tangent kernel of a checkpoint on a data set",
      tangent::cli::add_ntk);
  app.failure_message([](const CLI::App* a, const CLI::Error& e) { return "error: " + CLI::FailureMessage::simple(a, e); });
  CLI11_PARSE(app, argc, argv);
  try {
    for (auto& [s, run] : runs)
      if (s->parsed()) return run();
  } catch (const tangent::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
