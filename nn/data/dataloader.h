#pragma once
// DataLoader: iterates over a Dataset in batches, optionally in a shuffled order that depends only on
// (seed, epoch), so that training resumed from a checkpoint sees exactly the batches it would have seen.
//
//   DataLoaderOptions opts;
//   opts.batch_size = 64;
//   opts.shuffle = true;
//   DataLoader loader(dataset, opts);  // or DataLoader(dataset, {64, /*shuffle=*/true, /*seed=*/1})
//   for (int e = 0; e < epochs; ++e)
//     for (const Example& batch : loader) { ... }   // each full pass advances loader.epoch()
//
// The loader keeps a cursor (epoch, next batch): each batch handed out moves it, so state() saved inside the
// loop body means "resume after this batch", and load_state() followed by a range-for continues from there.
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/data/dataset.h"

namespace tangent::data {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  uint64_t seed = 0;
  bool drop_last = false;  // drop the last batch when it has fewer than batch_size examples
  // Sharding for data-parallel training (a DistributedSampler): shard r of K sees positions r, r + K, r + 2K, ...
  // of each epoch's order (the same order on every shard: same seed), after dropping the last n mod K positions,
  // so every shard has n / K examples and the same number of batches (a rank with an extra batch would wait in
  // a collective forever). Batch i of the K shards together holds positions [i K b, (i + 1) K b) of the order:
  // the examples of batch i of one loader with batch size K b.
  int64_t num_shards = 1;
  int64_t shard = 0;
};

// Where a loader stands: the epoch being iterated and the number of its batches already handed out.
struct DataLoaderState {
  int64_t epoch = 0;
  int64_t batch = 0;
};

// The order of 0..n-1 for (seed, epoch): a Fisher-Yates shuffle driven by Philox4x32 (key = seed, counter =
// (step, epoch)), so it is the same on every machine and run.
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, int64_t epoch);

class DataLoader {
 public:
  class Iterator;

  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});

  const DataLoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return *dataset_; }
  // Examples per epoch on this shard (all of them without sharding).
  int64_t examples_per_epoch() const;
  // Batches per epoch (counting the last partial batch unless drop_last).
  int64_t num_batches() const;
  int64_t size() const { return num_batches(); }

  // The epoch the next batch comes from; set_epoch restarts at that epoch's first batch.
  int64_t epoch() const { return state_.epoch; }
  void set_epoch(int64_t epoch);
  DataLoaderState state() const { return state_; }
  void load_state(const DataLoaderState& state);

  // The example order of an epoch (0..n-1 when not shuffling), and random access to one of its batches.
  std::vector<int64_t> order(int64_t epoch) const;
  Example batch(int64_t epoch, int64_t index) const;

  // Iterates the rest of the current epoch, from the cursor's batch to the last; a full pass advances epoch().
  Iterator begin();
  Iterator end();

  class Iterator {
   public:
    const Example& operator*() const { return current_; }
    const Example* operator->() const { return &current_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return batch_ == o.batch_; }
    bool operator!=(const Iterator& o) const { return batch_ != o.batch_; }

   private:
    friend class DataLoader;
    void load();  // fetches batch_ and moves the loader's cursor past it
    DataLoader* loader_ = nullptr;
    std::shared_ptr<const std::vector<int64_t>> order_;
    int64_t epoch_ = 0;
    int64_t batch_ = 0;
    Example current_;
  };

 private:
  Example make_batch(const std::vector<int64_t>& order, int64_t index) const;
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  DataLoaderState state_;
};

}  // namespace tangent::data
