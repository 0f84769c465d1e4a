// The table-driven op test: every row of op_cases() (registered by tests/op_rows/*.cpp) runs as its own test,
// named after the row, on every registered backend (tests/support/op_table.h says what runs where). Coverage is
// checked against the op lists themselves: every UnaryOp and BinaryOp of the Backend, and every function the
// public op headers declare, must have a row.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/backend.h"
#include "support/gradcheck.h"
#include "support/op_table.h"

namespace tangent::testing {
namespace {

constexpr uint64_t kSeed = 1234;
constexpr double kRefRtol = 1e-7, kRefAtol = 1e-9;

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out.empty() ? std::string("unnamed") : out;
}

// Test names for the rows, made unique (a numeric suffix on collisions). Computed on first use, which is after
// static initialisation: gtest calls the parameter generator from InitGoogleTest.
const std::vector<std::string>& case_test_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    std::set<std::string> used;
    for (const auto& c : op_cases()) {
      std::string n = sanitize(c.name);
      for (int k = 2; used.count(n); ++k) n = sanitize(c.name) + "_" + std::to_string(k);
      used.insert(n);
      out.push_back(n);
    }
    return out;
  }();
  return names;
}

std::vector<size_t> case_indices() {
  std::vector<size_t> idx(op_cases().size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  return idx;
}

bool is_no_grad(const OpCase& c, size_t i) {
  return std::find(c.no_grad_inputs.begin(), c.no_grad_inputs.end(), i) != c.no_grad_inputs.end();
}

// One device per registered backend; the CPU (the reference) first.
std::vector<Device> backend_devices() {
  std::vector<Device> out;
  for (int t = 0; t < kNumDeviceTypes; ++t)
    if (has_backend(static_cast<DeviceType>(t))) out.emplace_back(static_cast<DeviceType>(t), 0);
  return out;
}

std::string device_name(Device d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

// What a backend other than the CPU reports for a primitive it does not implement. The CPU must implement
// every row; another backend's gaps are listed at the end of the run (UnsupportedReport), not failed.
bool is_not_implemented(const std::string& message) { return message.find("not implemented") != std::string::npos; }

std::vector<std::string>& unsupported_log() {
  static std::vector<std::string> log;
  return log;
}

class UnsupportedReport : public ::testing::Environment {
 public:
  void TearDown() override {
    if (unsupported_log().empty()) return;
    std::cout << "[ op table ] " << unsupported_log().size()
              << " row checks not run: the backend does not implement the op:\n";
    for (const auto& s : unsupported_log()) std::cout << "  " << s << "\n";
  }
};
const auto* const kReport = ::testing::AddGlobalTestEnvironment(new UnsupportedReport);

// Seeds the generator, builds the row's inputs and marks the floating ones as requiring grad.
std::vector<Tensor> make_inputs(const OpCase& c) {
  manual_seed(kSeed);
  std::vector<Tensor> xs = c.inputs();
  for (size_t i = 0; i < xs.size(); ++i)
    if (c.first_order && xs[i].defined() && xs[i].is_floating_point() && !is_no_grad(c, i)) xs[i].requires_grad_(true);
  return xs;
}

// A non-contiguous copy made with differentiable ops (the values at stride 2 of a stacked pair), so gradients
// flow back to x: the device-side counterpart of make_noncontiguous.
Tensor strided_copy(const Tensor& x) {
  if (x.numel() <= 1) return x;
  return stack({x, x}, -1).select(-1, 0);
}

// The inputs rounded to `dtype` (float64 ones only), detached, on `device`, optionally non-contiguous.
std::vector<Tensor> inputs_as(const std::vector<Tensor>& xs, DType dtype, Device device, bool noncontiguous) {
  NoGradGuard guard;
  std::vector<Tensor> out;
  for (const auto& x : xs) {
    if (!x.defined()) {
      out.push_back(x);
      continue;
    }
    Tensor y = x.detach();
    if (y.dtype() == kFloat64 && dtype != kFloat64) y = y.to(dtype);
    y = y.to(device);
    out.push_back(noncontiguous ? make_noncontiguous(y) : y);
  }
  return out;
}

// The float64 CPU computation on the values of inputs_as(xs, dtype, CPU): what a forward in `dtype` is held to.
Tensor expected_for(const OpCase& c, const std::vector<Tensor>& xs, DType dtype) {
  const std::vector<Tensor> rounded = inputs_as(xs, dtype, Device(kCPU), false);
  std::vector<Tensor> back;
  NoGradGuard guard;
  for (size_t i = 0; i < xs.size(); ++i)
    back.push_back(xs[i].defined() && xs[i].dtype() == kFloat64 ? rounded[i].to(kFloat64) : rounded[i]);
  return c.fn(back);
}

// fn with its inputs moved to `device` (and made non-contiguous there) and its output brought back to the host:
// gradcheck perturbs host float64 leaves while the op and its backward run on the device.
Fn on_device(const Fn& fn, Device device, bool noncontiguous) {
  return [fn, device, noncontiguous](const std::vector<Tensor>& xs) {
    std::vector<Tensor> moved;
    for (const auto& x : xs) {
      if (!x.defined()) {
        moved.push_back(x);
        continue;
      }
      const Tensor y = x.to(device);
      moved.push_back(noncontiguous ? strided_copy(y) : y);
    }
    const Tensor out = fn(moved);
    return out.defined() ? out.to(Device(kCPU)) : out;
  };
}

// |out - expected| <= tol * max(1, |expected|) elementwise (NaN matches NaN, equal infinities match).
::testing::AssertionResult forward_close(const Tensor& out, const Tensor& expected, double tol) {
  if (out.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << out.shape() << ", expected " << expected.shape();
  const std::vector<double> o = to_vector<double>(out.to(Device(kCPU))), e = to_vector<double>(expected);
  for (size_t i = 0; i < o.size(); ++i) {
    if ((std::isnan(o[i]) && std::isnan(e[i])) || o[i] == e[i]) continue;
    if (!(std::abs(o[i] - e[i]) <= tol * std::max(1.0, std::abs(e[i]))))
      return ::testing::AssertionFailure() << "element " << i << " is " << o[i] << ", expected " << e[i]
                                           << " (tolerance " << tol << " relative to max(1, |expected|))";
  }
  return ::testing::AssertionSuccess();
}

// Records a check another backend cannot run; returns true when `message` says so (on the CPU, never).
bool unsupported(Device device, const std::string& what, const std::string& message) {
  if (device.is_cpu() || !is_not_implemented(message)) return false;
  unsupported_log().push_back(what + ": " + message);
  return true;
}

// Forward (and reference), first- and second-order checks on the CPU in float64; returns the forward output.
Tensor check_cpu_float64(const OpCase& c, const std::vector<Tensor>& xs, const std::string& label) {
  Tensor out;
  try {
    out = c.fn(xs);
  } catch (const std::exception& e) {
    ADD_FAILURE() << c.name << " [" << label << "]: forward threw: " << e.what();
    return Tensor();
  }
  if (!out.defined()) {
    ADD_FAILURE() << c.name << " [" << label << "]: forward returned an undefined tensor";
    return out;
  }
  if (c.reference) {
    Tensor ref;
    try {
      NoGradGuard guard;
      ref = c.reference(xs);
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.name << " [" << label << "]: reference threw: " << e.what();
    }
    if (ref.defined()) {
      EXPECT_EQ(out.dtype(), ref.dtype()) << c.name << " [" << label << "]: dtype differs from the reference";
      EXPECT_TRUE(all_close(out, ref, kRefRtol, kRefAtol)) << c.name << " [" << label << "]: forward vs reference";
    }
  }
  if (c.check) c.check(xs, out);
  const std::string name = c.name + " [" + label + "]";
  if (c.first_order) {
    EXPECT_TRUE(gradcheck(c.fn, xs, 1e-6, c.atol, c.rtol, name));
  }
  if (c.first_order && c.second_order) {
    EXPECT_TRUE(gradgradcheck(c.fn, xs, 1e-6, std::max(c.atol, 1e-4), c.rtol, name));
  }
  return out;
}

// The forward in `dtype` on `device` (contiguous and non-contiguous inputs) against `expected`.
void check_forward_in(const OpCase& c, const std::vector<Tensor>& xs, Device device, DType dtype,
                      const Tensor& expected) {
  for (bool noncontiguous : {false, true}) {
    const std::string label = c.name + " [" + device_name(device) + " " + dtype_name(dtype) + " " +
                              (noncontiguous ? "non-contiguous" : "contiguous") + "]";
    std::vector<Tensor> in;
    Tensor out;
    try {
      in = inputs_as(xs, dtype, device, noncontiguous);
      out = c.fn(in);
    } catch (const std::exception& e) {
      if (!unsupported(device, label, e.what())) ADD_FAILURE() << label << ": forward threw: " << e.what();
      continue;
    }
    if (!out.defined()) {
      ADD_FAILURE() << label << ": forward returned an undefined tensor";
      continue;
    }
    EXPECT_EQ(out.device(), device) << label;
    const DType want = expected.dtype() == kFloat64 ? dtype : expected.dtype();
    EXPECT_EQ(out.dtype(), want) << label << ": output dtype";
    EXPECT_TRUE(forward_close(out, expected, forward_tolerance(dtype) * c.tol_scale)) << label;
    if (c.check) c.check(in, out);
  }
}

// gradcheck and gradgradcheck of the op running on `device` (float64), contiguous and non-contiguous.
void check_gradients_on(const OpCase& c, const std::vector<Tensor>& xs, Device device) {
  if (!c.first_order) return;
  for (bool noncontiguous : {false, true}) {
    const std::string label =
        c.name + " [" + device_name(device) + " float64 " + (noncontiguous ? "non-contiguous" : "contiguous") + "]";
    const Fn fn = on_device(c.fn, device, noncontiguous);
    ::testing::AssertionResult first = gradcheck(fn, xs, 1e-6, c.atol, c.rtol, label);
    if (!first && unsupported(device, label, first.message())) continue;
    EXPECT_TRUE(first);
    if (!c.second_order) continue;
    ::testing::AssertionResult second = gradgradcheck(fn, xs, 1e-6, std::max(c.atol, 1e-4), c.rtol, label);
    if (!second && unsupported(device, label + " (second order)", second.message())) continue;
    EXPECT_TRUE(second);
  }
}

// Everything a row checks beyond the CPU float64 pass, on the given backends.
void check_backends(const OpCase& c, const std::vector<Tensor>& xs, const std::vector<Device>& devices) {
  for (DType dtype : c.dtypes) {
    Tensor expected;
    try {
      expected = expected_for(c, xs, dtype);
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.name << ": the float64 forward on " << dtype_name(dtype)
                    << "-rounded inputs threw: " << e.what();
      continue;
    }
    for (Device device : devices) {
      if (device.is_cpu() && dtype == kFloat64) continue;  // the reference itself (checked by check_cpu_float64)
      check_forward_in(c, xs, device, dtype, expected);
    }
  }
  for (Device device : devices)
    if (!device.is_cpu()) check_gradients_on(c, xs, device);
}

class OpTable : public ::testing::TestWithParam<size_t> {};

TEST_P(OpTable, Row) {
  const OpCase& c = op_cases()[GetParam()];
  ASSERT_TRUE(c.inputs && c.fn) << c.name << ": a row needs inputs and fn";
  std::vector<Tensor> xs;
  try {
    xs = make_inputs(c);
  } catch (const std::exception& e) {
    FAIL() << c.name << ": building the inputs threw: " << e.what();
  }
  const Tensor out = check_cpu_float64(c, xs, "contiguous");

  std::vector<Tensor> nc;
  bool any_noncontiguous = false;
  for (const auto& x : xs) {
    nc.push_back(x.defined() ? make_noncontiguous(x) : x);
    any_noncontiguous = any_noncontiguous || (x.defined() && !nc.back().is_contiguous());
  }
  if (any_noncontiguous) {  // not e.g. when every input is 0-dim
    const Tensor out_nc = check_cpu_float64(c, nc, "non-contiguous");
    if (out.defined() && out_nc.defined()) {
      ASSERT_EQ(out_nc.shape(), out.shape()) << c.name;
      EXPECT_EQ(max_abs_diff(out_nc, out), 0.0) << c.name << ": non-contiguous inputs changed the forward values";
    }
  }
  check_backends(c, xs, backend_devices());
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTable, ::testing::ValuesIn(case_indices()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return case_test_names()[info.param]; });

// The harness's device path (what runs for a CUDA backend: inputs moved to the device inside the op, gradients
// through the copies, device-side non-contiguous inputs) exercised with the CPU standing in for the device, so
// that it is tested on machines without a GPU too.
TEST(OpTableHarness, DevicePathRunsWithTheCpuAsTheDevice) {
  size_t ran = 0;
  for (const char* name : {"mul/broadcast_outer", "softmax/last", "scaled_dot_product_attention/softmax_causal_gqa",
                           "index_select", "eq/same_shape"}) {
    const auto it = std::find_if(op_cases().begin(), op_cases().end(), [&](const OpCase& c) { return c.name == name; });
    ASSERT_NE(it, op_cases().end()) << "no row " << name;
    const std::vector<Tensor> xs = make_inputs(*it);
    check_gradients_on(*it, xs, Device(kCPU));
    ++ran;
  }
  EXPECT_EQ(ran, 5u);
  // A strided device copy is non-contiguous, has the same values and passes gradients through.
  const Tensor x = randn({3, 4}, kFloat64).requires_grad_(true);
  const Tensor y = strided_copy(x);
  EXPECT_FALSE(y.is_contiguous());
  EXPECT_EQ(max_abs_diff(y, x), 0.0);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return strided_copy(v[0]); }, {x}));
}

