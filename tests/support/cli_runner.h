#pragma once
// Running the `tangent` binary from end-to-end tests: run_binary spawns it (no shell) with stdout and stderr
// captured together into a log file and waits; spawn_binary and wait_binary do the two halves (to kill it between).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern char** environ;

namespace tangent::testing_support {

struct CliResult {
  bool exited = false;  // false: killed by a signal
  int code = -1;        // exit code, or the signal number
  std::string output;   // stdout and stderr together
};

inline std::string slurp_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Starts the binary (no shell) with stdout and stderr going to `log`; returns its pid, or -1 if it cannot start.
inline pid_t spawn_binary(const std::string& binary, const std::vector<std::string>& args, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<std::string> all{binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// Waits for a process started by spawn_binary; its output is read back from `log`.
inline CliResult wait_binary(pid_t pid, const std::string& log) {
  CliResult r;
  if (pid < 0) {
    r.output = "posix_spawn failed";
    return r;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exited = WIFEXITED(status);
  r.code = r.exited ? WEXITSTATUS(status) : WTERMSIG(status);
  r.output = slurp_file(log);
  return r;
}

inline CliResult run_binary(const std::string& binary, const std::vector<std::string>& args, const std::string& log) {
  return wait_binary(spawn_binary(binary, args, log), log);
}

// A fixture for end-to-end tests of the binary ($TANGENT_BINARY_DIR/bin/tangent, skipped when missing): a fresh
// temporary directory per test, path() inside it, and run() capturing the output.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("TANGENT_BINARY_DIR");
    if (bin == nullptr || *bin == '\0') GTEST_SKIP() << "TANGENT_BINARY_DIR is not set";
    binary_ = std::string(bin) + "/bin/tangent";
    if (!std::filesystem::exists(binary_)) GTEST_SKIP() << binary_ << " does not exist";
    dir_ = std::filesystem::temp_directory_path() /
           ("tangent_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // Whether the Fashion-MNIST files are installed ($TANGENT_FASHION_MNIST or Debian's path).
  static bool have_data() {
    const char* env = std::getenv("TANGENT_FASHION_MNIST");
    const std::string root = env != nullptr && *env != '\0' ? env : "/usr/share/datasets/fashion-mnist";
    return std::filesystem::exists(root);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // Runs the binary with `args` (no shell involved), stdout and stderr together in the result.
  CliResult run(const std::vector<std::string>& args) const { return run_binary(binary_, args, path("output.log")); }

  std::string binary_;
  std::filesystem::path dir_;
};

}  // namespace tangent::testing_support
