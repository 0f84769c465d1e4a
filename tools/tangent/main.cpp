// tangent: train, evaluate and run models from the command line.
//
// Every failure ends the same way: one line "error: ..." on stderr naming the flag or file and what is wrong, and
// exit status 1. --help prints the usage and exits 0.
#include <cstdio>
#include <map>
#include <new>
#include <string>

#include "core/error.h"
#include "nn/distributed/process_group.h"
#include "tools/tangent/commands.h"

namespace {

int fail(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  while (!message.empty() && message.back() == ' ') message.pop_back();
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

}  // namespace

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
  sub("data", "Write a benchmark data set (affine-fashion-mnist: the affNIST protocol on Fashion-MNIST)",
      tangent::cli::add_data);
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const auto& [s, run] : runs) {
      names += (names.empty() ? "" : ", ") + s->get_name();
      known = known || s->get_name() == argv[1];
    }
    if (!known) return fail(std::string("unknown command '") + argv[1] + "' (expected one of " + names + ")");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    std::string usage = "tangent --help";
    for (const auto& [s, run] : runs)
      if (s->parsed()) usage = "tangent " + s->get_name() + " --help";
    return fail(std::string(e.what()) + " (see " + usage + ")");
  }
  try {
    for (auto& [s, run] : runs)
      if (s->parsed()) return run();
  } catch (const std::bad_alloc&) {
    const int code = fail("out of memory");
    tangent::distributed::abort_job(code);  // under mpirun: no other rank may wait for this one
    return code;
  } catch (const std::exception& e) {
    const int code = fail(e.what());
    tangent::distributed::abort_job(code);
    return code;
  }
  return 0;
}
