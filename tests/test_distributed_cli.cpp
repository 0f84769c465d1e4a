// `mpirun -np 2 tangent ...`: data-parallel training (rank 0 prints and writes; a 2-rank checkpoint resumes bit for
// bit with 2 ranks and is refused with another count), the distributed NTK (equal bit for bit to one process), and
// a rank that stalls or dies (the other ends with an error within the deadline). Needs mpirun (OpenMPI).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/generator.h"
#include "nn/checkpoint.h"
#include "nn/data/npy.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "support/cli_runner.h"

namespace tangent {
namespace {

using testing_support::CliResult;

bool have_mpirun() {
  const std::string mpiexec = TANGENT_TEST_MPIEXEC;
  return !mpiexec.empty() && std::filesystem::exists(mpiexec);
}

class DistributedCli : public testing_support::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    TANGENT_REQUIRE_OR_SKIP(have_mpirun(),
                            "mpirun and an MPI build (apt-get install libopenmpi-dev openmpi-bin; reconfigure)");
    // CI runs as root, which OpenMPI refuses unless told; one thread per rank on this 2-core machine.
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
  }
  CliResult mpirun(int np, const std::string& program, const std::vector<std::string>& args,
                   double timeout_s = 600) const {
    std::vector<std::string> all = {"-np", std::to_string(np), "--oversubscribe", "--bind-to", "none", program};
    all.insert(all.end(), args.begin(), args.end());
    return testing_support::run_binary(TANGENT_TEST_MPIEXEC, all, path("mpirun.log"), "", timeout_s);
  }
  // 64 labelled examples of 3 blobs in 8 dimensions: npy:X.npy,Y.npy.
  std::string blobs() const {
    Generator gen(4);
    const Tensor centers = mul(randn({3, 8}, {}, &gen), 3.0);
    const Tensor labels = randint(0, 3, {64}, kInt64, &gen);
    data::write_npy(path("X.npy"), add(index_select(centers, 0, labels), randn({64, 8}, {}, &gen)));
    data::write_npy(path("Y.npy"), labels);
    return "npy:" + path("X.npy") + "," + path("Y.npy");
  }
};

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor x = a.contiguous(), y = b.contiguous();
  return x.shape() == y.shape() && x.dtype() == y.dtype() &&
         std::memcmp(x.raw_data(), y.raw_data(), static_cast<size_t>(x.numel()) * element_size(x.dtype())) == 0;
}

TEST_F(DistributedCli, TrainOnTwoRanksResumesBitIdenticallyOnTwoRanks) {
  const std::string data = blobs();
  auto train = [&](const std::string& out, int epochs, bool resume) {
    std::vector<std::string> args = {
        "train",        "--model",   "mlp",         "--hidden",  "16",   "--data",   data,
        "--batch-size", "8",         "--optimizer", "adam",      "--lr", "0.01",     "--schedule",
        "constant",     "--dropout", "0.2",         "--threads", "1",    "--epochs", std::to_string(epochs),
        "--out",        path(out)};
    if (resume) args.insert(args.end(), {"--resume", "--override", "epochs"});
    return args;
  };
  const CliResult whole = mpirun(2, binary_, train("whole", 3, false));
  ASSERT_TRUE(whole.exited && whole.code == 0) << whole.output;
  EXPECT_EQ(count_of(whole.output, "epoch 1:"), 1u) << "only rank 0 prints:\n" << whole.output;
  EXPECT_EQ(count_of(whole.output, "epoch 3:"), 1u) << whole.output;
  const CliResult first = mpirun(2, binary_, train("split", 1, false));
  ASSERT_TRUE(first.exited && first.code == 0) << first.output;
  const CliResult rest = mpirun(2, binary_, train("split", 3, true));
  ASSERT_TRUE(rest.exited && rest.code == 0) << rest.output;
  EXPECT_NE(rest.output.find("resumed from"), std::string::npos) << rest.output;

  const nn::Checkpoint a = nn::load_checkpoint(path("whole/model.tgt"));
  const nn::Checkpoint b = nn::load_checkpoint(path("split/model.tgt"));
  ASSERT_EQ(a.rank_rngs.size(), 2u);
  EXPECT_NE(a.rank_rngs[0].seed, a.rank_rngs[1].seed) << "each rank draws its own dropout masks";
  ASSERT_EQ(b.rank_rngs.size(), 2u);
  for (size_t r = 0; r < 2; ++r) {
    EXPECT_EQ(a.rank_rngs[r].seed, b.rank_rngs[r].seed);
    EXPECT_EQ(a.rank_rngs[r].offset, b.rank_rngs[r].offset);
  }
  EXPECT_EQ(a.step, 3 * 4);  // 64 examples / 2 ranks / 8 per batch = 4 steps per epoch
  ASSERT_EQ(a.model_state.size(), b.model_state.size());
  for (size_t i = 0; i < a.model_state.size(); ++i)
    EXPECT_TRUE(same_bytes(a.model_state[i].second, b.model_state[i].second)) << a.model_state[i].first;

  // One process cannot resume it.
  const CliResult single = run(train("split", 4, true));
  EXPECT_TRUE(single.exited && single.code == 1) << single.output;
  EXPECT_NE(single.output.find("written by 2 process(es) but this run has 1"), std::string::npos) << single.output;
}

