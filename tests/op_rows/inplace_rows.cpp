// Op-table rows for the in-place ops (ops/inplace.cpp): each applied to a differentiable copy of the input, so
// values, gradients and second-order gradients flow through the in-place op, against the out-of-place op. Each
// forward also checks the version counter (one bump per in-place op), and the check that a saved tensor modified
// in place makes backward raise, and that a leaf requiring grad cannot be modified in place.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "support/op_table.h"

using namespace tangent;
using tangent::testing::OpCase;

namespace {

using Inputs = std::vector<Tensor>;
using Apply = std::function<void(Tensor&, const Inputs&)>;

// y = x[0] * 1 (a non-leaf with history), then the in-place op; throws unless the version went up by exactly one.
Tensor run_inplace(const std::string& name, const Apply& apply, const Inputs& x) {
  Tensor y = mul(x[0], 1.0);
  const uint64_t before = y.version();
  apply(y, x);
  TANGENT_CHECK(y.version() == before + 1, name, ": the version counter went from ", before, " to ", y.version(),
                ", expected one bump");
  return y;
}

// Version rules on one forward's inputs (any floating dtype).
void version_rules(const std::string& name, const Apply& apply, const Inputs& in) {
  if (!in[0].is_floating_point()) return;
  Inputs x = in;
  x[0] = in[0].detach().requires_grad_(true);
  EXPECT_THROW(apply(x[0], x), Error) << name << ": a leaf that requires grad was modified in place";
  Tensor a = mul(x[0], 1.0);
  const Tensor b = mul(a, a);  // saves a
  apply(a, x);
  try {
    b.sum().backward();
    ADD_FAILURE() << name << ": backward through a saved tensor modified in place did not raise";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("version"), std::string::npos) << e.what();
  }
}

void add_row(const std::string& name, std::function<Inputs()> inputs, Apply apply,
             std::function<Tensor(const Inputs&)> out_of_place, std::vector<DType> dtypes = {kFloat64, kFloat32}) {
  tangent::testing::op_cases().push_back(OpCase{
      .name = name,
      .inputs = std::move(inputs),
      .fn = [name, apply](const Inputs& x) { return run_inplace(name, apply, x); },
      .reference = std::move(out_of_place),
      .dtypes = std::move(dtypes),
      .check = [name, apply](const Inputs& in, const Tensor&) { version_rules(name, apply, in); },
  });
}

Tensor normal(const Shape& s) { return randn(s, kFloat64); }
Tensor away_from_zero(const Shape& s) {
  return mul(add(mul(rand(s, kFloat64), 1.5), 0.5), sub(mul(bernoulli(s, 0.5, kFloat64), 2.0), 1.0));
}

const bool kInplaceRows = [] {
  const auto all = tangent::testing::all_float_dtypes();
  add_row(
      "add_/broadcast_alpha",
      [] {
        return Inputs{normal({3, 4}), normal({4})};
      },
      [](Tensor& y, const Inputs& x) { add_(y, x[1], 0.5); }, [](const Inputs& x) { return add(x[0], x[1], 0.5); },
      all);
  add_row(
      "add_/method",
      [] {
        return Inputs{normal({3, 4}), normal({3, 4})};
      },
      [](Tensor& y, const Inputs& x) { y.add_(x[1]); }, [](const Inputs& x) { return add(x[0], x[1]); });
  add_row(
      "sub_",
      [] {
        return Inputs{normal({3, 4}), normal({3, 1})};
      },
      [](Tensor& y, const Inputs& x) { sub_(y, x[1], 2.0); }, [](const Inputs& x) { return sub(x[0], x[1], 2.0); },
      all);
  add_row(
      "mul_",
      [] {
        return Inputs{normal({3, 4}), normal({4})};
      },
      [](Tensor& y, const Inputs& x) { mul_(y, x[1]); }, [](const Inputs& x) { return mul(x[0], x[1]); }, all);
  add_row(
      "mul_/scalar",
      [] {
        return Inputs{normal({3, 4})};
      },
      [](Tensor& y, const Inputs&) { y.mul_(-1.5); }, [](const Inputs& x) { return mul(x[0], -1.5); });
  add_row(
      "div_",
      [] {
        return Inputs{normal({3, 4}), away_from_zero({3, 4})};
      },
      [](Tensor& y, const Inputs& x) { div_(y, x[1]); }, [](const Inputs& x) { return div(x[0], x[1]); });
  add_row(
      "div_/scalar",
      [] {
        return Inputs{normal({3, 4})};
      },
      [](Tensor& y, const Inputs&) { y.div_(4.0); }, [](const Inputs& x) { return div(x[0], 4.0); });
  add_row(
      "pow_",
      [] {
        return Inputs{add(rand({3, 4}, kFloat64), 0.5)};
      },
      [](Tensor& y, const Inputs&) { pow_(y, 2.5); }, [](const Inputs& x) { return pow(x[0], 2.5); });
  add_row(
      "exp_",
      [] {
        return Inputs{normal({3, 4})};
      },
      [](Tensor& y, const Inputs&) { exp_(y); }, [](const Inputs& x) { return exp(x[0]); }, all);
  add_row(
      "relu_",
      [] {
        return Inputs{away_from_zero({3, 4})};
      },
      [](Tensor& y, const Inputs&) { relu_(y); }, [](const Inputs& x) { return relu(x[0]); }, all);
  add_row(
      "sigmoid_",
      [] {
        return Inputs{normal({3, 4})};
      },
      [](Tensor& y, const Inputs&) { sigmoid_(y); }, [](const Inputs& x) { return sigmoid(x[0]); });
  add_row(
      "tanh_",
      [] {
        return Inputs{normal({3, 4})};
      },
      [](Tensor& y, const Inputs&) { tanh_(y); }, [](const Inputs& x) { return tanh(x[0]); });
  add_row(
      "neg_",
      [] {
        return Inputs{normal({3, 4})};
      },
      [](Tensor& y, const Inputs&) { neg_(y); }, [](const Inputs& x) { return neg(x[0]); }, all);
  // Values at least 0.1 from the bounds.
  add_row(
      "clamp_",
      [] {
        return Inputs{tensor(std::vector<double>{-1.7, -0.9, -0.3, 0.1, 0.6, 1.2, 2.0, -0.65}, {2, 4}, kFloat64)};
      },
      [](Tensor& y, const Inputs&) { clamp_(y, -0.5, 0.8); }, [](const Inputs& x) { return clamp(x[0], -0.5, 0.8); });
  add_row(
      "masked_fill_",
      [] {
        return Inputs{normal({3, 4}), tensor(std::vector<bool>{false, true, true, false}, {4})};
      },
      [](Tensor& y, const Inputs& x) { masked_fill_(y, x[1], 0.25); },
      [](const Inputs& x) { return masked_fill(x[0], x[1], 0.25); }, all);
  return true;
}();

}  // namespace