TEST(OpTableHarness, ForwardToleranceRejectsDifferencesBeyondIt) {
  const Tensor e = tensor(std::vector<double>{1.0, -200.0, 0.5}, {3}, kFloat64);
  EXPECT_TRUE(forward_close(e, e, 0.0));
  EXPECT_TRUE(forward_close(add(e, 1e-3).to(kFloat16), e, 3e-3 * 200));
  EXPECT_FALSE(forward_close(add(e, 1e-2), e, forward_tolerance(kFloat16)));
  EXPECT_FALSE(forward_close(e.reshape({3, 1}), e, 1.0));
}

// ---- coverage: against the op lists, not a hand list ----

bool has_row(const std::string& op) {
  return std::any_of(op_cases().begin(), op_cases().end(),
                     [&](const OpCase& c) { return c.name == op || c.name.rfind(op + "/", 0) == 0; });
}

TEST(OpTableCoverage, EveryUnaryOpHasARow) {
  for (int i = 0; i < kNumUnaryOps; ++i) {
    const std::string op = unary_op_name(static_cast<UnaryOp>(i));
    EXPECT_TRUE(has_row(op)) << "the op table has no row for UnaryOp " << op << " (add a row named \"" << op
                             << "\" or \"" << op << "/<variant>\" in tests/op_rows/)";
  }
}

