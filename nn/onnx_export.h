#pragma once
// ONNX export: turns a Module tree whose every module has a registered emitter (nn/onnx_emitter.h: Sequential,
// the layers of nn/, the MLP and the ConvNet) into an ONNX model (opset 17)
// built with the official ONNX protobuf classes, checked by onnx::checker and ONNX shape inference before any
// byte is written. Initializers hold the trained weights as float32; the batch dimension is dynamic ("batch")
// unless a fixed batch size is asked for. Also inspects an existing .onnx file (inputs, outputs, operator counts,
// parameter count), as `tangent export --check` prints it.
//
// ONNX stays a private dependency of the library: this header does not include ONNX headers. Code that links
// ONNX itself can get the ModelProto through build_onnx_model().
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace onnx {
class ModelProto;
}

namespace tangent::nn {

constexpr int64_t kOnnxOpset = 17;

struct OnnxExportOptions {
  // Shape of one example, without the batch dim; empty: the model's input_shape() (nn::Model only).
  Shape input_shape;
  // Dtype of the input; Float32 unless the model asks for int64 ids (Embedding first, or nn::Model::input_dtype()).
  // Leave unset (Bool is not a valid input dtype) to take the model's.
  DType input_dtype = DType::Bool;
  // 0: dynamic batch (dim_param "batch"); N > 0: a fixed batch of N.
  int64_t batch = 0;
  // Append Softmax over the last axis (probabilities instead of logits).
  bool softmax = false;
  std::string input_name = "input";
  std::string output_name = "output";
  std::string graph_name;  // empty: the module's type name
  // Language models (models/gpt_onnx.cpp): the generation graph, with past keys and values per layer as extra
  // inputs and present ones as extra outputs. An Error for a model whose emitter does not declare those.
  bool with_past = false;
  // Extra metadata_props entries (producer, model kind and config are always added).
  std::map<std::string, std::string> metadata;
};

// A readable description of an ONNX model, as `tangent export --check` prints it.
struct OnnxValueInfo {
  std::string name;
  std::string elem_type;          // "float32", "int64", ...
  std::vector<std::string> dims;  // "batch", "28", or "?" when unknown
};

struct OnnxSummary {
  std::string producer;  // "tangent 0.1.0"
  int64_t ir_version = 0;
  int64_t opset = 0;  // of the default domain
  std::vector<OnnxValueInfo> inputs, outputs;
  std::vector<std::string> nodes;            // op types in graph order
  std::map<std::string, int64_t> op_counts;  // op_type -> number of nodes
  int64_t num_initializers = 0;
  int64_t num_parameters = 0;                                 // sum of the initializers' element counts
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata_props in file order
  std::string str() const;                                    // multi-line report
};

// Builds the ONNX model into `model` (callers that link ONNX). The module is exported in eval mode (its mode is
// restored afterwards). Raises tangent::Error naming the layer path ("features.3") of a layer that has no ONNX
// emitter, or the checker's complaint.
void build_onnx_model(Module& module, const OnnxExportOptions& options, onnx::ModelProto* model);
// The serialized, checked model.
std::string export_onnx(Module& module, const OnnxExportOptions& options = {});
// Exports and writes `path` atomically; on any error no file is written. Returns the summary of what was written.
OnnxSummary save_onnx(const std::string& path, Module& module, const OnnxExportOptions& options = {});

// Parses serialized ONNX bytes / a .onnx file, runs onnx::checker::check_model and strict shape inference, and
// describes the model. `what` names the source in errors.
OnnxSummary inspect_onnx_bytes(const std::string& bytes, const std::string& what = "model");
OnnxSummary inspect_onnx(const std::string& path);

}  // namespace tangent::nn
