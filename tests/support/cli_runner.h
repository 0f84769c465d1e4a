#pragma once
// Running the `tangent` binary from end-to-end tests: run_binary spawns it (no shell) with stdout and stderr
// captured together into a log file, or stderr into a file of its own; a run that outlives its timeout is killed;
// spawn_binary and wait_binary do the two halves (to kill it in between).
#include <gtest/gtest.h>

#include "support/optional.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace tangent::testing_support {

struct CliResult {
  bool exited = false;  // false: killed by a signal
  int code = -1;        // exit code, or the signal number
  std::string output;   // stdout and stderr together, or stdout alone when stderr went to its own file
  std::string error;    // stderr, when it went to its own file
  bool timed_out = false;
};

inline std::string slurp_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Starts `binary args...` (no shell) with stdout to `log` and stderr to `err_log` (or `log` when empty); returns
// its pid, or -1 if it cannot start.
inline pid_t spawn_binary(const std::string& binary, const std::vector<std::string>& args, const std::string& log,
                          const std::string& err_log = "") {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (err_log.empty())
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  else
    posix_spawn_file_actions_addopen(&fa, 2, err_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
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

// Waits for a process started by spawn_binary and reads its output back from the logs. After `timeout_s` seconds
// the process is killed (SIGKILL) and the result says timed_out.
inline CliResult wait_binary(pid_t pid, const std::string& log, const std::string& err_log = "",
                             double timeout_s = 1800) {
  CliResult r;
  if (pid < 0) {
    r.output = "posix_spawn failed";
    return r;
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.exited = WIFEXITED(status);
  r.code = r.exited ? WEXITSTATUS(status) : WTERMSIG(status);
  r.output = slurp_file(log);
  if (!err_log.empty()) r.error = slurp_file(err_log);
  return r;
}

// Runs `binary args...` to completion (spawn_binary + wait_binary).
inline CliResult run_binary(const std::string& binary, const std::vector<std::string>& args, const std::string& log,
                            const std::string& err_log = "", double timeout_s = 1800) {
  return wait_binary(spawn_binary(binary, args, log, err_log), log, err_log, timeout_s);
}

// A fixture for end-to-end tests of the binary ($TANGENT_BINARY_DIR/bin/tangent, skipped when missing): a fresh
// temporary directory per test, path() inside it, and run() capturing the output.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("TANGENT_BINARY_DIR");
    TANGENT_REQUIRE_OR_SKIP(bin != nullptr && *bin != '\0', "$TANGENT_BINARY_DIR (run the tests through ctest)");
    binary_ = std::string(bin) + "/bin/tangent";
    TANGENT_REQUIRE_OR_SKIP(std::filesystem::exists(binary_), binary_);
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
  // A failed invocation: a normal exit with status 1 and "error: <message>", never a signal (tests/test_cli_errors.cpp
  // has the full table of bad invocations).
  void expect_clean_failure(const std::vector<std::string>& args, const std::string& message_part) const {
    const CliResult r = run(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_TRUE(r.exited) << joined << ": killed by signal " << r.code << "\n" << r.output;
    EXPECT_EQ(r.code, 1) << joined << "\n" << r.output;
    EXPECT_NE(r.output.find("error: "), std::string::npos) << joined << "\n" << r.output;
    EXPECT_NE(r.output.find(message_part), std::string::npos) << joined << ": no '" << message_part << "' in\n"
                                                              << r.output;
  }

  std::string binary_;
  std::filesystem::path dir_;
};

}  // namespace tangent::testing_support
