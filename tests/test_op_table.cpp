// The table-driven op test: every row of op_cases() (registered by tests/op_rows/*.cpp) runs as its own test,
// named after the row: forward against the reference, float64 gradcheck and gradgradcheck, then all of it again
// with every input made non-contiguous (whose forward must give identical values).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

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

// Seeds the generator, builds the row's inputs and marks the floating ones as requiring grad.
std::vector<Tensor> make_inputs(const OpCase& c) {
  manual_seed(kSeed);
  std::vector<Tensor> xs = c.inputs();
  for (size_t i = 0; i < xs.size(); ++i)
    if (xs[i].defined() && xs[i].is_floating_point() && !is_no_grad(c, i)) xs[i].requires_grad_(true);
  return xs;
}

class OpTable : public ::testing::TestWithParam<size_t> {};

// Forward (and reference), first- and second-order checks for one set of inputs; returns the forward output.
Tensor check_row(const OpCase& c, const std::vector<Tensor>& xs, const std::string& label) {
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
  const std::string name = c.name + " [" + label + "]";
  EXPECT_TRUE(gradcheck(c.fn, xs, 1e-6, c.atol, c.rtol, name));
  if (c.second_order) {
    EXPECT_TRUE(gradgradcheck(c.fn, xs, 1e-6, std::max(c.atol, 1e-4), c.rtol, name));
  }
  return out;
}

TEST_P(OpTable, Row) {
  const OpCase& c = op_cases()[GetParam()];
  ASSERT_TRUE(c.inputs && c.fn) << c.name << ": a row needs inputs and fn";
  std::vector<Tensor> xs;
  try {
    xs = make_inputs(c);
  } catch (const std::exception& e) {
    FAIL() << c.name << ": building the inputs threw: " << e.what();
  }
  const Tensor out = check_row(c, xs, "contiguous");

  std::vector<Tensor> nc;
  bool any_noncontiguous = false;
  for (const auto& x : xs) {
    nc.push_back(x.defined() ? make_noncontiguous(x) : x);
    any_noncontiguous = any_noncontiguous || (x.defined() && !nc.back().is_contiguous());
  }
  if (!any_noncontiguous) return;  // e.g. only 0-dim inputs
  const Tensor out_nc = check_row(c, nc, "non-contiguous");
  if (out.defined() && out_nc.defined()) {
    ASSERT_EQ(out_nc.shape(), out.shape()) << c.name;
    EXPECT_EQ(max_abs_diff(out_nc, out), 0.0) << c.name << ": non-contiguous inputs changed the forward values";
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTable, ::testing::ValuesIn(case_indices()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return case_test_names()[info.param]; });

// Each op below must have at least one row named "<op>" or "<op>/...".
TEST(OpTableCoverage, ElementwiseOpsHaveRows) {
  const std::vector<std::string> expected = {
      "add",  "sub",     "mul",  "div",   "pow",     "maximum", "minimum", "where", "masked_fill", "neg",
      "exp",  "log",     "log1p", "sqrt", "rsqrt",   "abs",     "sign",    "sin",   "cos",         "tanh",
      "sigmoid", "relu", "gelu", "silu",  "softplus", "erf",    "reciprocal", "square", "clamp",   "clamp_min",
      "clamp_max"};
  for (const auto& op : expected) {
    const bool found = std::any_of(op_cases().begin(), op_cases().end(), [&](const OpCase& c) {
      return c.name == op || c.name.rfind(op + "/", 0) == 0;
    });
    EXPECT_TRUE(found) << "the op table has no row for " << op;
  }
}

TEST(OpTableCoverage, RowNamesAreUnique) {
  std::set<std::string> seen;
  for (const auto& c : op_cases()) EXPECT_TRUE(seen.insert(c.name).second) << "duplicate row name " << c.name;
  EXPECT_EQ(case_test_names().size(), op_cases().size());
}

}  // namespace
}  // namespace tangent::testing