TEST_F(DistributedCli, NtkOnTwoRanksEqualsOneRankBitForBit) {
  const std::string data = blobs();
  const CliResult trained = run({"train", "--model", "mlp", "--hidden", "16", "--data", data, "--epochs", "1",
                                 "--threads", "1", "--out", path("m")});
  ASSERT_TRUE(trained.exited && trained.code == 0) << trained.output;
  Generator gen(9);
  data::write_npy(path("x1.npy"), randn({23, 8}, {}, &gen));
  data::write_npy(path("x2.npy"), randn({9, 8}, {}, &gen));
  for (const char* mode : {"trace", "full"})
    for (bool second : {false, true}) {
      SCOPED_TRACE(std::string(mode) + (second ? " with x2" : " without x2"));
      std::vector<std::string> args = {"ntk", path("m/model.tgt"), "--data", path("x1.npy"), "--mode", mode, "--tile",
                                       "4",   "--threads",         "1"};
      if (second) args.insert(args.end(), {"--data2", path("x2.npy")});
      std::vector<std::string> one = args, two = args;
      one.insert(one.end(), {"--out", path("one.npy")});
      two.insert(two.end(), {"--out", path("two.npy")});
      const CliResult r1 = run(one);
      ASSERT_TRUE(r1.exited && r1.code == 0) << r1.output;
      const CliResult r2 = mpirun(2, binary_, two);
      ASSERT_TRUE(r2.exited && r2.code == 0) << r2.output;
      EXPECT_EQ(count_of(r2.output, "wrote " + path("two.npy")), 1u) << "only rank 0 writes:\n" << r2.output;
      const Tensor k1 = data::read_npy(path("one.npy")), k2 = data::read_npy(path("two.npy"));
      EXPECT_EQ(k1.shape()[0], 23);
      EXPECT_EQ(k1.shape()[1], second ? 9 : 23);
      EXPECT_GT(sum(abs(k1)).item<double>(), 0.0);
      EXPECT_TRUE(same_bytes(k1, k2));
      EXPECT_EQ(testing_support::slurp_file(path("one.npy")), testing_support::slurp_file(path("two.npy")));
    }
}

TEST_F(DistributedCli, AStalledRankMakesTheOtherFailWithinTheDeadline) {
  const auto t0 = std::chrono::steady_clock::now();
  const CliResult r = mpirun(2, TANGENT_TEST_WORKER, {"stall", "3"}, 120);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.exited && r.code == 0) << r.output;
  EXPECT_LT(seconds, 30.0) << r.output;
  EXPECT_GE(seconds, 3.0) << r.output;
  for (const char* part :
       {"error: distributed all_reduce (rank 0 of 2)", "float32 [1024]", "within 3 s", "rank 1 has stalled or died"})
    EXPECT_NE(r.output.find(part), std::string::npos) << "'" << part << "' not in:\n" << r.output;
}

TEST_F(DistributedCli, AKilledRankMakesTheOtherExitWithinTheDeadline) {
  const auto t0 = std::chrono::steady_clock::now();
  const CliResult r = mpirun(2, TANGENT_TEST_WORKER, {"die", "3"}, 120);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.exited && r.code == 0) << r.output;
  EXPECT_LT(seconds, 30.0) << r.output;
  EXPECT_EQ(r.output.find("completed (unexpected)"), std::string::npos) << r.output;
}

TEST_F(DistributedCli, DistributedFlagNeedsMpirun) {
  const CliResult r = run({"train", "--model", "mlp", "--data", blobs(), "--out", path("o"), "--distributed"});
  EXPECT_TRUE(r.exited && r.code == 1) << r.output;
  EXPECT_NE(r.output.find("--distributed needs the processes started by mpirun"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tangent
