// nn/distributed over MPI, run as `mpirun -np K bench_distributed` (K = 1 or 2 here; one thread per rank); rank 0
// reports, the other ranks run the same benchmarks silently (fixed iteration counts, so that every rank makes the
// same collective calls):
//   BM_all_reduce/BYTES      ProcessGroup::all_reduce (Sum) of a float32 tensor of BYTES, 1 KiB to 64 MiB
//   BM_raw_allreduce/BYTES   the baseline: MPI_Allreduce(MPI_IN_PLACE) of the same buffer (MPI builds only)
//   BM_mlp_epoch             one data-parallel epoch of nn::Trainer (SGD, no test set): MLP 784-256-256-10 on
//                            4,096 random examples, batch 32 per rank; items/s = examples of the whole epoch per s
//   BM_ntk_n4000             the distributed empirical NTK (trace, structured method, tile 250) of an MLP
//                            64-256-256-10 on 4,000 inputs against themselves; items/s = kernel entries per s
// Scaling: run with -np 1 and -np 2 and divide the items/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>

#include <tangent/tangent.h>

#include "nn/distributed/process_group.h"
#include "nn/ntk/ntk.h"
#include "nn/trainer.h"
#include "tools/bench/bench_main.h"

#ifdef TANGENT_WITH_MPI
#include <mpi.h>
#endif

using namespace tangent;

namespace {

std::shared_ptr<distributed::ProcessGroup> group() { return distributed::ProcessGroup::world(); }

int64_t iterations_for(int64_t bytes) { return bytes <= (1 << 20) ? 200 : bytes <= (16 << 20) ? 20 : 5; }

void BM_all_reduce(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  const Tensor t = ones({bytes / 4});
  auto g = group();
  for (auto _ : state) g->all_reduce(t);
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["ranks"] = g->size();
}

#ifdef TANGENT_WITH_MPI
void BM_raw_allreduce(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  const Tensor t = ones({bytes / 4});
  group();  // MPI initialised
  for (auto _ : state)
    MPI_Allreduce(MPI_IN_PLACE, t.raw_data(), static_cast<int>(bytes / 4), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  state.SetBytesProcessed(state.iterations() * bytes);
}
#endif

std::shared_ptr<models::MLP> mlp(int64_t in, std::vector<int64_t> hidden) {
  models::MLPOptions o;
  o.input_shape = {in};
  o.hidden = std::move(hidden);
  o.out_features = 10;
  return std::make_shared<models::MLP>(o);
}

void BM_mlp_epoch(benchmark::State& state) {
  const int64_t n = 4096;
  Generator gen(1);
  auto ds = std::make_shared<data::TensorDataset>(randn({n, 784}, {}, &gen), randint(0, 10, {n}, kInt64, &gen));
  manual_seed(2);
  auto model = mlp(784, {256, 256});
  nn::TrainOptions o;
  o.epochs = 1000;
  o.batch_size = 32;
  o.optimizer = "sgd";
  o.schedule = "constant";
  o.lr = 0.01;
  o.group = group();
  nn::Trainer trainer(model, "mlp", model->config(), ds, nullptr, o);
  for (auto _ : state) benchmark::DoNotOptimize(trainer.train_epoch().train_loss);
  state.SetItemsProcessed(state.iterations() * (n / o.group->size()) * o.group->size());
  state.counters["ranks"] = o.group->size();
}

void BM_ntk_n4000(benchmark::State& state) {
  const int64_t n = 4000;
  Generator gen(3);
  const Tensor x = randn({n, 64}, {}, &gen);
  manual_seed(4);
  auto model = mlp(64, {256, 256});
  ntk::NtkOptions o;
  o.mode = ntk::Mode::Trace;
  o.method = ntk::Method::Structured;
  o.tile = 250;
  o.group = group();
  for (auto _ : state) benchmark::DoNotOptimize(ntk::empirical_ntk(*model, x, Tensor(), o).kernel.raw_data());
  state.SetItemsProcessed(state.iterations() * n * n);
  state.counters["ranks"] = o.group->size();
}

// Collectives need the same number of calls on every rank: fixed iterations per size.
void register_all() {
  for (int64_t bytes = 1 << 10; bytes <= (64 << 20); bytes = bytes == (32 << 20) ? (64 << 20) : bytes * 8) {
    benchmark::RegisterBenchmark("BM_all_reduce", BM_all_reduce)
        ->Arg(bytes)
        ->Iterations(iterations_for(bytes))
        ->UseRealTime();
#ifdef TANGENT_WITH_MPI
    benchmark::RegisterBenchmark("BM_raw_allreduce", BM_raw_allreduce)
        ->Arg(bytes)
        ->Iterations(iterations_for(bytes))
        ->UseRealTime();
#endif
    if (bytes == (64 << 20)) break;
  }
  benchmark::RegisterBenchmark("BM_mlp_epoch", BM_mlp_epoch)->Iterations(3)->UseRealTime()->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("BM_ntk_n4000", BM_ntk_n4000)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);
}

}  // namespace

int main(int argc, char** argv) {
  set_num_threads(1);
  auto g = group();
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (g->rank() == 0) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    benchmark::BenchmarkReporter* quiet = nullptr;
    struct Null : benchmark::BenchmarkReporter {
      bool ReportContext(const Context&) override { return true; }
      void ReportRuns(const std::vector<Run>&) override {}
    } null;
    quiet = &null;
    benchmark::RunSpecifiedBenchmarks(quiet);
  }
  benchmark::Shutdown();
  g->barrier();
  return 0;
}
