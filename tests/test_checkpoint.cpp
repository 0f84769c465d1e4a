// Tests of checkpoints (nn/checkpoint.h): every field round-trips (all dtypes, 0-dim, empty and non-contiguous
// tensors, optimizer and scheduler state, rng, metadata, config); files are written atomically; and every kind of
// damaged file (missing, empty, foreign, truncated anywhere, flipped bytes, trailing bytes, a future version, a
// payload that does not parse) raises a tangent::Error saying what is wrong, never a crash.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <tangent/tangent.h>

using namespace tangent;
namespace fs = std::filesystem;

namespace {

// A fresh, empty directory per test, removed afterwards.
class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("tangent_ckpt_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path dir_;
};

std::string read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// CRC-32 (zlib's polynomial), to forge frames whose checksum is right.
uint32_t crc32_of(const std::string& s, size_t from) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = from; i < s.size(); ++i) {
    c ^= static_cast<unsigned char>(s[i]);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}
void set_u32(std::string* s, size_t pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[pos + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void fix_crc(std::string* s) { set_u32(s, 20, crc32_of(*s, 24)); }

// Expects load_checkpoint(p) to raise a tangent::Error containing `part`.
void expect_load_error(const std::string& p, const std::string& part) {
  try {
    nn::load_checkpoint(p);
    ADD_FAILURE() << "loading " << p << " should fail with '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// A checkpoint with every field set, tensors of every dtype and some awkward shapes.
nn::Checkpoint full_checkpoint() {
  manual_seed(21);
  nn::Checkpoint c;
  c.model_kind = "mlp";
  c.model_config.set("hidden", std::vector<int64_t>{32, 16});
  c.model_config.set("dropout", 0.125);
  c.model_config.set("activation", "gelu");
  c.model_state = {
      {"f32", randn({3, 4})},
      {"f64", randn({2, 5}, kFloat64)},
      {"f16", randn({7}).to(kFloat16)},
      {"bf16", randn({2, 2}).to(kBFloat16)},
      {"i64", tensor(std::vector<int64_t>{-5, 0, 1LL << 40}, {3})},
      {"bool", tensor(std::vector<bool>{true, false, true, true}, {2, 2})},
      {"scalar", scalar_tensor(3.5, kFloat64)},
      {"empty", zeros({0, 3})},
      {"transposed", randn({3, 2}).t()},  // non-contiguous: saved in row-major order of its shape
      {"layers.0.num_batches_tracked", scalar_tensor(int64_t{17}, kInt64)},
  };
  c.optimizer_kind = "Adam";
  c.optimizer_scalars = {{"lr", 1e-3}, {"betas.0", 0.9}, {"step.0", 12}};
  c.optimizer_tensors = {{"exp_avg.0", randn({3, 4})}, {"exp_avg_sq.0", rand({3, 4})}};
  c.scheduler = {{"last_epoch", 42}, {"base_lr.0", 0.01}};
  c.epoch = 3;
  c.step = 1234567890123LL;
  c.rng = PhiloxState{0xdeadbeefcafeULL, 98765};
  // Free-form values need not be UTF-8 (a Latin-1 file name here).
  c.metadata = {{"data", "fashion-mnist:512"}, {"history", "1,0.5,0.9;"}, {"empty", ""}, {"path", "/d/\xe9t\xe9"}};
  c.model_state.emplace_back("name\xff", ones({1}));
  c.producer = "tangent test";
  return c;
}

void expect_same_dict(const nn::StateDict& got, const nn::StateDict& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.dtype(), want[i].second.dtype()) << want[i].first;
    EXPECT_EQ(got[i].second.shape(), want[i].second.shape()) << want[i].first;
    EXPECT_TRUE(equal(got[i].second, want[i].second)) << want[i].first;
  }
}

TEST_F(Checkpoint, RoundTripsEveryField) {
  const nn::Checkpoint c = full_checkpoint();
  nn::save_checkpoint(path("a.tgt"), c);
  const nn::Checkpoint r = nn::load_checkpoint(path("a.tgt"));
  EXPECT_EQ(r.model_kind, "mlp");
  EXPECT_EQ(r.model_config.values(), c.model_config.values());
  EXPECT_EQ(r.model_config.get_ints("hidden"), (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(r.model_config.get_double("dropout"), 0.125);
  expect_same_dict(r.model_state, c.model_state);
  EXPECT_EQ(to_vector<int64_t>(r.model_state[4].second), (std::vector<int64_t>{-5, 0, 1LL << 40}));
  EXPECT_EQ(r.model_state[6].second.dim(), 0);
  EXPECT_EQ(r.optimizer_kind, "Adam");
  EXPECT_EQ(r.optimizer_scalars, c.optimizer_scalars);
  expect_same_dict(r.optimizer_tensors, c.optimizer_tensors);
  EXPECT_EQ(r.scheduler, c.scheduler);
  EXPECT_EQ(r.epoch, 3);
  EXPECT_EQ(r.step, 1234567890123LL);
  EXPECT_EQ(r.rng.seed, 0xdeadbeefcafeULL);
  EXPECT_EQ(r.rng.offset, 98765u);
  EXPECT_EQ(r.metadata, c.metadata);
  EXPECT_EQ(r.format_version, nn::kCheckpointFormatVersion);
  EXPECT_EQ(r.producer, "tangent test");
  // Saving what was loaded gives the same bytes (deterministic serialisation).
  nn::save_checkpoint(path("b.tgt"), r);
  EXPECT_EQ(read_bytes(path("a.tgt")), read_bytes(path("b.tgt")));
  // Map keys must be UTF-8: refused at save time (never a file that cannot be read back).
  nn::Checkpoint bad = c;
  bad.metadata["k\xff"] = "v";
  try {
    nn::save_checkpoint(path("c.tgt"), bad);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path("c.tgt")));
}

TEST_F(Checkpoint, ModelRoundTripThroughFile) {
  manual_seed(22);
  models::ConvNetOptions o;
  o.input_shape = {1, 8, 8};
  o.channels = {4};
  o.hidden = 8;
  auto a = std::make_shared<models::ConvNet>(o);
  a->forward(randn({4, 1, 8, 8}));  // running statistics and the int64 counter move
  nn::Checkpoint c;
  c.model_kind = a->kind();
  c.model_config = a->config();
  c.model_state = a->state_dict();
  nn::save_checkpoint(path("m.tgt"), c);
  const nn::Checkpoint r = nn::load_checkpoint(path("m.tgt"));
  auto b = models::create_model(r.model_kind, r.model_config);
  b->load_state_dict(r.model_state);
  expect_same_dict(b->state_dict(), a->state_dict());
  a->eval();
  b->eval();
  const Tensor x = randn({2, 1, 8, 8});
  EXPECT_TRUE(equal(a->forward(x), b->forward(x)));

  // A model of other shapes refuses the state and names the key and both shapes.
  o.channels = {6};
  auto other = std::make_shared<models::ConvNet>(o);
  try {
    other->load_state_dict(r.model_state);
    ADD_FAILURE() << "expected a shape mismatch";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'features.0.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[4, 1, 3, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[6, 1, 3, 3]"), std::string::npos) << msg;
  }
}

TEST_F(Checkpoint, WrittenAtomically) {
  nn::Checkpoint small;
  small.model_kind = "first";
  small.model_state = {{"w", ones({2})}};
  nn::save_checkpoint(path("model.tgt"), small);
  EXPECT_EQ(listing(), (std::vector<std::string>{"model.tgt"}));  // no temporary file left behind
  // Replacing it leaves one complete file.
  nn::Checkpoint second = small;
  second.model_kind = "second";
  nn::save_checkpoint(path("model.tgt"), second);
  EXPECT_EQ(listing(), (std::vector<std::string>{"model.tgt"}));
  EXPECT_EQ(nn::load_checkpoint(path("model.tgt")).model_kind, "second");

  // A write that fails half way (here: the file size limit) raises an Error and leaves the old checkpoint intact,
  // with no temporary file behind.
  nn::Checkpoint big = small;
  big.model_kind = "big";
  big.model_state = {{"w", zeros({100000})}};
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* prev = signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  bool threw = false;
  try {
    nn::save_checkpoint(path("model.tgt"), big);
  } catch (const Error& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find("model.tgt"), std::string::npos) << e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  EXPECT_TRUE(threw);
  EXPECT_EQ(listing(), (std::vector<std::string>{"model.tgt"}));
  EXPECT_EQ(nn::load_checkpoint(path("model.tgt")).model_kind, "second");

  // An unwritable destination is an Error too.
  EXPECT_THROW(nn::save_checkpoint(path("no/such/dir/model.tgt"), small), Error);
}

TEST_F(Checkpoint, LoadErrors) {
  nn::save_checkpoint(path("good.tgt"), full_checkpoint());
  const std::string good = read_bytes(path("good.tgt"));
  ASSERT_GT(good.size(), 200u);

  expect_load_error(path("missing.tgt"), "cannot open");
  expect_load_error(path("missing.tgt"), "missing.tgt");
  write_bytes(path("empty.tgt"), "");
  expect_load_error(path("empty.tgt"), "not a Tangent checkpoint");
  std::string foreign = good;
  foreign[0] = 'X';
  write_bytes(path("foreign.tgt"), foreign);
  expect_load_error(path("foreign.tgt"), "bad magic");
  write_bytes(path("text.tgt"), "hello, this is not a checkpoint at all, but it is long enough to have a header");
  expect_load_error(path("text.tgt"), "not a Tangent checkpoint");

  // Truncated: inside the header, just after it, in the middle, and missing only the last byte.
  for (size_t len : {size_t{5}, size_t{12}, size_t{23}}) {
    write_bytes(path("t.tgt"), good.substr(0, len));
    expect_load_error(path("t.tgt"), "too short");
  }
  for (size_t len : {size_t{24}, size_t{30}, good.size() / 2, good.size() - 1}) {
    write_bytes(path("t.tgt"), good.substr(0, len));
    expect_load_error(path("t.tgt"), "truncated");
  }
  // Trailing garbage.
  write_bytes(path("trailing.tgt"), good + "xyz");
  expect_load_error(path("trailing.tgt"), "trailing");
  // A flipped byte anywhere in the payload fails the checksum.
  for (size_t pos : {size_t{24}, size_t{100}, good.size() / 2, good.size() - 1}) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x40);
    write_bytes(path("flip.tgt"), bad);
    expect_load_error(path("flip.tgt"), "checksum");
  }
  // A damaged checksum field.
  {
    std::string bad = good;
    bad[21] = static_cast<char>(bad[21] ^ 1);
    write_bytes(path("crc.tgt"), bad);
    expect_load_error(path("crc.tgt"), "checksum");
  }
  // A version from the future, and version 0.
  for (uint32_t v : {2u, 99u, 0u}) {
    std::string bad = good;
    set_u32(&bad, 8, v);
    write_bytes(path("version.tgt"), bad);
    expect_load_error(path("version.tgt"), "format version " + std::to_string(v));
  }
  // A length field claiming far more than the file holds.
  {
    std::string bad = good;
    for (size_t i = 12; i < 20; ++i) bad[i] = static_cast<char>(0xff);
    write_bytes(path("length.tgt"), bad);
    expect_load_error(path("length.tgt"), "truncated");
  }
  // A correct frame around a payload that is not a Checkpoint message.
  {
    std::string bad = good.substr(0, 24) + std::string(64, '\xff');
    set_u32(&bad, 12, 64);
    set_u32(&bad, 16, 0);
    fix_crc(&bad);
    write_bytes(path("parse.tgt"), bad);
    expect_load_error(path("parse.tgt"), "does not parse");
  }
  // A directory is not a checkpoint.
  EXPECT_THROW(nn::load_checkpoint(dir_.string()), Error);
}

// A protobuf varint / length-delimited field, to forge payloads by hand.
std::string varint(uint64_t v) {
  std::string out;
  do {
    out += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  return out;
}
std::string field(int number, const std::string& bytes) {
  return varint(static_cast<uint64_t>(number) << 3 | 2) + varint(bytes.size()) + bytes;
}
// A valid frame (magic, version 1, length, CRC) around `payload`.
std::string framed(const std::string& payload) {
  std::string out = std::string("TGNTCKPT") + std::string(16, '\0') + payload;
  set_u32(&out, 8, 1);
  set_u32(&out, 12, static_cast<uint32_t>(payload.size()));
  fix_crc(&out);
  return out;
}

// A checkpoint whose checksum is right but whose tensor claims far more elements than it has bytes: the loader
// compares the shape with the bytes present before allocating, including shapes whose element or byte count
// overflows (2^31 x 2^31 float32 is 2^64 bytes, which wrapped to 0 = the bytes present) and zero-element shapes
// whose other dims overflow the strides.
TEST_F(Checkpoint, CrcValidButHugeShapeRaises) {
  struct Case {
    std::vector<uint64_t> shape;
    std::string data, expect;
  };
  const std::vector<Case> cases = {
      {{1ULL << 31, 1ULL << 31}, "", "too large to exist"},
      {{1ULL << 32, 1ULL << 32}, "", "too large to exist"},
      {{0, 1ULL << 62, 1ULL << 62}, "", "too large to exist"},
      {{1ULL << 20, 1ULL << 20}, "abcd", "needs 4398046511104 bytes but holds 4"},
      {{1ULL << 63}, "", "negative dimension"},  // a uint64 varint that reads back as a negative int64
  };
  for (const Case& c : cases) {
    std::string dims;
    for (uint64_t d : c.shape) dims += varint(d);
    const std::string tensor = field(1, "w") + field(2, dims) + field(4, c.data);  // dtype 0: float32
    write_bytes(path("huge.tgt"), framed(field(4, tensor)));
    expect_load_error(path("huge.tgt"), c.expect);
    expect_load_error(path("huge.tgt"), "tensor 'w'");
  }
  // The same forging gives a loadable file when the shape and the bytes agree.
  write_bytes(path("ok.tgt"), framed(field(4, field(1, "w") + field(2, varint(2) + varint(1)) + field(4, "abcdefgh"))));
  const nn::Checkpoint ok = nn::load_checkpoint(path("ok.tgt"));
  ASSERT_EQ(ok.model_state.size(), 1u);
  EXPECT_EQ(ok.model_state[0].second.shape(), Shape({2, 1}));
}

// Every single-byte change of the payload, behind a recomputed (so passing) checksum, either loads or raises a
// tangent::Error: the parser and the tensor checks never crash or read out of bounds. (protobuf logs a line to
// stderr for each damaged map key that is no longer UTF-8; that is expected here.)
TEST_F(Checkpoint, DamagedPayloadNeverCrashes) {
  nn::Checkpoint c;
  c.model_kind = "mlp";
  c.model_config.set("hidden", std::vector<int64_t>{4});
  c.model_state = {{"w", ones({2, 3})}, {"n", scalar_tensor(int64_t{5}, kInt64)}, {"h", ones({2}).to(kFloat16)}};
  c.optimizer_tensors = {{"m", zeros({3})}};
  c.metadata["k"] = "v";
  nn::save_checkpoint(path("c.tgt"), c);
  const std::string good = read_bytes(path("c.tgt"));
  int errors = 0, loaded = 0;
  for (size_t pos = 24; pos < good.size(); ++pos) {
    for (unsigned char delta : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(static_cast<unsigned char>(bad[pos]) ^ delta);
      fix_crc(&bad);
      write_bytes(path("d.tgt"), bad);
      try {
        nn::load_checkpoint(path("d.tgt"));
        ++loaded;
      } catch (const Error&) {
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(loaded, 0);  // e.g. a changed data byte is a valid (different) checkpoint
}

TEST_F(Checkpoint, ConfigTypedReads) {
  nn::Config c;
  c.set("i", int64_t{-3});
  c.set("d", 0.1);
  c.set("b", true);
  c.set("s", "text");
  c.set("l", std::vector<int64_t>{});
  EXPECT_EQ(c.get_int("i"), -3);
  EXPECT_EQ(c.get_double("d"), 0.1);  // 17 digits: exact
  EXPECT_TRUE(c.get_bool("b", false));
  EXPECT_EQ(c.get_ints("l"), std::vector<int64_t>{});
  EXPECT_EQ(c.get_int("missing", 7), 7);
  try {
    c.get_int("s");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'s'"), std::string::npos) << e.what();
  }
  try {
    c.get_string("nope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing key 'nope'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.get_bool("s", false), Error);
  EXPECT_THROW(c.get_double("s"), Error);
  c.set("bad_list", "1,x");
  EXPECT_THROW(c.get_ints("bad_list"), Error);
}

}  // namespace
