// DataLoader and the deterministic per-epoch shuffle.
#include "nn/data/dataloader.h"

#include <algorithm>
#include <array>
#include <numeric>

#include "core/generator.h"
#include "ops/factory.h"

namespace tangent::data {

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, int64_t epoch) {
  TANGENT_CHECK(n >= 0, "shuffled_indices: n must be >= 0, got ", n);
  TANGENT_CHECK(epoch >= 0, "shuffled_indices: epoch must be >= 0, got ", epoch);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  // Step k (k = 0..n-2) swaps position i = n-1-k with a uniform j in [0, i]. One Philox block gives two 64-bit
  // draws, so block b serves steps 2b and 2b+1. j = floor(r * (i+1) / 2^64): its bias is below (i+1) / 2^64.
  std::array<uint32_t, 4> block{};
  for (int64_t k = 0; k + 1 < n; ++k) {
    if (k % 2 == 0) block = philox4x32(static_cast<uint64_t>(k / 2), static_cast<uint64_t>(epoch), seed);
    const size_t w = static_cast<size_t>(k % 2) * 2;
    const uint64_t r = (static_cast<uint64_t>(block[w]) << 32) | block[w + 1];
    const int64_t i = n - 1 - k;
    const auto j = static_cast<int64_t>((static_cast<unsigned __int128>(r) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  TANGENT_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
  TANGENT_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", options_.batch_size);
  TANGENT_CHECK(options_.num_shards >= 1 && options_.shard >= 0 && options_.shard < options_.num_shards,
                "DataLoader: shard ", options_.shard, " of ", options_.num_shards, " is out of range");
  TANGENT_CHECK(dataset_->size() >= options_.num_shards, "DataLoader: ", dataset_->size(),
                " examples cannot give each of ", options_.num_shards, " shards one");
}

int64_t DataLoader::examples_per_epoch() const { return dataset_->size() / options_.num_shards; }

int64_t DataLoader::num_batches() const {
  const int64_t n = examples_per_epoch(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::set_epoch(int64_t epoch) { load_state({epoch, 0}); }

void DataLoader::load_state(const DataLoaderState& state) {
  TANGENT_CHECK(state.epoch >= 0, "DataLoader::load_state: epoch must be >= 0, got ", state.epoch);
  TANGENT_CHECK(state.batch >= 0 && state.batch <= num_batches(), "DataLoader::load_state: batch ", state.batch,
                " is out of range for an epoch of ", num_batches(), " batches");
  state_ = state;
  if (state_.batch == num_batches() && num_batches() > 0) state_ = {state.epoch + 1, 0};
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  std::vector<int64_t> o;
  if (options_.shuffle) {
    o = shuffled_indices(dataset_->size(), options_.seed, epoch);
  } else {
    o.resize(static_cast<size_t>(dataset_->size()));
    std::iota(o.begin(), o.end(), int64_t{0});
  }
  if (options_.num_shards == 1) return o;
  // Shard r of K: positions r, r + K, r + 2K, ... of the epoch's order, the last n mod K positions dropped.
  const int64_t k = options_.num_shards, per = examples_per_epoch();
  std::vector<int64_t> mine(static_cast<size_t>(per));
  for (int64_t i = 0; i < per; ++i) mine[static_cast<size_t>(i)] = o[static_cast<size_t>(options_.shard + i * k)];
  return mine;
}

Example DataLoader::make_batch(const std::vector<int64_t>& order, int64_t index) const {
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t start = index * options_.batch_size;
  const int64_t len = std::min(options_.batch_size, n - start);
  std::vector<int64_t> idx(order.begin() + start, order.begin() + start + len);
  return dataset_->get_batch(tensor(idx, {len}));
}

Example DataLoader::batch(int64_t epoch, int64_t index) const {
  TANGENT_CHECK(index >= 0 && index < num_batches(), "DataLoader::batch: batch ", index,
                " is out of range for an epoch of ", num_batches(), " batches");
  return make_batch(order(epoch), index);
}

DataLoader::Iterator DataLoader::begin() {
  Iterator it;
  it.loader_ = this;
  it.epoch_ = state_.epoch;
  it.batch_ = state_.batch;
  if (it.batch_ < num_batches()) {
    it.order_ = std::make_shared<const std::vector<int64_t>>(order(state_.epoch));
    it.load();
  }
  return it;
}

DataLoader::Iterator DataLoader::end() {
  Iterator it;
  it.loader_ = this;
  it.batch_ = num_batches();
  return it;
}

void DataLoader::Iterator::load() {
  current_ = loader_->make_batch(*order_, batch_);
  // The cursor now points past this batch; past the last one it moves to the next epoch's start.
  if (batch_ + 1 < loader_->num_batches()) {
    loader_->state_ = {epoch_, batch_ + 1};
  } else {
    loader_->state_ = {epoch_ + 1, 0};
  }
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  ++batch_;
  if (batch_ < loader_->num_batches()) {
    load();
  } else {
    current_ = Example();
  }
  return *this;
}

}  // namespace tangent::data
