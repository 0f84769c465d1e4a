// `tangent train --resume`, end to end on small .npy data sets (no data set needs to be installed):
//   - crash safety: runs killed with SIGKILL at many seeded random moments (at random times, while a checkpoint
//     is being written, while the reports are) always leave a checkpoint that loads, and resuming them until they
//     finish ends bit-identical to an uninterrupted run;
//   - the flags check: a resumed run uses the flags recorded in the checkpoint; a flag given with another value is
//     an error naming each difference, unless --override names it.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/cli_runner.h"
#include "support/runs.h"

using namespace tangent;
namespace fs = std::filesystem;
using testing_support::CliResult;
using testing_support::expect_same_run;
using testing_support::slurp_file;

namespace {

class Resume : public testing_support::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (IsSkipped()) return;
    // Three Gaussian blobs in 6-D: 96 training and 48 test examples.
    Generator gen(61);
    const Tensor centers = mul(randn({3, 6}, {}, &gen), 2.0);
    for (const auto& [name, n] : {std::pair<std::string, int64_t>{"train", 96}, {"test", 48}}) {
      const Tensor labels = randint(0, 3, {n}, kInt64, &gen);
      data::write_npy(path(name + "_x.npy"), add(index_select(centers, 0, labels), randn({n, 6}, {}, &gen)));
      data::write_npy(path(name + "_y.npy"), labels);
    }
  }
  // A small MLP run with dropout (the random generator), Adam and the cosine schedule (their states), writing
  // into `out`; `extra` flags go last.
  std::vector<std::string> train_args(const std::string& out, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args{"train",
                                  "--model",
                                  "mlp",
                                  "--hidden",
                                  "16",
                                  "--dropout",
                                  "0.1",
                                  "--data",
                                  "npy:" + path("train_x.npy") + "," + path("train_y.npy"),
                                  "--test-data",
                                  "npy:" + path("test_x.npy") + "," + path("test_y.npy"),
                                  "--batch-size",
                                  "16",
                                  "--lr",
                                  "0.01",
                                  "--threads",
                                  "1",
                                  "--out",
                                  out};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  static void expect_ok(const CliResult& r) { ASSERT_TRUE(r.exited && r.code == 0) << r.output; }
  // A clean failure: exit code 1 with "error: " and every one of `parts` in the output.
  static void expect_failure(const CliResult& r, const std::vector<std::string>& parts) {
    EXPECT_TRUE(r.exited && r.code == 1) << r.output;
    EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
    for (const auto& p : parts) EXPECT_NE(r.output.find(p), std::string::npos) << "no '" << p << "' in\n" << r.output;
  }
};

// ---- crash safety ----

// Waits for the next file created in the watched directory whose name starts with `prefix`, for at most
// `timeout_ms`, or until `pid` exits (then *status is set and it returns false).
bool wait_for_created(int inotify_fd, const std::string& prefix, int timeout_ms, pid_t pid, int* status, bool* exited) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, status, WNOHANG) == pid) {
      *exited = true;
      return false;
    }
    pollfd p{inotify_fd, POLLIN, 0};
    if (poll(&p, 1, 1) <= 0) continue;
    alignas(inotify_event) char buf[4096];
    const ssize_t n = read(inotify_fd, buf, sizeof(buf));
    for (ssize_t off = 0; off < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
      if (e->len > 0 && std::string(e->name).rfind(prefix, 0) == 0) return true;
      off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  return false;
}

