// Data suite: TensorDataset, Subset and the DataLoader (batching, deterministic shuffling, resuming), .npy
// round trips and hand-made files, IDX files (plain and gzip), Fashion-MNIST (when installed), CSV, and the
// Normalize / compute_mean_std transforms. Fixture files are generated in a fresh temp dir per test.
#include <gtest/gtest.h>

#include <stdlib.h>
#include "support/optional.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "nn/data/data.h"
#include "support/errors.h"

using namespace tangent;
using tangent::testing::error_message;
using namespace tangent::data;

namespace {

// A fresh temp directory per test, removed afterwards.
class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tangent_data_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void write_bytes(const std::string& p, const std::string& bytes) const {
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::string read_bytes(const std::string& p) const {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string dir_;
};

std::vector<int64_t> targets_of(DataLoader& loader) {
  std::vector<int64_t> out;
  for (const Example& b : loader) {
    for (int64_t v : to_vector<int64_t>(b.target)) out.push_back(v);
  }
  return out;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string le32(uint32_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
}

// A .npy file from its header dict and raw data bytes (format 1.0, or 2.0 with a 4-byte header length).
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  if (major == 1) {
    out += static_cast<char>(header.size() & 0xFF);
    out += static_cast<char>(header.size() >> 8);
  } else {
    out += le32(static_cast<uint32_t>(header.size()));
  }
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// CRC-32 (the gzip polynomial), bit by bit: enough for the tiny files below.
uint32_t crc32_of(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// A gzip file holding `payload` in one stored (uncompressed) deflate block, built without zlib.
std::string gzip_stored(const std::string& payload) {
  std::string out = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, '\x03'};  // magic, deflate, no flags, mtime, xfl, OS
  const auto len = static_cast<uint16_t>(payload.size());
  out += '\x01';  // BFINAL = 1, BTYPE = 00 (stored)
  out += static_cast<char>(len & 0xFF);
  out += static_cast<char>(len >> 8);
  out += static_cast<char>(~len & 0xFF);
  out += static_cast<char>((~len >> 8) & 0xFF);
  out += payload;
  out += le32(crc32_of(payload));
  out += le32(static_cast<uint32_t>(payload.size()));
  return out;
}

// A dataset without a get_batch override, so batches come from the default (stacking get()).
class SquaresDataset : public Dataset {
 public:
  int64_t size() const override { return 7; }
  Example get(int64_t i) const override {
    return {tensor(std::vector<float>{float(i), float(i * i)}, {2}), scalar_tensor(Scalar(i), kInt64)};
  }
};

}  // namespace

// ---------------------------------------------------------------- datasets
TEST(DataDataset, TensorDatasetGetAndBatch) {
  Tensor x = arange(0, 12).to(kFloat32).reshape({6, 2});
  Tensor y = tensor(std::vector<int64_t>{5, 4, 3, 2, 1, 0});
  TensorDataset ds(x, y);
  EXPECT_EQ(ds.size(), 6);
  Example e = ds.get(2);
  EXPECT_EQ(e.data.shape(), Shape({2}));
  EXPECT_EQ(to_vector<float>(e.data), (std::vector<float>{4, 5}));
  EXPECT_EQ(e.target.item<int64_t>(), 3);
  EXPECT_EQ(ds.get(-1).target.item<int64_t>(), 0);
  Example b = ds.get_batch(tensor(std::vector<int64_t>{4, 0, 4}));
  EXPECT_EQ(b.data.shape(), Shape({3, 2}));
  EXPECT_EQ(to_vector<float>(b.data), (std::vector<float>{8, 9, 0, 1, 8, 9}));
  EXPECT_EQ(to_vector<int64_t>(b.target), (std::vector<int64_t>{1, 5, 1}));
  EXPECT_NE(error_message([&] { ds.get(6); }).find("out of range"), std::string::npos);
  // Unlabelled data: targets stay undefined.
  TensorDataset unlabelled(x);
  EXPECT_FALSE(unlabelled.get(0).target.defined());
  EXPECT_FALSE(unlabelled.get_batch(tensor(std::vector<int64_t>{1})).target.defined());
}

TEST(DataDataset, MismatchedFirstDimsRaise) {
  const std::string msg = error_message([] { TensorDataset(zeros({5, 3}), zeros({4}, kInt64)); });
  EXPECT_NE(msg.find("TensorDataset"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[5, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;
  EXPECT_THROW(TensorDataset(zeros({}), Tensor()), Error);
  EXPECT_THROW(TensorDataset{Tensor()}, Error);
}

TEST(DataDataset, HeadSubsetAndTake) {
  auto ds = std::make_shared<TensorDataset>(arange(0, 10).to(kFloat32).reshape({10, 1}), arange(0, 10));
  TensorDataset h = ds->head(4);
  EXPECT_EQ(h.size(), 4);
  EXPECT_EQ(to_vector<int64_t>(h.targets()), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(ds->head(100).size(), 10);
  Subset sub(ds, {7, 2, 9});
  EXPECT_EQ(sub.size(), 3);
  EXPECT_EQ(sub.get(0).target.item<int64_t>(), 7);
  Example b = sub.get_batch(tensor(std::vector<int64_t>{2, 1}));
  EXPECT_EQ(to_vector<int64_t>(b.target), (std::vector<int64_t>{9, 2}));
  EXPECT_EQ(to_vector<float>(b.data), (std::vector<float>{9, 2}));
  EXPECT_THROW(Subset(ds, {10}), Error);
  auto first = take(ds, 3);
  EXPECT_EQ(first->size(), 3);
  EXPECT_EQ(first->get(2).target.item<int64_t>(), 2);
}

TEST(DataDataset, DefaultGetBatchStacks) {
  SquaresDataset ds;
  Example b = ds.get_batch(tensor(std::vector<int64_t>{3, 1}));
  EXPECT_EQ(b.data.shape(), Shape({2, 2}));
  EXPECT_EQ(to_vector<float>(b.data), (std::vector<float>{3, 9, 1, 1}));
  EXPECT_EQ(to_vector<int64_t>(b.target), (std::vector<int64_t>{3, 1}));
}

// ---------------------------------------------------------------- DataLoader
TEST(DataLoaderTest, BatchSizesAndLastPartialBatch) {
  auto ds = std::make_shared<TensorDataset>(arange(0, 10).to(kFloat32).reshape({10, 1}), arange(0, 10));
  DataLoader loader(ds, {4, false, 0, false});
  EXPECT_EQ(loader.num_batches(), 3);
  std::vector<int64_t> sizes;
  std::vector<int64_t> seen;
  for (const Example& b : loader) {
    sizes.push_back(b.data.size(0));
    EXPECT_EQ(b.data.shape(), Shape({b.data.size(0), 1}));
    for (int64_t v : to_vector<int64_t>(b.target)) seen.push_back(v);
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));  // in order without shuffle
  EXPECT_EQ(loader.epoch(), 1);                                           // a full pass advances the epoch

  DataLoader dropping(ds, {4, false, 0, true});
  EXPECT_EQ(dropping.num_batches(), 2);
  sizes.clear();
  for (const Example& b : dropping) sizes.push_back(b.data.size(0));
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4}));

  DataLoader exact(ds, {5, false, 0, true});
  EXPECT_EQ(exact.num_batches(), 2);
  DataLoader big(ds, {64, false, 0, true});
  EXPECT_EQ(big.num_batches(), 0);
  int count = 0;
  for (const Example& b : big) count += static_cast<int>(b.data.size(0));
  EXPECT_EQ(count, 0);
  EXPECT_THROW(DataLoader(ds, {0, false, 0, false}), Error);
  // The default get_batch path works through the loader too.
  DataLoader squares(std::make_shared<SquaresDataset>(), {3, false, 0, false});
  EXPECT_EQ(targets_of(squares), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(DataLoaderTest, ShuffleIsDeterministicPerSeedAndEpoch) {
  const int64_t n = 50;
  auto ds = std::make_shared<TensorDataset>(zeros({n, 2}), arange(0, n));
  DataLoader a(ds, {8, true, 1234, false});
  DataLoader b(ds, {8, true, 1234, false});
  const std::vector<int64_t> a0 = targets_of(a), b0 = targets_of(b);
  EXPECT_EQ(a0, b0);
  EXPECT_EQ(a.epoch(), 1);
  const std::vector<int64_t> a1 = targets_of(a);
  EXPECT_NE(a0, a1);  // a new epoch, a new order
  b.set_epoch(0);
  EXPECT_EQ(targets_of(b), a0);  // set_epoch reproduces an epoch
  EXPECT_EQ(a.order(1), a1);
  for (const auto& order : {a0, a1}) {
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all);  // each index exactly once
  }
  std::vector<int64_t> identity(n);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(a0, identity);
  DataLoader other_seed(ds, {8, true, 99, false});
  EXPECT_NE(targets_of(other_seed), a0);
  // The same permutation as the free function.
  EXPECT_EQ(shuffled_indices(n, 1234, 0), a0);
}

TEST(DataLoaderTest, ShuffleIsRoughlyUniform) {
  // Over 4000 epochs, each of 5 values should sit at position 0 about 800 times (sd ~25).
  std::vector<int> counts(5, 0);
  for (int64_t e = 0; e < 4000; ++e) ++counts[static_cast<size_t>(shuffled_indices(5, 7, e)[0])];
  for (int c : counts) {
    EXPECT_GT(c, 650);
    EXPECT_LT(c, 950);
  }
  EXPECT_TRUE(shuffled_indices(0, 1, 0).empty());
  EXPECT_EQ(shuffled_indices(1, 1, 0), (std::vector<int64_t>{0}));
}

TEST(DataLoaderTest, ResumesMidEpochFromState) {
  const int64_t n = 23;
  auto ds = std::make_shared<TensorDataset>(zeros({n, 1}), arange(0, n));
  DataLoaderOptions opts{5, true, 42, false};
  DataLoader reference(ds, opts);
  std::vector<std::vector<int64_t>> batches;  // epochs 0 and 1
  for (int e = 0; e < 2; ++e) {
    for (const Example& b : reference) batches.push_back(to_vector<int64_t>(b.target));
  }
  ASSERT_EQ(batches.size(), 10u);

  // Train through epoch 0 and two batches of epoch 1, "checkpointing" the state inside the loop body.
  DataLoader first(ds, opts);
  DataLoaderState saved;
  for (const Example& b : first) (void)b;
  int seen = 0;
  for (const Example& b : first) {
    (void)b;
    saved = first.state();
    if (++seen == 2) break;
  }
  EXPECT_EQ(saved.epoch, 1);
  EXPECT_EQ(saved.batch, 2);

  DataLoader resumed(ds, opts);
  resumed.load_state(saved);
  std::vector<std::vector<int64_t>> rest;
  for (const Example& b : resumed) rest.push_back(to_vector<int64_t>(b.target));
  ASSERT_EQ(rest.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(rest[i], batches[7 + i]);
  EXPECT_EQ(resumed.epoch(), 2);
  // Random access gives the same batches.
  EXPECT_EQ(to_vector<int64_t>(resumed.batch(1, 4).target), batches[9]);
  // A state saved on the last batch of an epoch points at the next epoch's start.
  DataLoaderState last;
  DataLoader once(ds, opts);
  for (const Example& b : once) {
    (void)b;
    last = once.state();
  }
  EXPECT_EQ(last.epoch, 1);
  EXPECT_EQ(last.batch, 0);
  EXPECT_THROW(resumed.load_state({0, 6}), Error);
}

// ---------------------------------------------------------------- .npy
TEST_F(DataFiles, NpyRoundTripsEachDtypeAndShape) {
  std::vector<Tensor> cases = {
      tensor(std::vector<float>{1.5f, -2.f, 3.25f, 0.f, 1e-3f, 7.f}, {2, 3}),
      tensor(std::vector<double>{1.0 / 3, -1e300, 2.5, 4}, {4}),
      tensor(std::vector<int64_t>{-5, 0, 7, int64_t{1} << 40, 3, 2, 1, -1}, {2, 2, 2}),
      tensor(std::vector<bool>{true, false, true}, {3}),
      tensor(std::vector<float>{0.5f, -1.25f}, {2}).to(kFloat16),
      scalar_tensor(Scalar(2.75)).to(kFloat32),       // 0-d
      scalar_tensor(Scalar(int64_t{-9}), kInt64),     // 0-d int
      empty({0}, kFloat32),                           // empty
      empty({2, 0, 3}, kFloat64),                     // empty with dims
      arange(0, 6).to(kFloat64).reshape({2, 3}).t(),  // non-contiguous input
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Tensor& t = cases[i];
    const std::string p = path("case" + std::to_string(i) + ".npy");
    write_npy(p, t);
    Tensor r = read_npy(p);
    EXPECT_EQ(r.dtype(), t.dtype()) << "case " << i;
    EXPECT_EQ(r.shape(), t.shape()) << "case " << i;
    EXPECT_EQ(to_vector<double>(r), to_vector<double>(t)) << "case " << i;
    EXPECT_EQ(read_bytes(p).size() % 64, (t.numel() * element_size(t.dtype())) % 64) << "case " << i;
  }
  // bfloat16 has no NumPy type: it is written as float32.
  write_npy(path("bf.npy"), tensor(std::vector<float>{1.5f, -2.f}).to(kBFloat16));
  Tensor bf = read_npy(path("bf.npy"));
  EXPECT_EQ(bf.dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(bf), (std::vector<float>{1.5f, -2.f}));
  // No temp file is left behind, and overwriting works.
  write_npy(path("case0.npy"), cases[1]);
  EXPECT_EQ(read_npy(path("case0.npy")).shape(), Shape({4}));
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST_F(DataFiles, NpyWritesTheStandardHeader) {
  write_npy(path("a.npy"), zeros({2, 3}));
  const std::string b = read_bytes(path("a.npy"));
  ASSERT_GE(b.size(), 128u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t hlen = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_EQ(b.size(), 10 + hlen + 24);
  const std::string header = b.substr(10, hlen);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  write_npy(path("b.npy"), zeros({5}, kInt64));
  EXPECT_NE(read_bytes(path("b.npy")).find("'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"),
            std::string::npos);
  write_npy(path("c.npy"), zeros({}, kBool));
  EXPECT_NE(read_bytes(path("c.npy")).find("'descr': '|b1', 'fortran_order': False, 'shape': (), }"),
            std::string::npos);
}

TEST_F(DataFiles, NpyReadsHandWrittenFiles) {
  // int32 little-endian, converted to int64.
  write_bytes(path("i4.npy"), npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
                                        raw(std::vector<int32_t>{1, -2, 3, -4, 5, 2147483647})));
  Tensor i4 = read_npy(path("i4.npy"));
  EXPECT_EQ(i4.dtype(), kInt64);
  EXPECT_EQ(i4.shape(), Shape({2, 3}));
  EXPECT_EQ(to_vector<int64_t>(i4), (std::vector<int64_t>{1, -2, 3, -4, 5, 2147483647}));
  // uint8, double-quoted keys, keys in another order, no trailing comma.
  write_bytes(path("u1.npy"), npy_bytes("{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"|u1\"}",
                                        std::string("\x00\x01\xfe\xff", 4)));
  EXPECT_EQ(to_vector<int64_t>(read_npy(path("u1.npy"))), (std::vector<int64_t>{0, 1, 254, 255}));
  // Big-endian float64 in a version 2.0 file.
  std::string be;
  for (double v : {1.0, -0.5}) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    for (int k = 7; k >= 0; --k) be += static_cast<char>(u >> (8 * k));
  }
  write_bytes(path("be.npy"), npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be, 2));
  Tensor f8 = read_npy(path("be.npy"));
  EXPECT_EQ(f8.dtype(), kFloat64);
  EXPECT_EQ(to_vector<double>(f8), (std::vector<double>{1.0, -0.5}));
  // Fortran order: the data is the column-major layout of [[1, 2, 3], [4, 5, 6]].
  write_bytes(path("f.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                                       raw(std::vector<float>{1, 4, 2, 5, 3, 6})));
  Tensor f = read_npy(path("f.npy"));
  EXPECT_EQ(f.shape(), Shape({2, 3}));
  EXPECT_EQ(to_vector<float>(f), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  // Bool bytes other than 0/1 read as true.
  write_bytes(path("b.npy"),
              npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x00\x01\x07", 3)));
  EXPECT_EQ(to_vector<bool>(read_npy(path("b.npy"))), (std::vector<bool>{false, true, true}));
}

TEST_F(DataFiles, NpyCorruptedFilesRaiseNamingTheFile) {
  write_npy(path("good.npy"), arange(0, 100).to(kFloat32));
  const std::string good = read_bytes(path("good.npy"));
  auto expect_error = [&](const std::string& name, const std::string& bytes, const std::string& what) {
    write_bytes(path(name), bytes);
    const std::string msg = error_message([&] { read_npy(path(name)); });
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << name << ": " << msg;
  };
  expect_error("trunc_data.npy", good.substr(0, good.size() - 5), "truncated");
  expect_error("trunc_header.npy", good.substr(0, 40), "truncated");
  expect_error("tiny.npy", good.substr(0, 4), "too short");
  expect_error("extra.npy", good + "xyz", "extra bytes");
  std::string bad_magic = good;
  bad_magic[1] = 'X';
  expect_error("magic.npy", bad_magic, "not a .npy file");
  std::string bad_version = good;
  bad_version[6] = 9;
  expect_error("version.npy", bad_version, "version");
  expect_error("descr.npy", npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "12345678"),
               "unsupported dtype");
  expect_error("object.npy", npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", "12345678"),
               "descr");
  expect_error("dict.npy", npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "1234"),
               "True or False");
  expect_error("shape.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }", "1234"), "shape");
  expect_error("missing.npy", npy_bytes("{'descr': '<f4', 'shape': (1,), }", "1234"), "required");
  expect_error("huge.npy",
               npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000), }", "1234"),
               "implausibly large");
  // No elements, but dims whose strides overflow int64; a dtype size too long for an integer.
  expect_error("zero_huge.npy",
               npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4), }", ""),
               "implausibly large");
  expect_error("descr_len.npy",
               npy_bytes("{'descr': '<f99999999999999999999', 'fortran_order': False, 'shape': (1,), }", "1234"),
               "descr");
  const std::string msg = error_message([&] { read_npy(path("does_not_exist.npy")); });
  EXPECT_NE(msg.find("does_not_exist.npy"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- IDX
TEST_F(DataFiles, IdxReadsHandWrittenPlainAndGzipFiles) {
  // Labels [5] and images [2, 3, 4] as MNIST stores them.
  const std::string labels = be32(0x00000801) + be32(5) + std::string("\x09\x00\x03\x07\x01", 5);
  std::string pixels;
  for (int i = 0; i < 24; ++i) pixels += static_cast<char>(i * 10);
  const std::string images = be32(0x00000803) + be32(2) + be32(3) + be32(4) + pixels;
  write_bytes(path("labels-idx1-ubyte"), labels);
  write_bytes(path("images-idx3-ubyte"), images);
  write_bytes(path("labels-idx1-ubyte.gz"), gzip_stored(labels));
  write_bytes(path("images-idx3-ubyte.gz"), gzip_stored(images));
  for (const std::string suffix : {"", ".gz"}) {
    Tensor l = read_idx_labels(path("labels-idx1-ubyte" + suffix));
    EXPECT_EQ(l.dtype(), kInt64);
    EXPECT_EQ(to_vector<int64_t>(l), (std::vector<int64_t>{9, 0, 3, 7, 1})) << suffix;
    Tensor im = read_idx_images(path("images-idx3-ubyte" + suffix));
    EXPECT_EQ(im.dtype(), kFloat32);
    EXPECT_EQ(im.shape(), Shape({2, 1, 3, 4}));
    const std::vector<float> v = to_vector<float>(im);
    for (int i = 0; i < 24; ++i) EXPECT_FLOAT_EQ(v[static_cast<size_t>(i)], float(i * 10) / 255.f) << suffix;
    Tensor generic = read_idx(path("images-idx3-ubyte" + suffix));
    EXPECT_EQ(generic.dtype(), kInt64);
    EXPECT_EQ(generic.shape(), Shape({2, 3, 4}));
    EXPECT_EQ(to_vector<int64_t>(generic)[23], 230);
    // limit reads only the first examples.
    EXPECT_EQ(read_idx_images(path("images-idx3-ubyte" + suffix), 1).shape(), Shape({1, 1, 3, 4}));
    EXPECT_EQ(to_vector<int64_t>(read_idx_labels(path("labels-idx1-ubyte" + suffix), 2)), (std::vector<int64_t>{9, 0}));
  }
  // Signed and wider types, big-endian.
  const std::string i16 = be32(0x00000B02) + be32(1) + be32(2) + std::string("\xff\xfe\x01\x00", 4);
  write_bytes(path("i16.idx"), i16);
  EXPECT_EQ(to_vector<int64_t>(read_idx(path("i16.idx"))), (std::vector<int64_t>{-2, 256}));
}

TEST_F(DataFiles, IdxWriteReadRoundTrip) {
  Tensor labels = tensor(std::vector<int64_t>{0, 255, 17});
  Tensor values = tensor(std::vector<float>{1.5f, -2.25f, 1e-7f, 3.f}, {2, 2});
  Tensor doubles = tensor(std::vector<double>{1.0 / 3, -7.0}, {2});
  for (const std::string suffix : {".idx", ".idx.gz"}) {
    write_idx(path("l" + suffix), labels);
    EXPECT_EQ(to_vector<int64_t>(read_idx(path("l" + suffix))), (std::vector<int64_t>{0, 255, 17}));
    write_idx(path("v" + suffix), values);
    Tensor v = read_idx(path("v" + suffix));
    EXPECT_EQ(v.dtype(), kFloat32);
    EXPECT_EQ(v.shape(), Shape({2, 2}));
    EXPECT_EQ(to_vector<float>(v), to_vector<float>(values));
    write_idx(path("d" + suffix), doubles);
    EXPECT_EQ(to_vector<double>(read_idx(path("d" + suffix))), to_vector<double>(doubles));
  }
  // The .gz file really is compressed data (gzip magic), not a plain copy.
  EXPECT_EQ(read_bytes(path("l.idx.gz")).substr(0, 2), std::string("\x1f\x8b", 2));
  EXPECT_THROW(write_idx(path("bad.idx"), tensor(std::vector<int64_t>{256})), Error);
  EXPECT_THROW(write_idx(path("bad.idx"), zeros({})), Error);
}

TEST_F(DataFiles, IdxCorruptedFilesRaiseNamingTheFile) {
  std::string pixels(2 * 3 * 4, '\x10');
  const std::string images = be32(0x00000803) + be32(2) + be32(3) + be32(4) + pixels;
  auto expect_error = [&](const std::string& name, const std::string& bytes, const std::string& what,
                          bool images_reader = true) {
    write_bytes(path(name), bytes);
    const std::string msg = error_message([&] {
      if (images_reader) {
        read_idx_images(path(name));
      } else {
        read_idx(path(name));
      }
    });
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << name << ": " << msg;
  };
  expect_error("trunc.idx", images.substr(0, images.size() - 3), "truncated");
  expect_error("trunc_header.idx", images.substr(0, 10), "truncated inside its header");
  expect_error("short.idx", images.substr(0, 2), "too short");
  expect_error("extra.idx", images + "zz", "extra bytes");
  expect_error("magic.idx", be32(0x12345678) + images.substr(4), "bad magic number 0x12345678");
  expect_error("type.idx", be32(0x00000703) + images.substr(4), "bad magic number");
  // A valid label file is not an image file.
  expect_error("labels.idx", be32(0x00000801) + be32(2) + "ab", "0x00000803 was expected");
  // A header claiming a huge data set fails as truncated, without allocating it.
  expect_error("large.idx", be32(0x00000803) + be32(0xFFFFFF) + be32(28) + be32(28) + "abc", "truncated");
  expect_error("huge.idx", be32(0x00000803) + be32(0xFFFFFFFF) + be32(0xFFFF) + be32(2) + "abc", "exceed");
  // A zero first dim does not make the other dims harmless: their strides would overflow int64.
  expect_error("zero_huge.idx", be32(0x00000804) + be32(0) + be32(0xFFFFFFFF) + be32(0xFFFFFFFF) + be32(0xFFFFFFFF),
               "exceed", false);
  // Truncated and corrupted gzip streams.
  write_idx(path("ok.idx.gz"), arange(0, 200).reshape({2, 10, 10}));
  const std::string gz = read_bytes(path("ok.idx.gz"));
  expect_error("trunc.idx.gz", gz.substr(0, gz.size() / 2), "truncated", false);
  std::string flipped = gz;
  flipped[flipped.size() - 6] = static_cast<char>(flipped[flipped.size() - 6] ^ 0x55);  // the CRC
  expect_error("crc.idx.gz", flipped, "corrupted", false);
  const std::string msg = error_message([&] { read_idx_labels(path("nope-idx1-ubyte.gz")); });
  EXPECT_NE(msg.find("nope-idx1-ubyte.gz"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- Fashion-MNIST
TEST(DataFashionMnist, LoadsTheTestSet) {
  TANGENT_REQUIRE_OR_SKIP(std::filesystem::is_directory(kFashionMnistRoot),
                          kFashionMnistRoot << " (apt-get install dataset-fashion-mnist)");
  TensorDataset test = load_fashion_mnist(kFashionMnistRoot, false);
  ASSERT_EQ(test.size(), 10000);
  EXPECT_EQ(test.data().shape(), Shape({10000, 1, 28, 28}));
  EXPECT_EQ(test.data().dtype(), kFloat32);
  EXPECT_EQ(test.targets().shape(), Shape({10000}));
  const std::vector<int64_t> labels = to_vector<int64_t>(test.targets());
  std::map<int64_t, int> counts;
  for (int64_t l : labels) ++counts[l];
  ASSERT_EQ(counts.size(), 10u);
  EXPECT_EQ(counts.begin()->first, 0);
  EXPECT_EQ(counts.rbegin()->first, 9);
  for (const auto& kv : counts) EXPECT_EQ(kv.second, 1000) << "class " << kv.first;  // balanced test set
  // The first test labels (checked against the raw file with zcat | od): 9 2 1 1 6.
  EXPECT_EQ(std::vector<int64_t>(labels.begin(), labels.begin() + 5), (std::vector<int64_t>{9, 2, 1, 1, 6}));
  EXPECT_EQ(fashion_mnist_classes()[static_cast<size_t>(labels[0])], "Ankle boot");
  const std::vector<float> px = to_vector<float>(test.data());
  EXPECT_EQ(*std::min_element(px.begin(), px.end()), 0.f);
  EXPECT_EQ(*std::max_element(px.begin(), px.end()), 1.f);
  // The first image's bytes sum to 33456 (zcat | od again).
  double first = 0;
  for (size_t i = 0; i < 784; ++i) first += px[i];
  EXPECT_NEAR(first, 33456.0 / 255.0, 1e-3);
  // A limited load, and the command-line spec.
  TensorDataset small = load_fashion_mnist(kFashionMnistRoot, false, 100);
  EXPECT_EQ(small.size(), 100);
  EXPECT_EQ(to_vector<int64_t>(small.targets())[0], 9);
  EXPECT_EQ(load_dataset("fashion-mnist:37", false).size(), 37);
  // "fashion-mnist-test" is the test split even where the caller asks for training data.
  TensorDataset test_spec = load_dataset("fashion-mnist-test:100", true);
  EXPECT_EQ(test_spec.size(), 100);
  EXPECT_TRUE(allclose(test_spec.data(), small.data()));
  EXPECT_EQ(to_vector<int64_t>(test_spec.targets()), to_vector<int64_t>(small.targets()));
}

TEST(DataFashionMnist, ErrorsAndClassNames) {
  const std::string msg = error_message([] { load_fashion_mnist("/nonexistent/fashion"); });
  EXPECT_NE(msg.find("/nonexistent/fashion"), std::string::npos) << msg;
  EXPECT_NE(msg.find("apt-get install dataset-fashion-mnist"), std::string::npos) << msg;
  ASSERT_EQ(fashion_mnist_classes().size(), 10u);
  EXPECT_EQ(fashion_mnist_classes()[0], "T-shirt/top");
  EXPECT_EQ(fashion_mnist_classes()[9], "Ankle boot");
  EXPECT_THROW(load_dataset("fashion-mnist:abc"), Error);
  EXPECT_THROW(load_dataset("cifar"), Error);
  EXPECT_THROW(load_dataset("fashion-mnist-test:x"), Error);
  EXPECT_THROW(load_dataset("fashion-mnist-tests"), Error);
}

TEST_F(DataFiles, FashionMnistFromADirectoryOfFiles) {
  // A miniature copy of the layout: plain train images, gzipped train labels.
  std::vector<int64_t> pixels(3 * 784);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<int64_t>((i * 7) % 256);
  write_idx(path("train-images-idx3-ubyte"), tensor(pixels, {3, 28, 28}));
  write_idx(path("train-labels-idx1-ubyte.gz"), tensor(std::vector<int64_t>{4, 0, 9}));
  TensorDataset ds = load_fashion_mnist(dir_, true);
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.data().shape(), Shape({3, 1, 28, 28}));
  EXPECT_EQ(to_vector<int64_t>(ds.targets()), (std::vector<int64_t>{4, 0, 9}));
  EXPECT_FLOAT_EQ(to_vector<float>(ds.data())[100], float((100 * 7) % 256) / 255.f);
  EXPECT_EQ(load_fashion_mnist(dir_, true, 2).size(), 2);
  // The test split is missing here; a label outside 0..9 and a count mismatch are caught.
  std::string msg = error_message([&] { load_fashion_mnist(dir_, false); });
  EXPECT_NE(msg.find("t10k-images-idx3-ubyte"), std::string::npos) << msg;
  write_idx(path("train-labels-idx1-ubyte.gz"), tensor(std::vector<int64_t>{4, 10, 9}));
  msg = error_message([&] { load_fashion_mnist(dir_, true); });
  EXPECT_NE(msg.find("0..9"), std::string::npos) << msg;
  write_idx(path("train-labels-idx1-ubyte.gz"), tensor(std::vector<int64_t>{4, 1}));
  msg = error_message([&] { load_fashion_mnist(dir_, true); });
  EXPECT_NE(msg.find("3 images but 2 labels"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- CSV
TEST_F(DataFiles, CsvReadsNumbersAndColumnNames) {
  write_bytes(path("a.csv"), "x, y ,\"label\"\r\n1,2.5,3\r\n\r\n-4e2, nan ,\"6\"\n7,8,9");
  CsvTable t = read_csv(path("a.csv"));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"x", "y", "label"}));
  EXPECT_EQ(t.values.dtype(), kFloat32);
  ASSERT_EQ(t.values.shape(), Shape({3, 3}));
  const std::vector<float> v = to_vector<float>(t.values);
  EXPECT_EQ(v[0], 1.f);
  EXPECT_EQ(v[1], 2.5f);
  EXPECT_EQ(v[3], -400.f);
  EXPECT_TRUE(std::isnan(v[4]));
  EXPECT_EQ(v[5], 6.f);
  EXPECT_EQ(v[8], 9.f);
  write_bytes(path("b.csv"), "1;2\n3;4\n");
  CsvTable nh = read_csv(path("b.csv"), false, ';');
  EXPECT_TRUE(nh.columns.empty());
  EXPECT_EQ(to_vector<float>(nh.values), (std::vector<float>{1, 2, 3, 4}));
  write_bytes(path("h.csv"), "a,b\n");
  EXPECT_EQ(read_csv(path("h.csv")).values.shape(), Shape({0, 2}));
}

TEST_F(DataFiles, CsvErrorsNameFileAndLine) {
  write_bytes(path("ragged.csv"), "a,b,c\n1,2,3\n4,5\n");
  std::string msg = error_message([&] { read_csv(path("ragged.csv")); });
  EXPECT_NE(msg.find("ragged.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 fields"), std::string::npos) << msg;
  write_bytes(path("text.csv"), "a,b\n1,2\n3,abc\n");
  msg = error_message([&] { read_csv(path("text.csv")); });
  EXPECT_NE(msg.find("text.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3 column 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'abc'"), std::string::npos) << msg;
  write_bytes(path("empty_field.csv"), "1,,2\n");
  msg = error_message([&] { read_csv(path("empty_field.csv"), false); });
  EXPECT_NE(msg.find("line 1 column 2"), std::string::npos) << msg;
  write_bytes(path("partial.csv"), "1,2x\n");
  EXPECT_THROW(read_csv(path("partial.csv"), false), Error);
  msg = error_message([&] { read_csv(path("missing.csv")); });
  EXPECT_NE(msg.find("missing.csv"), std::string::npos) << msg;
}

TEST_F(DataFiles, CsvWriteReadRoundTrip) {
  Tensor t = tensor(std::vector<float>{0.1f, -2.f, 1e-8f, 3.5f, 100.f, -0.f}, {3, 2});
  write_csv(path("w.csv"), t, {"first", "second, with comma"});
  CsvTable r = read_csv(path("w.csv"));
  EXPECT_EQ(r.columns, (std::vector<std::string>{"first", "second, with comma"}));
  EXPECT_EQ(to_vector<float>(r.values), to_vector<float>(t));
  write_csv(path("i.csv"), tensor(std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(read_bytes(path("i.csv")), "1\n2\n3\n");
  EXPECT_THROW(write_csv(path("x.csv"), zeros({2, 2}), {"one"}), Error);
}

// ---------------------------------------------------------------- transforms
TEST(DataTransforms, ComputeMeanStdPerChannel) {
  // [N=2, C=2, H=1, W=2]: channel 0 holds 1, 2, 5, 6 and channel 1 holds 3, 4, 7, 8.
  Tensor x = tensor(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 1, 2});
  auto [mean, std] = compute_mean_std(x, {0, 2, 3});
  EXPECT_EQ(mean.shape(), Shape({2}));
  EXPECT_EQ(mean.dtype(), kFloat32);
  EXPECT_EQ(to_vector<float>(mean), (std::vector<float>{3.5f, 5.5f}));
  // Deviations -2.5, -1.5, 1.5, 2.5: sum of squares 17; unbiased var 17/3.
  const std::vector<float> s = to_vector<float>(std);
  EXPECT_NEAR(s[0], std::sqrt(17.0 / 3.0), 1e-6);
  EXPECT_NEAR(s[1], std::sqrt(17.0 / 3.0), 1e-6);
  auto [m_all, s_all] = compute_mean_std(x.to(kFloat64), {}, 0);
  EXPECT_EQ(m_all.dim(), 0);
  EXPECT_EQ(m_all.dtype(), kFloat64);
  EXPECT_DOUBLE_EQ(m_all.item<double>(), 4.5);
  EXPECT_DOUBLE_EQ(s_all.item<double>(), std::sqrt(42.0 / 8.0));
  // Over dims {0} of a table [N, D]; integer input is fine.
  auto [m_col, s_col] = compute_mean_std(tensor(std::vector<int64_t>{1, 10, 3, 30}, {2, 2}), {0}, 0);
  EXPECT_EQ(to_vector<float>(m_col), (std::vector<float>{2.f, 20.f}));
  EXPECT_EQ(to_vector<float>(s_col), (std::vector<float>{1.f, 10.f}));
  EXPECT_THROW(compute_mean_std(x, {4}), Error);
  EXPECT_THROW(compute_mean_std(x, {0, 0}), Error);
  EXPECT_THROW(compute_mean_std(zeros({1, 3}), {0}), Error);  // one value per statistic, correction 1
}

TEST(DataTransforms, NormalizeGivesZeroMeanUnitStd) {
  Tensor x = tensor(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 1, 2});
  auto [mean, std] = compute_mean_std(x, {0, 2, 3});
  Normalize norm(mean, std);
  Tensor y = norm(x);
  EXPECT_EQ(y.shape(), x.shape());
  auto [m2, s2] = compute_mean_std(y, {0, 2, 3});
  for (float v : to_vector<float>(m2)) EXPECT_NEAR(v, 0.f, 1e-6);
  for (float v : to_vector<float>(s2)) EXPECT_NEAR(v, 1.f, 1e-6);
  // Element check: channel 1 of example 0 is (3, 4) -> (3 - 5.5) / sd.
  const double sd = std::sqrt(17.0 / 3.0);
  EXPECT_NEAR(to_vector<float>(y)[2], (3 - 5.5) / sd, 1e-6);
  // A single (mean, std) for every channel, and a [N, D] table with channel_dim -1.
  EXPECT_EQ(to_vector<float>(Normalize({1.0}, {2.0})(tensor(std::vector<float>{3, 5}))), (std::vector<float>{1, 2}));
  Tensor table = tensor(std::vector<float>{1, 10, 3, 30}, {2, 2});
  EXPECT_EQ(to_vector<float>(Normalize({2.0, 20.0}, {1.0, 10.0}, -1)(table)), (std::vector<float>{-1, -1, 1, 1}));
  // Errors: channel mismatch, zero std, size mismatch, integer input.
  EXPECT_THROW(Normalize({0.0, 0.0, 0.0}, {1.0, 1.0, 1.0})(x), Error);
  EXPECT_THROW(Normalize({0.0}, {0.0}), Error);
  EXPECT_THROW(Normalize({0.0, 1.0}, {1.0}), Error);
  EXPECT_THROW(Normalize({0.0}, {1.0})(tensor(std::vector<int64_t>{1})), Error);
  // Applied to a dataset's data.
  TensorDataset ds(x, tensor(std::vector<int64_t>{0, 1}));
  normalize_(ds, norm);
  EXPECT_EQ(to_vector<float>(ds.data()), to_vector<float>(y));
}
