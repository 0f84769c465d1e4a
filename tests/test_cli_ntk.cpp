// End-to-end tests of `tangent ntk` (tools/tangent/ntk.cpp): checkpoints made here (or trained by the CLI on a
// few hundred Fashion-MNIST examples), kernels in every mode checked for shape, symmetry and consistency, the
// analytic kernel against the library, eigenvalues, the SVG, kernel regression and clean errors. Skipped when the
// binary ($TANGENT_BINARY_DIR/bin/tangent) is missing; the Fashion-MNIST case also when the data set is.
#include <gtest/gtest.h>

#include "support/optional.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <tangent/tangent.h>

#include "models/analytic_ntk.h"
#include "models/convnet.h"
#include "models/mlp.h"
#include "nn/ntk/analytic.h"
#include "ops/decomposition.h"
#include "support/cli_runner.h"

using namespace tangent;
namespace fs = std::filesystem;
using testing_support::CliResult;

namespace {

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : to_vector<double>(t)) m = std::max(m, std::fabs(v));
  return m;
}

class CliNtk : public testing_support::CliTest {
 protected:
  CliResult run_ok(std::vector<std::string> args) const {
    args.insert(args.begin(), "ntk");
    args.insert(args.end(), {"--threads", "1"});
    const CliResult r = run(args);
    EXPECT_TRUE(r.exited && r.code == 0) << r.output;
    return r;
  }
  void expect_failure(std::vector<std::string> args, const std::string& part) const {
    args.insert(args.begin(), "ntk");
    expect_clean_failure(args, part);
  }
  // Saves `model` as a checkpoint and returns its path.
  std::string save_model(models::Model& model, const std::string& name) const {
    nn::Checkpoint c;
    c.model_kind = model.kind();
    c.model_config = model.config();
    c.model_state = model.state_dict();
    const std::string p = path(name);
    nn::save_checkpoint(p, c);
    return p;
  }
};

models::MLPOptions small_mlp(bool ntk) {
  models::MLPOptions o;
  o.input_shape = {2, 3};
  o.hidden = {16, 16};
  o.out_features = 4;
  o.ntk = ntk;
  o.sigma_w = 1.5;
  o.sigma_b = 0.1;
  return o;
}

}  // namespace