TEST(OpTableCoverage, EveryBinaryOpHasARow) {
  for (int i = 0; i < kNumBinaryOps; ++i) {
    const std::string op = binary_op_name(static_cast<BinaryOp>(i));
    EXPECT_TRUE(has_row(op)) << "the op table has no row for BinaryOp " << op << " (add a row named \"" << op
                             << "\" or \"" << op << "/<variant>\" in tests/op_rows/)";
  }
}

// The functions the public op headers declare: every ops/*.h but the factories and the internal helpers, and the
// functional ops of nn/ (nn/functional.h, nn/rotary.h). One declaration per line, at the start of the line.
std::map<std::string, std::string> declared_ops(const std::filesystem::path& source_dir) {
  const std::set<std::string> skipped = {
      "ops/factory.h",        // creation functions: no input to check
      "ops/decomposition.h",  // host-only float64 decompositions, not differentiable (tests/test_linalg.cpp)
  };
  std::vector<std::string> headers = {"nn/functional.h", "nn/rotary.h"};
  for (const auto& entry : std::filesystem::directory_iterator(source_dir / "ops")) {
    const std::string h = "ops/" + entry.path().filename().string();
    if (entry.path().extension() == ".h" && h.find("internal") == std::string::npos && !skipped.count(h))
      headers.push_back(h);
  }
  const std::regex decl_re(R"re(^(?:Tensor&?|std::vector<Tensor>|std::pair<Tensor, Tensor>) ([a-z_0-9]+)\()re");
  std::map<std::string, std::string> ops;  // op -> header
  for (const auto& h : headers) {
    std::ifstream in(source_dir / h);
    if (!in) ADD_FAILURE() << "cannot read " << (source_dir / h);
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (std::regex_search(line, m, decl_re)) ops.emplace(m[1], h);
    }
  }
  return ops;
}