TEST_F(Resume, KilledAtRandomMomentsEndsBitIdentical) {
  // 40 "epochs" of 2 steps (--eval-every 2): a checkpoint, metrics.csv and curves.svg every 2 steps.
  const std::vector<std::string> run_flags{"--epochs", "40", "--eval-every", "2", "--resume"};
  const std::string reference = path("reference");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(train_args(reference, run_flags))));
  const auto uninterrupted_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();

  const std::string out = path("killed"), ckpt = out + "/model.tgt";
  const std::vector<std::string> args = train_args(out, run_flags);
  const int inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(inotify_fd, 0);
  constexpr int kKills = 30;
  std::mt19937 rng(20240917);
  int kills = 0, killed_in_checkpoint_write = 0, killed_in_report_write = 0, finished_runs = 0;
  int64_t last_epoch = 0;
  for (int attempt = 0; attempt < 400 && (kills < kKills || finished_runs == 0); ++attempt) {
    if (!fs::exists(out)) {  // a fresh run
      fs::create_directories(out);
      ASSERT_GE(inotify_add_watch(inotify_fd, out.c_str(), IN_CREATE), 0);
      last_epoch = 0;
    }
    // The moment: a random time (up to an eighth of an uninterrupted run, startup included), or right after the
    // n-th temp file of a checkpoint, or of metrics.csv, appears; after kKills kills, none.
    const int mode = kills < kKills ? static_cast<int>(rng() % 3) : 3;
    const auto delay_ms = static_cast<int>(rng() % static_cast<unsigned>(std::max<int64_t>(uninterrupted_ms / 8, 20)));
    const int nth = 1 + static_cast<int>(rng() % 3);
    alignas(inotify_event) char stale[4096];  // events of earlier attempts
    while (read(inotify_fd, stale, sizeof(stale)) > 0) {}
    const std::string log = path("attempt.log");
    const pid_t pid = testing_support::spawn_binary(binary_, args, log);
    ASSERT_GT(pid, 0);
    int status = 0;
    bool exited = false;
    if (mode == 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
      while (!exited && std::chrono::steady_clock::now() < until) {
        exited = waitpid(pid, &status, WNOHANG) == pid;
        if (!exited) usleep(500);
      }
    } else if (mode == 1 || mode == 2) {
      const std::string prefix = mode == 1 ? "model.tgt.tmp-" : "metrics.csv.tmp-";
      for (int seen = 0; seen < nth && !exited;)
        seen += wait_for_created(inotify_fd, prefix, 60000, pid, &status, &exited) ? 1 : nth;
    }
    if (!exited && mode != 3) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    } else if (!exited) {
      waitpid(pid, &status, 0);
    }
    if (WIFSIGNALED(status)) {
      ASSERT_EQ(WTERMSIG(status), SIGKILL) << slurp_file(log);
      ++kills;
      const std::string tmp = ".tmp-" + std::to_string(pid);
      killed_in_checkpoint_write += fs::exists(ckpt + tmp);
      killed_in_report_write += fs::exists(out + "/metrics.csv" + tmp) || fs::exists(out + "/curves.svg" + tmp);
    } else {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp_file(log);
    }
    // Whatever the moment, the checkpoint on disk loads (or none was written yet) and never goes back; the reports
    // are whole and never ahead of it.
    int64_t epoch = 0;
    if (fs::exists(ckpt)) {
      nn::Checkpoint c;
      ASSERT_NO_THROW(c = nn::load_checkpoint(ckpt)) << "after kill " << kills;
      epoch = c.epoch;
    }
    EXPECT_GE(epoch, last_epoch) << "after kill " << kills;
    last_epoch = epoch;
    if (fs::exists(out + "/metrics.csv")) {
      const std::string csv = slurp_file(out + "/metrics.csv");
      EXPECT_EQ(csv.rfind("epoch,train_loss,", 0), 0u) << csv;
      EXPECT_EQ(csv.back(), '\n') << csv;
      EXPECT_LE(std::count(csv.begin(), csv.end(), '\n') - 1, epoch) << csv;
    }
    if (fs::exists(out + "/curves.svg")) {
      const std::string svg = slurp_file(out + "/curves.svg");
      EXPECT_TRUE(svg.size() >= 7 && svg.compare(svg.size() - 7, 7, "</svg>\n") == 0) << svg;
    }
    if (WIFEXITED(status)) {  // this run is complete: it must be the uninterrupted one, bit for bit
      ASSERT_EQ(epoch, 40) << slurp_file(log);
      expect_same_run(out, reference);
      if (HasFailure()) break;
      ++finished_runs;
      fs::remove_all(out);  // the next attempts start a fresh run
    }
  }
  close(inotify_fd);
  std::printf(
      "[ crash ] %d SIGKILLs over %d completed runs: %d while a checkpoint was being written, %d while "
      "metrics.csv or curves.svg was; an uninterrupted run takes %lld ms\n",
      kills, finished_runs, killed_in_checkpoint_write, killed_in_report_write,
      static_cast<long long>(uninterrupted_ms));
  EXPECT_GE(kills, kKills);
  EXPECT_GE(finished_runs, 1);
}

// ---- the flags check ----

TEST_F(Resume, OmittedFlagsTakeTheCheckpointsValues) {
  // Two epochs uninterrupted, against one epoch resumed with only --out, --resume and the longer --epochs: the
  // other flags (data, model, lr, seed, ...) come from the checkpoint. A constant schedule, so that the longer run
  // has the same learning rates.
  const std::string full = path("full"), part = path("part");
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(train_args(full, {"--epochs", "2", "--schedule", "constant", "--seed", "4"}))));
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(train_args(part, {"--epochs", "1", "--schedule", "constant", "--seed", "4"}))));
  const CliResult r = run({"train", "--out", part, "--resume", "--epochs", "2", "--override", "epochs"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(r));
  EXPECT_NE(r.output.find("resumed from " + part + "/model.tgt at epoch 1"), std::string::npos) << r.output;
  expect_same_run(part, full);
  const nn::Checkpoint c = nn::load_checkpoint(part + "/model.tgt");
  EXPECT_EQ(c.metadata.at("flag.lr"), "0.01");
  EXPECT_EQ(c.metadata.at("flag.seed"), "4");
  EXPECT_EQ(c.metadata.at("flag.schedule"), "constant");
  EXPECT_EQ(c.metadata.at("flag.epochs"), "2");
}

