// Writes a seed corpus for each fuzz target (tests/fuzz/fuzz_<reader>.cpp) into OUT/<target>/, with the library's
// own writers: valid checkpoints, .npy files of several dtypes and shapes (and hand-written ones in the variants
// write_npy does not produce), IDX plain and gzip, CSV, safetensors, text and exported ONNX models.
//   make_seeds OUT
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <tangent/tangent.h>

using namespace tangent;
namespace fs = std::filesystem;

namespace {

fs::path out_dir;

std::string seed(const std::string& target, const std::string& name) {
  const fs::path dir = out_dir / target;
  fs::create_directories(dir);
  return (dir / name).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  TANGENT_CHECK(out.good(), "make_seeds: cannot write '", path, "'");
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A .npy file with a hand-written header dict (version 1.0) and raw data bytes.
std::string npy(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

std::shared_ptr<models::MLP> small_mlp() {
  models::MLPOptions o;
  o.input_shape = {2, 3};
  o.hidden = {4};
  o.out_features = 3;
  return std::make_shared<models::MLP>(o);
}

void checkpoints() {
  manual_seed(1);
  auto mlp = small_mlp();
  nn::Checkpoint c;
  c.model_kind = mlp->kind();
  c.model_config = mlp->config();
  c.model_state = mlp->state_dict();
  c.optimizer_kind = "Adam";
  c.optimizer_scalars = {{"lr", 1e-3}, {"step.0", 3}};
  c.optimizer_tensors = {{"exp_avg.0", randn({4, 6})}};
  c.scheduler = {{"last_epoch", 2}};
  c.epoch = 2;
  c.step = 30;
  c.rng = PhiloxState{7, 11};
  c.metadata = {{"data", "fashion-mnist:64"}, {"history", "1,0.5;"}};
  nn::save_checkpoint(seed("fuzz_checkpoint", "mlp.tgt"), c);

  nn::Checkpoint d;
  d.model_kind = "mlp";
  d.model_state = {{"f64", randn({2, 2}, kFloat64)},
                   {"f16", randn({3}).to(kFloat16)},
                   {"bf16", randn({2}).to(kBFloat16)},
                   {"i64", arange(0, 4)},
                   {"bool", tensor(std::vector<bool>{true, false}, {2})},
                   {"scalar", scalar_tensor(2.5)},
                   {"empty", zeros({0, 3})}};
  nn::save_checkpoint(seed("fuzz_checkpoint", "dtypes.tgt"), d);
  nn::save_checkpoint(seed("fuzz_checkpoint", "empty.tgt"), nn::Checkpoint());
  // The payload target takes the protobuf message without the 24-byte frame.
  for (const char* name : {"mlp.tgt", "dtypes.tgt", "empty.tgt"})
    write_bytes(seed("fuzz_checkpoint_payload", name), read_bytes(seed("fuzz_checkpoint", name)).substr(24));
}

void npys() {
  const std::string t = "fuzz_npy";
  data::write_npy(seed(t, "f32.npy"), arange(0, 6).to(kFloat32).reshape({2, 3}));
  data::write_npy(seed(t, "f64.npy"), arange(0, 4).to(kFloat64));
  data::write_npy(seed(t, "f16.npy"), ones({2, 1, 2}).to(kFloat16));
  data::write_npy(seed(t, "i64.npy"), arange(0, 3));
  data::write_npy(seed(t, "bool.npy"), tensor(std::vector<bool>{true, false, true}, {3}));
  data::write_npy(seed(t, "scalar.npy"), scalar_tensor(1.5));
  data::write_npy(seed(t, "empty.npy"), zeros({0, 2}));
  write_bytes(seed(t, "i4_fortran.npy"), npy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2), }",
                                             std::string("\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0", 16)));
  write_bytes(seed(t, "be_u2.npy"),
              npy("{\"descr\": \">u2\", \"fortran_order\": False, \"shape\": (2,)}", std::string("\0\1\1\0", 4)));
  write_bytes(seed(t, "u8.npy"),
              npy("{'descr': '<u8', 'fortran_order': False, 'shape': (1L,), }", std::string("\5\0\0\0\0\0\0\0", 8)));
}

