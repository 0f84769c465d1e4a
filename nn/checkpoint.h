#pragma once
// Checkpoints: everything needed to rebuild a model and resume its training, in one protobuf message
// (nn/checkpoint.proto) inside a checked frame: magic "TGNTCKPT", format version, payload length and CRC-32.
// Files are written atomically and durably (data::write_atomically: temp file, fsync, rename, fsync of the
// directory), so a crash never leaves a half-written checkpoint;
// loading a truncated, corrupted or foreign file raises a tangent::Error saying which, and never crashes.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "nn/config.h"
#include "nn/module.h"

namespace tangent::nn {

constexpr uint32_t kCheckpointFormatVersion = 1;

struct Checkpoint {
  std::string model_kind;  // "mlp", "cnn", ...
  Config model_config;
  StateDict model_state;
  // Optimizer state (empty kind: none), as optim::Optimizer::state_dict() gives it.
  std::string optimizer_kind;
  std::vector<std::pair<std::string, double>> optimizer_scalars;
  StateDict optimizer_tensors;
  std::vector<std::pair<std::string, double>> scheduler;  // LR scheduler state
  int64_t epoch = 0;                                      // completed epochs
  int64_t step = 0;                                       // completed optimisation steps
  PhiloxState rng;                                        // the global generator's state
  // A data-parallel run's generator states, one per rank (rank 0's is also `rng`); empty for one process.
  std::vector<PhiloxState> rank_rngs;
  std::map<std::string, std::string> metadata;  // data set, metrics, command line, ...
  uint32_t format_version = kCheckpointFormatVersion;
  std::string producer;
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
Checkpoint load_checkpoint(const std::string& path);

// Reads a whole file; a missing or unreadable file raises an Error naming it.
std::string read_file(const std::string& path);

}  // namespace tangent::nn