TEST_F(Resume, SameFlagsResume) {
  const std::string out = path("run");
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(train_args(out, {"--epochs", "2"}))));
  const std::string before = slurp_file(out + "/model.tgt");
  // The same command line (the lr written differently), nothing left to train: the checkpoint stays as it was.
  std::vector<std::string> args = train_args(out, {"--epochs", "2", "--resume"});
  *std::find(args.begin(), args.end(), "0.01") = "1e-2";
  const CliResult r = run(args);
  ASSERT_NO_FATAL_FAILURE(expect_ok(r));
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_EQ(slurp_file(out + "/model.tgt"), before);
}

TEST_F(Resume, DifferencesAreErrorsNamingEach) {
  const std::string out = path("run");
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(train_args(out, {"--epochs", "2"}))));
  const std::string before = slurp_file(out + "/model.tgt");
  // One difference.
  std::vector<std::string> args = train_args(out, {"--epochs", "2", "--resume"});
  *std::find(args.begin(), args.end(), "0.01") = "0.02";
  expect_failure(run(args), {"--resume: the checkpoint was trained with --lr 0.01, the command line says --lr 0.02",
                             "--override"});
  // Several: each is named, in one message.
  CliResult r = run({"train", "--out", out, "--resume", "--lr", "0.002", "--seed", "9", "--batch-size", "32",
                     "--hidden", "8,8", "--ntk", "--optimizer", "sgd", "--epochs", "2"});
  expect_failure(r, {"the checkpoint was trained with --lr 0.01, the command line says --lr 0.002",
                     "the checkpoint was trained with --seed 0, the command line says --seed 9",
                     "the checkpoint was trained with --batch-size 16, the command line says --batch-size 32",
                     "the checkpoint was trained with --hidden 16, the command line says --hidden 8,8",
                     "the checkpoint was trained with --ntk false, the command line says --ntk true",
                     "the checkpoint was trained with --optimizer adam, the command line says --optimizer sgd"});
  EXPECT_EQ(r.output.find("--epochs 2,"), std::string::npos) << r.output;  // the same value is no difference
  // --override of some leaves the others as errors.
  r = run({"train", "--out", out, "--resume", "--lr", "0.002", "--seed", "9", "--override", "lr"});
  expect_failure(r, {"--seed 0, the command line says --seed 9"});
  EXPECT_EQ(r.output.find("--lr 0.01"), std::string::npos) << r.output;
  EXPECT_EQ(slurp_file(out + "/model.tgt"), before);  // nothing was written
}

TEST_F(Resume, OverrideTakesTheCommandLinesValue) {
  const std::string out = path("run");
  ASSERT_NO_FATAL_FAILURE(
      expect_ok(run(train_args(out, {"--epochs", "1", "--schedule", "constant", "--optimizer", "sgd"}))));
  const CliResult r =
      run({"train", "--out", out, "--resume", "--epochs", "2", "--lr", "0.04", "--override", "--lr,epochs"});
  ASSERT_NO_FATAL_FAILURE(expect_ok(r));
  EXPECT_NE(r.output.find("epoch 2:"), std::string::npos) << r.output;
  const nn::Checkpoint c = nn::load_checkpoint(out + "/model.tgt");
  EXPECT_EQ(c.epoch, 2);
  EXPECT_EQ(c.metadata.at("flag.lr"), "0.04");
  EXPECT_EQ(c.metadata.at("flag.optimizer"), "sgd");  // still the checkpoint's
  // The new learning rate is the one used: the optimizer's state and the second row of metrics.csv say 0.04.
  double lr = 0;
  for (const auto& [name, value] : c.optimizer_scalars)
    if (name == "group.0.lr") lr = value;
  EXPECT_EQ(lr, 0.04);
  const std::string csv = slurp_file(out + "/metrics.csv");
  EXPECT_NE(csv.find(",0.01\n2,"), std::string::npos) << csv;
  EXPECT_EQ(csv.substr(csv.size() - 6), ",0.04\n") << csv;
}

TEST_F(Resume, OverrideErrors) {
  const std::string out = path("run");
  ASSERT_NO_FATAL_FAILURE(expect_ok(run(train_args(out, {"--epochs", "1"}))));
  expect_failure(run({"train", "--out", out, "--resume", "--lr", "0.1", "--override", "lr,learning-rate"}),
                 {"--override: 'learning-rate' is not a flag the checkpoint records", "lr, max-steps"});
  expect_failure(run({"train", "--out", out, "--resume", "--override", "seed"}),
                 {"--override seed: the command line does not give --seed"});
  expect_failure(run({"train", "--out", out, "--lr", "0.1", "--override", "lr"}),
                 {"--override only applies with --resume"});
  // An unknown name is an error even before any checkpoint exists.
  expect_failure(run({"train", "--out", path("new"), "--resume", "--override", "bogus"}), {"'bogus'"});
  EXPECT_FALSE(fs::exists(path("new")));
}

}  // namespace
