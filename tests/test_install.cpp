// Installation: `cmake --install` of this build into a temporary prefix, then a separate CMake project
// (tests/install_project) finds it with find_package(Tangent), links Tangent::tangent, builds and runs.
#include <gtest/gtest.h>

#include "support/optional.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string quote(const fs::path& p) { return "'" + p.string() + "'"; }

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `cmd` with stdout and stderr appended to `log`; returns the exit status.
int run(const std::string& cmd, const fs::path& log) {
  std::ofstream(log, std::ios::app) << "$ " << cmd << "\n";
  return std::system((cmd + " >> " + quote(log) + " 2>&1").c_str());
}

bool truthy(const std::string& v) { return v == "ON" || v == "1" || v == "TRUE" || v == "YES" || v == "on"; }

}  // namespace

TEST(Install, FindPackageConsumerBuildsAndRuns) {
  const std::string source = env("TANGENT_SOURCE_DIR"), binary = env("TANGENT_BINARY_DIR");
  TANGENT_REQUIRE_OR_SKIP(!source.empty() && !binary.empty(),
                          "$TANGENT_SOURCE_DIR / $TANGENT_BINARY_DIR (run via ctest)");
  TANGENT_REQUIRE_OR_SKIP(std::system("cmake --version > /dev/null 2>&1") == 0, "cmake on PATH");

  const fs::path work = fs::path(binary) / "install_test";
  const fs::path prefix = work / "prefix", build = work / "build", log = work / "log.txt";
  fs::remove_all(work);
  fs::create_directories(work);

  ASSERT_EQ(run("cmake --install " + quote(binary) + " --prefix " + quote(prefix), log), 0) << read_file(log);
  EXPECT_TRUE(fs::exists(prefix / "include/tangent/tangent.h"));
  EXPECT_TRUE(fs::exists(prefix / "include/tangent/core/tensor.h"));
  EXPECT_TRUE(fs::exists(prefix / "include/tangent/autograd/engine.h"));
  EXPECT_TRUE(fs::exists(prefix / "include/tangent/ops/elementwise.h"));
  EXPECT_TRUE(fs::exists(prefix / "include/tangent/cuda/cuda.h"));
  EXPECT_FALSE(fs::exists(prefix / "include/tangent/ops/cpu")) << "CPU kernel headers are private";

  std::string configure = "cmake -S " + quote(fs::path(source) / "tests/install_project") + " -B " + quote(build) +
                          " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + quote(prefix);
  if (!env("TANGENT_CXX_COMPILER").empty()) configure += " -DCMAKE_CXX_COMPILER=" + quote(env("TANGENT_CXX_COMPILER"));
  if (!env("TANGENT_CXX_COMPILER_LAUNCHER").empty())
    configure += " -DCMAKE_CXX_COMPILER_LAUNCHER=" + quote(env("TANGENT_CXX_COMPILER_LAUNCHER"));
  // A sanitized libtangent needs its consumers linked with the sanitizer runtimes too.
  if (truthy(env("TANGENT_SANITIZE")))
    configure +=
        " '-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined' '-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined'";
  ASSERT_EQ(run(configure, log), 0) << read_file(log);
  ASSERT_EQ(run("cmake --build " + quote(build), log), 0) << read_file(log);

  const fs::path out = work / "out.txt";
  ASSERT_EQ(std::system((quote(build / "install_check") + " > " + quote(out) + " 2>&1").c_str()), 0) << read_file(out);
  const std::string text = read_file(out);
  EXPECT_NE(text.find("y: 3 12 27"), std::string::npos) << text;
  EXPECT_NE(text.find("grad: 6 12 18"), std::string::npos) << text;
  EXPECT_NE(text.find("cuda available: "), std::string::npos) << text;
}
