// tangent ntk: the empirical (or infinite-width analytic) neural tangent kernel of a checkpoint on a data set,
// written as .npy, with its spectrum, an SVG heatmap and optional NTK kernel regression.
//
// Files (STEM = --out without ".npy"):
//   STEM.npy                 the kernel: trace [N1, N2], full [N1, N2, O, O] or diagonal [N1, N2, O]
//   STEM.<param>.npy         --per-layer: one term per parameter tensor (they sum to the kernel)
//   STEM.eigenvalues.npy     --eig K: the K largest eigenvalues, descending
//   STEM.predictions.npy     --regress: the kernel-regression outputs on the test set [M, O]
#include <unistd.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/parallel.h"
#include "models/models.h"
#include "nn/checkpoint.h"
#include "nn/data/data.h"
#include "nn/ntk/analytic.h"
#include "nn/ntk/ntk.h"
#include "nn/ntk/regression.h"
#include "nn/ntk/spectrum.h"
#include "nn/trainer.h"
#include "ops/decomposition.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "tools/tangent/commands.h"
#include "tools/tangent/distributed_run.h"
#include "tools/tangent/flags.h"
#include "tools/tangent/ntk_plots.h"
#include "tools/tangent/outputs.h"

namespace tangent::cli {

namespace {

// The n x n float64 buffers alive at once for the dense solvers (ops/decomposition.h dense_size_problem): the kernel,
// its matrix and eigvalsh's copy (--eig, the plot's spectrum); the kernel, its matrix, the regularised matrix and
// eigh's three (--regress).
constexpr int kEigBuffers = 3;
constexpr int kRegressBuffers = 6;

struct Args {
  std::string checkpoint, data = "fashion-mnist:100", data2, mode = "trace", method = "auto", out, plot;
  std::string regress, t = "inf";
  bool per_layer = false, analytic = false, init = false, float32 = false, trace_mean = false;
  int64_t eig = 0, tile = 0, max_memory_mb = 4096, threads = 0, batch_size = 256;
  uint64_t seed = 0;
  double diag_reg = 0.0;
};

// Peak resident memory of this process (VmHWM), in MiB; -1 where /proc is missing.
double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string stem_of(const std::string& out) {
  const std::string ext = ".npy";
  if (out.size() > ext.size() && out.compare(out.size() - ext.size(), ext.size(), ext) == 0)
    return out.substr(0, out.size() - ext.size());
  return out;
}

// Inputs and (optional) labels from a spec: "x.npy" (inputs only), "npy:X.npy[,Y.npy]", "fashion-mnist[:N]" or an
// IDX directory (data::load_dataset).
data::TensorDataset load_inputs(const std::string& spec, bool train) {
  const bool plain_npy = spec.size() > 4 && spec.compare(spec.size() - 4, 4, ".npy") == 0 &&
                         spec.rfind("npy:", 0) != 0 && spec.find(',') == std::string::npos;
  if (plain_npy) return data::TensorDataset(data::read_npy(spec));
  return data::load_dataset(spec, train);
}

// The inputs reshaped to [N, model input shape] (flat rows accepted) in the model's input dtype.
Tensor model_inputs(const models::Model& model, Tensor x, const std::string& spec) {
  const Shape per = model.input_shape();
  if (x.shape() == per) x = x.unsqueeze(0);  // a single example
  TANGENT_CHECK(x.dim() >= 1 && x.size(0) > 0, "ntk: no examples in '", spec, "'");
  Shape got(x.shape().begin() + 1, x.shape().end());
  if (got != per && got.numel() == per.numel()) {
    Shape s = per;
    s.insert(0, x.size(0));
    x = x.reshape(s);
    got = per;
  }
  TANGENT_CHECK(got == per, "ntk: inputs of shape ", x.shape(), " from '", spec,
                "' do not match the model's input shape ", per, " (expected [N, ...])");
  return x.to(model.input_dtype()).contiguous();
}

// A kernel-computation progress line on stderr (tiles done / all, ETA), redrawn at most ~5 times a second.
class TileProgress {
 public:
  explicit TileProgress(std::string label) : label_(std::move(label)), start_(now()) {}
  void update(int64_t done, int64_t total) {
    const double t = now();
    const bool tty = isatty(STDERR_FILENO);
    if (!drawn_ && t - start_ < 1.0) return;  // quiet for short runs
    // Redraw ~5x a second on a terminal; in logs, print every ~10% only.
    const int64_t step = std::max<int64_t>(total / 10, 1);
    if (tty ? (t - last_ < 0.2 && done < total) : (done / step == last_step_ && done < total)) return;
    last_ = t;
    last_step_ = done / step;
    drawn_ = true;
    const double eta = done > 0 ? (t - start_) * static_cast<double>(total - done) / static_cast<double>(done) : 0;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * done / std::max<int64_t>(total, 1));
    std::string bar(static_cast<size_t>(filled), '=');
    if (filled < kWidth) bar += '>' + std::string(static_cast<size_t>(kWidth - filled - 1), ' ');
    std::fprintf(stderr, "%s%s [%s] %lld/%lld tiles  ETA %.0fs%s", tty ? "\r" : "", label_.c_str(), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), eta, tty ? "\033[K" : "\n");
    std::fflush(stderr);
  }
  void finish() {
    if (drawn_ && isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  double start_, last_ = 0;
  int64_t last_step_ = -1;
  bool drawn_ = false;
};

int64_t output_size(models::Model& model, const Tensor& x) {
  NoGradGuard guard;
  const Tensor y = model.forward(x.narrow(0, 0, 1));
  return y.numel();
}

// The analytic [N1, N2] kernel laid out as the requested mode (kernel (x) I_O).
Tensor analytic_as_mode(const Tensor& k, ntk::Mode mode, int64_t out, bool trace_mean) {
  const int64_t n1 = k.size(0), n2 = k.size(1);
  switch (mode) {
    case ntk::Mode::Trace:
      return trace_mean ? k : mul(k, static_cast<double>(out));
    case ntk::Mode::Diagonal:
      return mul(k.reshape({n1, n2, 1}), ones({1, 1, out}, kFloat64)).contiguous();
    case ntk::Mode::Full:
      return mul(k.reshape({n1, n2, 1, 1}), eye(out, kFloat64).reshape({1, 1, out, out})).contiguous();
  }
  return k;
}

// The [N, N] matrix to plot and to take eigenvalues of: the kernel itself (trace), the sum over outputs
// (diagonal), or the [N O, N O] matrix (full; plotted as the trace over outputs).
Tensor matrix_for_spectrum(const Tensor& kernel, ntk::Mode mode) {
  if (mode == ntk::Mode::Diagonal) return sum(kernel.to(kFloat64), {2});
  return ntk::kernel_matrix(kernel);
}
Tensor matrix_for_plot(const Tensor& kernel, ntk::Mode mode) {
  const Tensor k = kernel.to(kFloat64);
  if (mode == ntk::Mode::Trace) return k;
  if (mode == ntk::Mode::Diagonal) return sum(k, {2});
  const int64_t n1 = k.size(0), n2 = k.size(1), o = k.size(2);
  return sum(mul(k, eye(o, kFloat64).reshape({1, 1, o, o})), {2, 3}).reshape({n1, n2});
}

// Writes `t` as float64 (or float32 on request) .npy.
void save(const std::string& path, const Tensor& t, bool float32) {
  data::write_npy(path, t.to(float32 ? kFloat32 : kFloat64));
}

struct KernelRun {
  Tensor kernel;
  std::vector<std::pair<std::string, Tensor>> per_layer;
  std::string how;
};

}  // namespace

Run add_ntk(CLI::App& app) {
  auto a = std::make_shared<Args>();
  app.add_option("checkpoint", a->checkpoint, "DIR/model.tgt")->required()->check(input_file());
  app.add_option("--data", a->data, "inputs: x.npy (no labels), npy:X.npy,Y.npy or fashion-mnist[:N] (training split)")
      ->check(data_spec());
  app.add_option("--data2", a->data2, "second inputs (kernel [N1, N2] between --data and these; test split)")
      ->check(data_spec());
  app.add_option("--mode", a->mode, "trace [N1, N2], full [N1, N2, O, O] or diagonal [N1, N2, O]")
      ->check(CLI::IsMember({"trace", "full", "diagonal"}));
  app.add_option("--method", a->method, "auto, structured or jacobian")
      ->check(CLI::IsMember({"auto", "structured", "jacobian"}));
  app.add_flag("--per-layer", a->per_layer, "also write one term per parameter tensor: STEM.<param>.npy");
  app.add_flag("--analytic", a->analytic, "the infinite-width kernel of the MLP's architecture (ReLU or erf MLPs)");
  app.add_option("--eig", a->eig, "print and write (STEM.eigenvalues.npy) the K largest eigenvalues")
      ->check(integer(0, kMaxCount));
  app.add_flag("--init", a->init, "use freshly initialised weights (--seed) instead of the trained ones");
  app.add_option("--seed", a->seed, "random seed for --init")->check(integer(0, std::numeric_limits<int64_t>::max()));
  app.add_flag("--float32", a->float32, "write float32 instead of float64");
  app.add_flag("--trace-mean", a->trace_mean, "divide the trace by O (neural-tangents' convention)");
  app.add_option("--tile", a->tile, "examples per tile (0: from --max-memory-mb)")->check(integer(0, kMaxCount));
  app.add_option("--max-memory-mb", a->max_memory_mb, "working-memory budget per tile")
      ->check(integer(1, kMaxSize * 1024));
  app.add_option("--threads", a->threads, "CPU threads (default: all cores)")->check(integer(1, kMaxThreads));
  app.add_option("--regress", a->regress,
                 "kernel regression onto one-hot labels of --data, evaluated on this labelled test spec")
      ->check(data_spec());
  app.add_option("--t", a->t, "training time for --regress (in steps of learning rate 1; inf: converged)")
      ->check(CLI::Validator(
          [](std::string& s) {
            return s == "inf" || number(0, kMaxReal)(s).empty() ? std::string()
                                                                : "expected a number >= 0 or inf, got '" + s + "'";
          },
          "NUMBER >= 0 or inf"));
  app.add_option("--diag-reg", a->diag_reg, "diagonal regulariser for --regress, relative to trace / N")
      ->check(number(0, kMaxReal));
  app.add_option("--out", a->out,
                 "the kernel as STEM.npy (and STEM.<param>.npy, STEM.eigenvalues.npy, STEM.predictions.npy)")
      ->required()
      ->check(output_file());
  app.add_option("--plot", a->plot, "an SVG heatmap of the kernel and its spectrum")->check(output_file());
  return [a] {
    if (a->threads > 0) set_num_threads(static_cast<int>(a->threads));
    const double start = now();
    // Flags first, then files.
    const ntk::Mode mode = ntk::parse_mode(a->mode);
    const ntk::Method method = ntk::parse_method(a->method);
    TANGENT_CHECK(!(a->analytic && a->per_layer), "ntk: --per-layer needs the empirical kernel (not --analytic)");
    TANGENT_CHECK(!(a->eig > 0 && !a->data2.empty()),
                  "ntk: --eig needs a square kernel (drop --data2: eigenvalues of K(x1, x1))");
    TANGENT_CHECK(a->regress.empty() || a->data2.empty(), "ntk: --regress computes its own test kernel; drop --data2");
    TANGENT_CHECK(a->regress.empty() || mode != ntk::Mode::Diagonal,
                  "ntk: --regress needs --mode trace or full (the diagonal mode drops the output coupling)");
    TANGENT_CHECK(a->plot.empty() || a->plot != a->out, "ntk: --plot and --out name the same file");
    const double t =
        a->t == "inf" ? std::numeric_limits<double>::infinity() : std::strtod(a->t.c_str(), nullptr);  // validated
    const nn::Checkpoint c = nn::load_checkpoint(a->checkpoint);
    if (a->init) manual_seed(a->seed);
    auto model = models::create_model(c.model_kind, c.model_config);
    if (!a->init) model->load_state_dict(c.model_state);
    model->eval();
    std::optional<ntk::AnalyticOptions> analytic;
    if (a->analytic)
      analytic = for_flag("--analytic", [&] { return models::analytic_options_for(*model); });  // MLPs only

    const data::TensorDataset ds1 = for_flag("--data", [&] { return load_inputs(a->data, true); });
    const Tensor x1 = for_flag("--data", [&] { return model_inputs(*model, ds1.data(), a->data); });
    TANGENT_CHECK(a->regress.empty() || ds1.targets().defined(), "ntk: --regress needs labels for --data ('", a->data,
                  "' has none: use npy:X.npy,Y.npy or fashion-mnist:N)");
    Tensor x2;
    if (!a->data2.empty())
      x2 = for_flag("--data2", [&] { return model_inputs(*model, load_inputs(a->data2, false).data(), a->data2); });
    data::TensorDataset test;  // --regress
    Tensor xt;
    if (!a->regress.empty()) {
      test = for_flag("--regress", [&] { return load_inputs(a->regress, false); });
      TANGENT_CHECK(test.targets().defined(), "ntk: --regress needs a labelled test set, '", a->regress, "' has none");
      xt = for_flag("--regress", [&] { return model_inputs(*model, test.data(), a->regress); });
    }
    const int64_t out = output_size(*model, x1);
    const int64_t spectrum_n = x1.size(0) * (mode == ntk::Mode::Full ? out : 1);
    const std::string regress_problem = a->regress.empty() ? "" : dense_size_problem(spectrum_n, kRegressBuffers);
    TANGENT_CHECK(regress_problem.empty(),
                  "ntk: --regress: the train kernel matrix is too large for the dense solvers: ", regress_problem,
                  "; use --mode trace or fewer examples");
    const std::string spectrum_problem = dense_size_problem(spectrum_n, kEigBuffers);
    TANGENT_CHECK(a->eig == 0 || spectrum_problem.empty(),
                  "ntk: --eig: the kernel matrix is too large for the dense eigen-solver: ", spectrum_problem,
                  "; use --mode trace or fewer examples");
    std::printf("model: %s (%s), %lld parameters, %lld outputs%s\n", model->type_name().c_str(), c.model_kind.c_str(),
                static_cast<long long>(model->num_parameters()), static_cast<long long>(out),
                a->init ? ", re-initialised (--init)" : "");
    std::printf("data: %lld examples%s%s\n", static_cast<long long>(x1.size(0)),
                x2.defined() ? (" x " + std::to_string(x2.size(0))).c_str() : "",
                ds1.targets().defined() ? ", labelled" : "");

    ntk::NtkOptions opts;
    opts.mode = mode;
    opts.method = method;
    opts.trace_mean = a->trace_mean;
    opts.per_layer = a->per_layer;
    opts.tile = a->tile;
    opts.max_memory_mb = a->max_memory_mb;
    opts.dtype = kFloat64;
    // Under mpirun -np K: the tiles are shared out and every rank gets the whole kernel; rank 0 prints and writes.
    opts.group = command_group("ntk", false);
    const bool root = is_root(opts.group.get());
    auto compute = [&](const Tensor& xa, const Tensor& xb, bool per_layer, const char* label) {
      KernelRun r;
      const double t0 = now();
      if (analytic) {
        const Tensor k = ntk::analytic_ntk(xa, xb, *analytic);
        r.kernel = analytic_as_mode(k, mode, out, a->trace_mean);
        r.how = std::string("analytic (") + analytic->activation + ", " +
                (analytic->parametrization == nn::Parametrization::NTK ? "NTK" : "standard") + " parametrisation)";
      } else {
        TileProgress progress(label);
        ntk::NtkOptions o = opts;
        o.per_layer = per_layer;
        if (root) o.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
        ntk::NtkResult res = ntk::empirical_ntk(*model, xa, xb, o);
        progress.finish();
        r.kernel = res.kernel;
        r.per_layer = std::move(res.per_layer);
        r.how = std::string("empirical, ") + ntk::method_name(res.method);
        if (!res.fallback.empty()) {
          r.how += "; jacobian for";
          for (const auto& f : res.fallback) r.how += " " + f;
        }
        if (res.peak_bytes > 0) {
          std::ostringstream os;
          os.precision(3);
          os << "; tile working set " << static_cast<double>(res.peak_bytes) / (1 << 20) << " MiB";
          r.how += os.str();
        }
      }
      std::ostringstream shape;
      shape << r.kernel.shape();
      std::printf("%s kernel %s: %s in %.3f s\n", label, shape.str().c_str(), r.how.c_str(), now() - t0);
      return r;
    };

    const KernelRun run = compute(x1, x2, a->per_layer, "ntk");
    const std::string stem = stem_of(a->out);
    OutputFiles outputs;
    auto save_output = [&](const std::string& path, const Tensor& value) {
      if (!root) return;
      save(path, value, a->float32);
      outputs.wrote(path);
    };
    save_output(a->out, run.kernel);
    std::printf("wrote %s (%s, mode %s)\n", a->out.c_str(), a->float32 ? "float32" : "float64", a->mode.c_str());
    for (const auto& [name, term] : run.per_layer) save_output(stem + "." + name + ".npy", term);
    if (!run.per_layer.empty())
      std::printf("wrote %zu per-parameter terms as %s.<param>.npy\n", run.per_layer.size(), stem.c_str());

    // Spectrum of the square kernel.
    std::vector<double> spectrum;
    if (!x2.defined() && !a->plot.empty() && !spectrum_problem.empty())
      std::printf("note: the plot leaves out the spectrum: %s\n", spectrum_problem.c_str());
    if (!x2.defined() && spectrum_problem.empty() && (a->eig > 0 || !a->plot.empty())) {
      const Tensor m = matrix_for_spectrum(run.kernel, mode);
      const EighResult e = eigh(m, false);
      spectrum = to_vector<double>(e.eigenvalues);
      const ntk::PsdCheck psd = ntk::check_psd(e.eigenvalues, a->float32 ? 1e-6 : 1e-9);
      if (a->eig > 0) {
        const int64_t k = std::min<int64_t>(a->eig, static_cast<int64_t>(spectrum.size()));
        std::vector<double> top(spectrum.rbegin(), spectrum.rbegin() + k);
        std::printf("top %lld eigenvalues of the %lldx%lld kernel matrix:", static_cast<long long>(k),
                    static_cast<long long>(m.size(0)), static_cast<long long>(m.size(0)));
        for (double v : top) std::printf(" %.6g", v);
        const double cond = psd.lambda_min > 0 ? psd.lambda_max / psd.lambda_min : INFINITY;
        std::printf("\ncondition number %.4g; %s\n", cond, psd.message.c_str());
        save_output(stem + ".eigenvalues.npy", from_data(top.data(), {k}, kFloat64));
      } else if (!psd.psd) {
        std::printf("%s\n", psd.message.c_str());
      }
    }

    if (!a->plot.empty() && root) {
      Tensor m = matrix_for_plot(run.kernel, mode);
      std::string title = std::string(a->analytic ? "analytic" : "empirical") + " NTK (" + a->mode.c_str() + ")";
      if (ds1.targets().defined() && !x2.defined()) {  // group the examples by label
        const std::vector<int64_t> labels = to_vector<int64_t>(ds1.targets());
        std::vector<int64_t> order(labels.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return labels[i] < labels[j]; });
        const Tensor idx = tensor(order, {static_cast<int64_t>(order.size())});
        m = index_select(index_select(m, 0, idx), 1, idx);
        title += ", sorted by label";
      }
      write_ntk_svg(a->plot, title, to_vector<double>(m.contiguous()), m.size(0), m.size(1), spectrum);
      outputs.wrote(a->plot);
      std::printf("wrote %s\n", a->plot.c_str());
    }

    if (!a->regress.empty()) {
      const Tensor y1 = ds1.targets().to(kInt64), yt = test.targets().to(kInt64);
      const int64_t classes = std::max(max(y1).item<int64_t>(), max(yt).item<int64_t>()) + 1;
      TANGENT_CHECK(classes <= out, "ntk: --regress: labels go up to ", classes - 1, " but the model has ", out,
                    " outputs");
      const KernelRun cross = compute(xt, x1, false, "test-train");
      // The trace kernel sums the outputs: regress with the per-output mean, kernel (x) I_O.
      const double scale = mode == ntk::Mode::Trace && !a->trace_mean ? 1.0 / static_cast<double>(out) : 1.0;
      auto per_output = [&](const Tensor& k) { return mul(k.to(kFloat64), scale); };
      const Tensor targets = one_hot(y1, out).to(kFloat64);
      Tensor f0, ft0;
      if (!analytic) {  // the linearised network starts from the model's outputs
        f0 = nn::predict(*model, x1, a->batch_size).to(kFloat64);
        ft0 = nn::predict(*model, xt, a->batch_size).to(kFloat64);
      }
      ntk::RegressionOptions ro;
      ro.t = t;
      ro.diag_reg = a->diag_reg;
      const ntk::RegressionResult r =
          ntk::gradient_descent_mse(per_output(run.kernel), targets, per_output(cross.kernel), f0, ft0, ro);
      const double reg_acc = ntk::accuracy(r.test, yt);
      const double mse = mean(pow(sub(r.test, one_hot(yt, out).to(kFloat64)), 2.0)).item<double>();
      const Tensor net_out = nn::predict(*model, xt, a->batch_size);
      const double net_acc = ntk::accuracy(net_out.to(kFloat64), yt);
      std::printf(
          "kernel regression (t = %s%s): test accuracy %.2f%%, test MSE %.4f on %lld examples "
          "(%lld training examples, one-hot targets, f0 = %s)\n",
          a->t.c_str(), a->diag_reg > 0 ? (", diag-reg " + std::to_string(a->diag_reg)).c_str() : "", 100.0 * reg_acc,
          mse, static_cast<long long>(xt.size(0)), static_cast<long long>(x1.size(0)),
          analytic ? "0 (infinite-width mean)" : "the network's outputs");
      std::printf("the %s network on the same test set: accuracy %.2f%%\n", a->init ? "re-initialised" : "trained",
                  100.0 * net_acc);
      save_output(stem + ".predictions.npy", r.test);
    }
    outputs.keep();
    std::printf("total %.3f s, peak memory %.1f MiB\n", now() - start, peak_rss_mb());
    return 0;
  };
}

}  // namespace tangent::cli
