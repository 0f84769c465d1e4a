#pragma once
// Comparing two `tangent train` output directories: a resumed (or interrupted and resumed) run must end exactly
// where an uninterrupted one does. expect_same_run checks DIR/model.tgt bit for bit (parameters and buffers,
// optimizer state, epoch, step, random generator, per-epoch history) and DIR/metrics.csv row by row; only the
// timing columns (seconds, examples per second) may differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "support/cli_runner.h"

namespace tangent::testing_support {

// Bit-identical tensors: same names, dtypes, shapes and bytes.
inline void expect_same_tensors(const nn::StateDict& a, const nn::StateDict& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first) << what;
    const Tensor x = a[i].second.contiguous(), y = b[i].second.contiguous();
    ASSERT_EQ(x.dtype(), y.dtype()) << what << " " << a[i].first;
    ASSERT_EQ(x.shape(), y.shape()) << what << " " << a[i].first;
    EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), static_cast<size_t>(x.numel()) * element_size(x.dtype())), 0)
        << what << " " << a[i].first << " differs";
  }
}

// Rows of `text` (lines, or ';'-separated history entries) with the fields at `drop` removed.
inline std::vector<std::string> rows_without(const std::string& text, char row_sep, const std::vector<size_t>& drop) {
  std::vector<std::string> rows;
  std::stringstream in(text);
  std::string row;
  while (std::getline(in, row, row_sep)) {
    std::stringstream fields(row);
    std::string field, kept;
    for (size_t i = 0; std::getline(fields, field, ','); ++i)
      if (std::find(drop.begin(), drop.end(), i) == drop.end()) kept += field + ",";
    rows.push_back(kept);
  }
  return rows;
}

// `metrics.csv`'s timing columns (classifiers: epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,
// examples_per_second,lr) and the checkpoint history's (epoch,...,seconds,examples_per_second,lr,step).
constexpr size_t kSecondsColumn = 5, kRateColumn = 6;

inline void expect_same_run(const std::string& dir, const std::string& reference_dir) {
  const nn::Checkpoint a = nn::load_checkpoint(dir + "/model.tgt");
  const nn::Checkpoint b = nn::load_checkpoint(reference_dir + "/model.tgt");
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.rng.seed, b.rng.seed);
  EXPECT_EQ(a.rng.offset, b.rng.offset);
  expect_same_tensors(a.model_state, b.model_state, "model");
  expect_same_tensors(a.optimizer_tensors, b.optimizer_tensors, "optimizer");
  EXPECT_EQ(a.optimizer_scalars, b.optimizer_scalars);
  EXPECT_EQ(a.scheduler, b.scheduler);
  const std::vector<size_t> timing{kSecondsColumn, kRateColumn};
  EXPECT_EQ(rows_without(a.metadata.at("history"), ';', timing), rows_without(b.metadata.at("history"), ';', timing));
  const std::vector<std::string> rows = rows_without(slurp_file(dir + "/metrics.csv"), '\n', timing);
  EXPECT_EQ(rows, rows_without(slurp_file(reference_dir + "/metrics.csv"), '\n', timing));
  EXPECT_EQ(static_cast<int64_t>(rows.size()), a.epoch + 1) << "metrics.csv: a header and a row per epoch";
}

}  // namespace tangent::testing_support