TEST(OpTableCoverage, EveryFunctionalOpHasARow) {
  const char* dir = std::getenv("TANGENT_SOURCE_DIR");
  ASSERT_TRUE(dir != nullptr) << "TANGENT_SOURCE_DIR is not set (ctest sets it; set it to the source tree by hand)";
  const std::map<std::string, std::string> ops = declared_ops(dir);
  ASSERT_GT(ops.size(), 50u) << "found only " << ops.size() << " op declarations under " << dir << "/ops";
  for (const auto& [op, header] : ops)
    EXPECT_TRUE(has_row(op)) << "the op table has no row for " << op << " (declared in " << header
                             << "); add a row named \"" << op << "\" or \"" << op << "/<variant>\" in tests/op_rows/";
}

TEST(OpTableCoverage, RowNamesAreUniqueAndRowsAreWellFormed) {
  std::set<std::string> seen;
  for (const auto& c : op_cases()) {
    EXPECT_TRUE(seen.insert(c.name).second) << "duplicate row name " << c.name;
    EXPECT_TRUE(std::find(c.dtypes.begin(), c.dtypes.end(), kFloat64) != c.dtypes.end())
        << c.name << ": the dtype list must include float64 (the reference)";
    for (DType d : c.dtypes)
      EXPECT_TRUE(is_floating_point(d)) << c.name << ": dtype " << dtype_name(d) << " is not floating";
  }
  EXPECT_EQ(case_test_names().size(), op_cases().size());
}

}  // namespace
}  // namespace tangent::testing