// --analytic on an NTK-parametrised MLP: every mode is the library's analytic kernel laid out as kernel (x) I_O.
TEST_F(CliNtk, AnalyticKernelEigenvaluesAndPlot) {
  manual_seed(61);
  models::MLP mlp(small_mlp(true));
  const std::string ckpt = save_model(mlp, "ntk.tgt");
  const Tensor x = randn({7, 2, 3});
  data::write_npy(path("x.npy"), x);
  data::write_npy(path("flat.npy"), randn({3, 6}));  // flat rows are accepted
  const Tensor k = ntk::analytic_ntk(x, Tensor(), models::analytic_options_for(mlp));

  CliResult r = run_ok(
      {ckpt, "--data", path("x.npy"), "--analytic", "--out", path("t.npy"), "--eig", "3", "--plot", path("t.svg")});
  EXPECT_NE(r.output.find("analytic (relu, NTK parametrisation)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("peak memory"), std::string::npos) << r.output;
  const Tensor trace = data::read_npy(path("t.npy"));
  ASSERT_EQ(trace.shape(), (Shape{7, 7}));
  EXPECT_EQ(trace.dtype(), kFloat64);
  EXPECT_LT(max_abs(sub(trace, mul(k, 4.0))), 1e-10 * max_abs(trace));  // the trace sums the 4 outputs
  const Tensor eig = data::read_npy(path("t.eigenvalues.npy"));
  ASSERT_EQ(eig.shape(), (Shape{3}));
  const std::vector<double> top = to_vector<double>(eig), all = to_vector<double>(eigvalsh(mul(k, 4.0)));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(top[i], all[6 - i], 1e-9 * all[6]);
  EXPECT_NE(r.output.find("condition number"), std::string::npos) << r.output;
  const std::string svg = testing_support::slurp_file(path("t.svg"));
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("Spectrum"), std::string::npos);

  run_ok({ckpt, "--data", path("x.npy"), "--analytic", "--trace-mean", "--out", path("m.npy")});
  EXPECT_LT(max_abs(sub(data::read_npy(path("m.npy")), k)), 1e-12 * max_abs(k));
  run_ok({ckpt, "--data", path("x.npy"), "--analytic", "--mode", "full", "--float32", "--out", path("f.npy")});
  const Tensor full = data::read_npy(path("f.npy"));
  ASSERT_EQ(full.shape(), (Shape{7, 7, 4, 4}));
  EXPECT_EQ(full.dtype(), kFloat32);
  const Tensor expected = mul(k.reshape({7, 7, 1, 1}), eye(4, kFloat64).reshape({1, 1, 4, 4}));
  EXPECT_LT(max_abs(sub(full.to(kFloat64), expected)), 1e-5 * max_abs(k));
  run_ok({ckpt, "--data", path("x.npy"), "--data2", path("flat.npy"), "--analytic", "--mode", "diagonal", "--out",
          path("d.npy")});
  EXPECT_EQ(data::read_npy(path("d.npy")).shape(), (Shape{7, 3, 4}));
}

// The empirical kernel in every mode: shapes, symmetry, trace/diagonal consistent with full, per-layer terms.
TEST_F(CliNtk, EmpiricalModesAgree) {
  manual_seed(62);
  models::MLP mlp(small_mlp(false));
  const std::string ckpt = save_model(mlp, "std.tgt");
  data::write_npy(path("x.npy"), randn({6, 2, 3}));
  data::write_npy(path("x2.npy"), randn({4, 2, 3}));
  run_ok({ckpt, "--data", path("x.npy"), "--mode", "full", "--out", path("full.npy")});
  run_ok({ckpt, "--data", path("x.npy"), "--out", path("trace.npy"), "--per-layer", "--plot", path("k.svg")});
  run_ok({ckpt, "--data", path("x.npy"), "--mode", "diagonal", "--method", "jacobian", "--out", path("diag.npy")});
  const Tensor full = data::read_npy(path("full.npy")), trace = data::read_npy(path("trace.npy")),
               diag = data::read_npy(path("diag.npy"));
  ASSERT_EQ(full.shape(), (Shape{6, 6, 4, 4}));
  ASSERT_EQ(trace.shape(), (Shape{6, 6}));
  ASSERT_EQ(diag.shape(), (Shape{6, 6, 4}));
  const double scale = max_abs(full);
  EXPECT_GT(scale, 0.0);
  // The model is float32, so the modes agree to float32 round-off (each is accumulated separately).
  EXPECT_LT(max_abs(sub(full, full.permute({1, 0, 3, 2}))), 1e-6 * scale);  // Theta[n,m,o,p] = Theta[m,n,p,o]
  const Tensor eye4 = eye(4, kFloat64).reshape({1, 1, 4, 4});
  EXPECT_LT(max_abs(sub(trace, sum(mul(full, eye4), {2, 3}))), 1e-6 * scale);
  EXPECT_LT(max_abs(sub(diag, sum(mul(full, eye4), {3}))), 1e-6 * scale);
  EXPECT_GT(max_abs(sub(trace, mul(sum(mul(full, eye4), {2, 3}), 1.01))), 1e-4 * scale);  // the check can fail
  // Per-parameter terms sum to the kernel.
  Tensor total = zeros({6, 6}, kFloat64);
  int terms = 0;
  for (const auto& name :
       {"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias"}) {
    const std::string p = path(std::string("trace.") + name + ".npy");
    ASSERT_TRUE(fs::exists(p)) << p;
    total = add(total, data::read_npy(p).to(kFloat64));
    ++terms;
  }
  EXPECT_EQ(terms, 6);
  EXPECT_LT(max_abs(sub(total, trace)), 1e-10 * scale);
  EXPECT_EQ(testing_support::slurp_file(path("k.svg")).rfind("<svg", 0), 0u);
  // Cross kernel.
  run_ok({ckpt, "--data", path("x.npy"), "--data2", path("x2.npy"), "--out", path("cross.npy")});
  EXPECT_EQ(data::read_npy(path("cross.npy")).shape(), (Shape{6, 4}));
  // --init: fresh weights give a different kernel.
  run_ok({ckpt, "--data", path("x.npy"), "--init", "--seed", "5", "--out", path("init.npy")});
  EXPECT_GT(max_abs(sub(data::read_npy(path("init.npy")), trace)), 1e-6 * scale);
}

TEST_F(CliNtk, Errors) {
  manual_seed(63);
  models::MLP mlp(small_mlp(true));
  const std::string ckpt = save_model(mlp, "ntk.tgt");
  models::ConvNetOptions co;
  co.input_shape = {1, 8, 8};
  co.channels = {2};
  co.hidden = 8;
  models::ConvNet cnn(co);
  const std::string cnn_ckpt = save_model(cnn, "cnn.tgt");
  data::write_npy(path("x.npy"), randn({5, 2, 3}));
  data::write_npy(path("bad.npy"), randn({5, 7}));
  data::write_npy(path("img.npy"), randn({3, 1, 8, 8}));
  expect_failure({path("missing.tgt"), "--data", path("x.npy"), "--out", path("k.npy")}, "missing.tgt");
  expect_failure({ckpt, "--data", path("nothere.npy"), "--out", path("k.npy")}, "nothere.npy");
  expect_failure({ckpt, "--data", path("bad.npy"), "--out", path("k.npy")}, "do not match the model's input shape");
  expect_failure({cnn_ckpt, "--data", path("img.npy"), "--analytic", "--out", path("k.npy")},
                 "fully connected networks (models::MLP) only");
  expect_failure({ckpt, "--data", path("x.npy"), "--data2", path("x.npy"), "--eig", "2", "--out", path("k.npy")},
                 "--eig needs a square kernel");
  expect_failure({ckpt, "--data", path("x.npy"), "--analytic", "--regress", path("x.npy"), "--out", path("k.npy")},
                 "--regress needs labels");
  expect_failure({ckpt, "--data", path("x.npy"), "--analytic", "--per-layer", "--out", path("k.npy")},
                 "--per-layer needs the empirical kernel");
  expect_failure(
      {ckpt, "--data", path("x.npy"), "--analytic", "--regress", path("x.npy"), "--t", "soon", "--out", path("k.npy")},
      "--t: expected a number >= 0 or inf, got 'soon'");
  // A full kernel of 8200 examples x 4 outputs is a 32800 x 32800 matrix: past LAPACK's 32-bit limit, refused
  // before the kernel is computed.
  data::write_npy(path("many.npy"), zeros({8200, 2, 3}));
  expect_failure({ckpt, "--data", path("many.npy"), "--mode", "full", "--eig", "3", "--out", path("k.npy")},
                 "--eig: the kernel matrix is too large for the dense eigen-solver: a 32800x32800 matrix is too large "
                 "for LAPACK's 32-bit indexing (n at most 32766); use --mode trace or fewer examples");
  EXPECT_FALSE(fs::exists(path("k.npy")));
}

// A ConvNet (Conv2d, BatchNorm in eval mode, Linear): the structured and jacobian methods agree, --analytic refuses.
// (Every layer of the CLI's model kinds has a structured rule, so the "no rule" error of --method structured is
// covered by tests/test_ntk.cpp, not here.)
TEST_F(CliNtk, ConvNetMethods) {
  manual_seed(64);
  models::ConvNetOptions co;
  co.input_shape = {1, 8, 8};
  co.channels = {2};
  co.hidden = 8;
  models::ConvNet cnn(co);
  const std::string ckpt = save_model(cnn, "cnn.tgt");
  data::write_npy(path("img.npy"), randn({3, 1, 8, 8}));
  CliResult r =
      run_ok({ckpt, "--data", path("img.npy"), "--method", "structured", "--out", path("s.npy"), "--eig", "3"});
  EXPECT_NE(r.output.find("empirical, structured"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("PSD"), std::string::npos) << r.output;
  const Tensor k = data::read_npy(path("s.npy"));
  ASSERT_EQ(k.shape(), (Shape{3, 3}));
  r = run_ok({ckpt, "--data", path("img.npy"), "--method", "jacobian", "--out", path("j.npy")});
  EXPECT_NE(r.output.find("empirical, jacobian"), std::string::npos) << r.output;
  EXPECT_LT(max_abs(sub(data::read_npy(path("j.npy")), k)), 1e-5 * max_abs(k));
  expect_failure({ckpt, "--data", path("img.npy"), "--analytic", "--out", path("a.npy")}, "models::MLP");
}

// A wide NTK-parametrised MLP: the empirical kernel is close to the analytic one.
TEST_F(CliNtk, EmpiricalNearAnalyticForWideNtkMlp) {
  manual_seed(65);
  models::MLPOptions o = small_mlp(true);
  o.hidden = {1024, 1024};
  o.out_features = 1;
  models::MLP mlp(o);
  const std::string ckpt = save_model(mlp, "wide.tgt");
  data::write_npy(path("x.npy"), randn({5, 2, 3}));
  run_ok({ckpt, "--data", path("x.npy"), "--out", path("e.npy")});
  run_ok({ckpt, "--data", path("x.npy"), "--analytic", "--out", path("a.npy")});
  const Tensor e = data::read_npy(path("e.npy")), a = data::read_npy(path("a.npy"));
  const double rel = std::sqrt(sum(pow(sub(e, a), 2.0)).item<double>() / sum(pow(a, 2.0)).item<double>());
  EXPECT_LT(rel, 0.2);
  EXPECT_GT(rel, 1e-4);  // a finite network is not the limit
}

// Train a tiny MLP through the CLI, then its kernel on Fashion-MNIST with regression on a test slice.
TEST_F(CliNtk, FashionMnistRegression) {
  TANGENT_REQUIRE_OR_SKIP(have_data(), "Fashion-MNIST (apt-get install dataset-fashion-mnist)");
  const std::string out = path("run");
  CliResult r = run({"train", "--model", "mlp", "--data", "fashion-mnist:200", "--test-limit", "100", "--epochs", "1",
                     "--batch-size", "50", "--hidden", "32", "--threads", "1", "--out", out});
  ASSERT_TRUE(r.exited && r.code == 0) << r.output;
  r = run_ok({out + "/model.tgt", "--data", "fashion-mnist:60", "--regress", "fashion-mnist:80", "--out", path("k.npy"),
              "--plot", path("k.svg"), "--eig", "4"});
  EXPECT_NE(r.output.find("kernel regression (t = inf)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the trained network on the same test set: accuracy"), std::string::npos) << r.output;
  EXPECT_EQ(data::read_npy(path("k.npy")).shape(), (Shape{60, 60}));
  EXPECT_EQ(data::read_npy(path("k.predictions.npy")).shape(), (Shape{80, 10}));
  const std::string svg = testing_support::slurp_file(path("k.svg"));
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("sorted by label"), std::string::npos);
  // Finite time with a regulariser, and the analytic kernel of the standard-parametrised MLP.
  r = run_ok({out + "/model.tgt", "--data", "fashion-mnist:60", "--analytic", "--regress", "fashion-mnist:80", "--t",
              "1000", "--diag-reg", "1e-4", "--out", path("a.npy")});
  EXPECT_NE(r.output.find("analytic (relu, standard parametrisation)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kernel regression (t = 1000"), std::string::npos) << r.output;
}
