// Tests of data::write_atomically (nn/data/file_io.h), the one writer behind checkpoints, .npy, IDX, CSV, ONNX,
// safetensors and the CLI's reports: the target is replaced as a whole (a reader holding the old file keeps
// reading the complete old contents), and a failure leaves the target as it was and no temp file behind. That the
// data reaches the disk (fsync) cannot be observed from a test.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/errors.h"

using namespace tangent;
namespace fs = std::filesystem;

namespace {

class FileIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tangent_file_io_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path dir_;
};

TEST_F(FileIo, ReplacesTheTargetAsAWhole) {
  const std::string target = path("out.bin");
  data::write_atomically(target, "test", std::string("old contents"));
  EXPECT_EQ(slurp(target), "old contents");
  struct stat before {};
  ASSERT_EQ(::stat(target.c_str(), &before), 0);

  std::ifstream reader(target, std::ios::binary);  // opened before the write
  const std::string big(1 << 20, 'n');
  data::write_atomically(target, "test", [&](std::ostream& out) { out << big; });
  EXPECT_EQ(slurp(target), big);
  // The reader still sees the whole old file: the new one was renamed over it, not written into it.
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(reader), std::istreambuf_iterator<char>()), "old contents");
  struct stat after {};
  ASSERT_EQ(::stat(target.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(files(), std::vector<std::string>{"out.bin"});  // no temp file left
}

TEST_F(FileIo, AFailedWriteLeavesTheTargetAndNoTempFile) {
  const std::string target = path("out.bin");
  data::write_atomically(target, "test", std::string("kept"));
  // The writer throws halfway.
  EXPECT_THROW(data::write_atomically(target, "test",
                                      [](std::ostream& out) {
                                        out << "partial";
                                        throw std::runtime_error("writer failed");
                                      }),
               std::runtime_error);
  EXPECT_EQ(slurp(target), "kept");
  EXPECT_EQ(files(), std::vector<std::string>{"out.bin"});
  // The stream fails (a write to a stream put into the bad state).
  tangent::testing::expect_error(
      [&] { data::write_atomically(target, "write_thing", [](std::ostream& out) { out.setstate(std::ios::badbit); }); },
      {"write_thing", "out.bin.tmp-"});
  EXPECT_EQ(slurp(target), "kept");
  EXPECT_EQ(files(), std::vector<std::string>{"out.bin"});
  // The rename fails: the target is a non-empty directory.
  fs::create_directories(path("dir/inside"));
  tangent::testing::expect_error([&] { data::write_atomically(path("dir"), "write_thing", std::string("x")); },
                                 {"write_thing", "cannot rename", "dir.tmp-"});
  EXPECT_EQ(files(), (std::vector<std::string>{"dir", "out.bin"}));
  // The directory does not exist: nothing is written, and the message names the op and the file.
  tangent::testing::expect_error(
      [&] { data::write_atomically(path("missing/out.bin"), "write_thing", std::string("x")); },
      {"write_thing", "missing/out.bin.tmp-", "cannot open"});
  EXPECT_FALSE(fs::exists(path("missing")));
}

// Every writer goes through it: a failing rename leaves no temp file for .npy, checkpoints and safetensors alike.
TEST_F(FileIo, WritersLeaveNoTempFileOnFailure) {
  fs::create_directories(path("x.npy/inside"));
  fs::create_directories(path("m.tgt/inside"));
  fs::create_directories(path("w.safetensors/inside"));
  tangent::testing::expect_error([&] { data::write_npy(path("x.npy"), ones({3})); }, {"write_npy", "x.npy"});
  nn::Checkpoint c;
  c.model_kind = "mlp";
  tangent::testing::expect_error([&] { nn::save_checkpoint(path("m.tgt"), c); }, {"save_checkpoint", "m.tgt"});
  tangent::testing::expect_error(
      [&] {
        nn::write_safetensors(path("w.safetensors"), {{"w", ones({2})}});
      },
      {"write_safetensors", "w.safetensors"});
  EXPECT_EQ(files(), (std::vector<std::string>{"m.tgt", "w.safetensors", "x.npy"}));
}

}  // namespace