void idxs() {
  for (const char* suffix : {"", ".gz"}) {
    const std::string s = suffix;
    data::write_idx(seed("fuzz_idx", "labels" + s), tensor(std::vector<int64_t>{1, 2, 3, 9}));
    data::write_idx(seed("fuzz_idx", "images" + s), arange(0, 18).reshape({2, 3, 3}));
    data::write_idx(seed("fuzz_idx", "f32" + s), arange(0, 4).to(kFloat32).reshape({2, 2}));
    data::write_idx(seed("fuzz_idx", "f64" + s), arange(0, 3).to(kFloat64));
  }
  // The signed integer types, which write_idx does not produce: int8, int16, int32 (big-endian).
  write_bytes(seed("fuzz_idx", "i8"), std::string("\0\0\x09\x01\0\0\0\2\xff\x01", 10));
  write_bytes(seed("fuzz_idx", "i16"), std::string("\0\0\x0b\x01\0\0\0\2\xff\xfe\0\1", 12));
  write_bytes(seed("fuzz_idx", "i32"), std::string("\0\0\x0c\x02\0\0\0\1\0\0\0\1\x80\0\0\0", 16));
  // fuzz_idx_gz takes uncompressed content and gzips it itself.
  for (const auto& e : fs::directory_iterator(out_dir / "fuzz_idx"))
    if (e.path().extension() != ".gz")
      write_bytes(seed("fuzz_idx_gz", e.path().filename().string()), read_bytes(e.path().string()));
}

void csvs() {
  data::write_csv(seed("fuzz_csv", "header.csv"), arange(0, 6).to(kFloat32).reshape({3, 2}),
                  {"x", "label, quoted \"name\""});
  data::write_csv(seed("fuzz_csv", "column.csv"), tensor(std::vector<double>{0.1, -2e30, 3}));
  write_bytes(seed("fuzz_csv", "tabs.csv"), "a\tb\r\n1\t nan \r\n\r\n\"2\"\t-inf\n");
}

void safetensors() {
  manual_seed(2);
  nn::write_safetensors(seed("fuzz_safetensors", "mlp.safetensors"), small_mlp()->state_dict(),
                        {{"format", "pt"}, {"producer", "tangent"}});
  nn::write_safetensors(seed("fuzz_safetensors", "dtypes.safetensors"),
                        {{"f64", randn({2}, kFloat64)},
                         {"f16", ones({3}).to(kFloat16)},
                         {"bf16", ones({1}).to(kBFloat16)},
                         {"i64", arange(0, 2)},
                         {"b", tensor(std::vector<bool>{true, false}, {2})},
                         {"s", scalar_tensor(1.0)},
                         {"e", zeros({0})}});
}

void texts() {
  // fuzz_text: byte 0 picks the context, byte 1 the validation fraction, the rest is the file.
  write_bytes(seed("fuzz_text", "fortune.txt"),
              std::string("\x03\x20") + "You will be fuzzed.\n%\nA bug in the hand is worth two in the CI.\n");
  write_bytes(seed("fuzz_text", "bytes.txt"), std::string("\x00\x80\xff\xfe\n\t\xc3\xa9t\xc3\xa9", 10));
}

void onnx_models() {
  manual_seed(3);
  auto mlp = small_mlp();
  write_bytes(seed("fuzz_onnx", "mlp.onnx"), nn::export_onnx(*mlp));
  nn::OnnxExportOptions o;
  o.batch = 2;
  o.softmax = true;
  write_bytes(seed("fuzz_onnx", "mlp_softmax.onnx"), nn::export_onnx(*mlp, o));
  models::ConvNetOptions c;
  c.input_shape = {1, 6, 6};
  c.channels = {2};
  c.hidden = 4;
  c.num_classes = 3;
  write_bytes(seed("fuzz_onnx", "cnn.onnx"), nn::export_onnx(*std::make_shared<models::ConvNet>(c)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 2;
  }
  try {
    out_dir = argv[1];
    fs::remove_all(out_dir);
    checkpoints();
    npys();
    idxs();
    csvs();
    safetensors();
    texts();
    onnx_models();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(out_dir)) n += e.is_regular_file();
  std::printf("make_seeds: wrote %zu seed files under %s\n", n, out_dir.string().c_str());
  return 0;
}
