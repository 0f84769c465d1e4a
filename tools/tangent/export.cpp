// tangent export: write a checkpoint's model as ONNX (checked by the ONNX checker and shape inference, re-read
// after writing) or its weights as safetensors, or inspect an existing .onnx file (--check).
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "models/models.h"
#include "nn/checkpoint.h"
#include "nn/onnx_export.h"
#include "nn/safetensors.h"
#include "tools/tangent/commands.h"
#include "tools/tangent/flags.h"
#include "tools/tangent/outputs.h"

namespace tangent::cli {

Run add_export(CLI::App& app) {
  struct Args {
    std::string checkpoint, onnx, safetensors, check;
    int64_t batch = 0;
    bool softmax = false, with_past = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("checkpoint", a->checkpoint, "DIR/model.tgt (not needed with --check)")->check(input_file());
  app.add_option("--onnx", a->onnx, "write the model as ONNX (opset 17) to this file")->check(output_file());
  app.add_option("--safetensors", a->safetensors, "write the model's weights (state_dict) as safetensors")
      ->check(output_file());
  app.add_option("--batch", a->batch, "fix the batch size in the ONNX graph (default, 0: a dynamic 'batch' dim)")
      ->check(integer(0, kMaxSize));
  app.add_flag("--softmax", a->softmax, "append Softmax over the last axis (probabilities instead of logits)");
  app.add_flag("--with-past", a->with_past,
               "language models: write the generation graph, with past keys/values per layer as inputs and present "
               "ones as outputs (see the README), instead of the plain one");
  app.add_option("--check", a->check, "check FILE.onnx and print its inputs, outputs, operators and parameters")
      ->check(input_file());
  return [a] {
    if (!a->check.empty()) {
      TANGENT_CHECK(a->checkpoint.empty() && a->onnx.empty() && a->safetensors.empty(),
                    "export: --check FILE.onnx takes no checkpoint, --onnx or --safetensors");
      const nn::OnnxSummary s = nn::inspect_onnx(a->check);
      std::printf("%s: ok\n%s", a->check.c_str(), s.str().c_str());
      return 0;
    }
    TANGENT_CHECK(!a->checkpoint.empty(), "export: a checkpoint (DIR/model.tgt) is required, or --check FILE.onnx");
    TANGENT_CHECK(!a->onnx.empty() || !a->safetensors.empty(),
                  "export: nothing to do: pass --onnx FILE.onnx and/or --safetensors FILE.safetensors");
    TANGENT_CHECK(a->onnx.empty() || a->onnx != a->safetensors, "export: --onnx and --safetensors name the same file");
    TANGENT_CHECK(!a->with_past || !a->onnx.empty(), "export: --with-past applies to the ONNX graph: pass --onnx FILE");
    OutputFiles outputs;
    const nn::Checkpoint c = nn::load_checkpoint(a->checkpoint);
    auto model = models::create_model(c.model_kind, c.model_config);
    model->load_state_dict(c.model_state);
    model->eval();
    if (!a->onnx.empty()) {
      nn::OnnxExportOptions o;
      o.batch = a->batch;
      o.softmax = a->softmax;
      o.with_past = a->with_past;
      o.metadata["checkpoint"] = a->checkpoint;
      o.metadata["epoch"] = std::to_string(c.epoch);
      for (const auto& [k, v] : c.metadata)
        if (k != "history") o.metadata["checkpoint." + k] = v;  // the per-epoch history would bloat the file
      nn::save_onnx(a->onnx, *model, o);
      outputs.wrote(a->onnx);
      const nn::OnnxSummary s = nn::inspect_onnx(a->onnx);  // re-read what landed on disk
      std::printf("wrote %s (%s model, checked)\n%s", a->onnx.c_str(), c.model_kind.c_str(), s.str().c_str());
    }
    if (!a->safetensors.empty()) {
      std::map<std::string, std::string> meta = {{"format", "pt"},
                                                 {"producer", "tangent"},
                                                 {"model_kind", c.model_kind},
                                                 {"model_config", c.model_config.str()}};
      for (const auto& [k, v] : c.model_config.values()) meta["config." + k] = v;
      const nn::StateDict state = model->state_dict();
      nn::write_safetensors(a->safetensors, state, meta);
      outputs.wrote(a->safetensors);
      const nn::SafeTensors back = nn::read_safetensors(a->safetensors);
      int64_t count = 0;
      for (const auto& [name, t] : back.tensors) count += t.numel();
      std::printf("wrote %s: %zu tensors, %lld values\n", a->safetensors.c_str(), back.tensors.size(),
                  static_cast<long long>(count));
    }
    outputs.keep();
    return 0;
  };
}

}  // namespace tangent::cli
