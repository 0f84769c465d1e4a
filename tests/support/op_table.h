#pragma once
// The op table: every differentiable op is listed once (name, sample inputs, the op, an optional reference), and
// tests/test_op_table.cpp runs every row: forward against the reference, float64 gradcheck and gradgradcheck,
// each with the inputs as given (contiguous, broadcasting) and again with every input made non-contiguous (and,
// once another backend exists, compared across backends). Adding an op or a backend is one row.
//
//   TANGENT_OP_CASE(mul_broadcast, {
//       .name = "mul/broadcast",
//       .inputs = [] { return std::vector<Tensor>{randn({3, 4}, kFloat64), randn({4}, kFloat64)}; },
//       .fn = [](const std::vector<Tensor>& x) { return mul(x[0], x[1]); },
//   });
#include <functional>
#include <string>
#include <vector>

#include <tangent/tangent.h>

namespace tangent::testing {

struct OpCase {
  std::string name;
  // Float64 sample inputs (the harness seeds the generator before calling). Floating inputs get requires_grad.
  std::function<std::vector<Tensor>()> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  // Optional independent computation of the same values (e.g. a loop over to_vector, or another composition).
  std::function<Tensor(const std::vector<Tensor>&)> reference = nullptr;
  bool second_order = true;  // also run gradgradcheck
  double atol = 1e-5;        // gradcheck tolerances
  double rtol = 1e-3;
  // Indices of inputs that must not be perturbed or made to require grad (e.g. int64 indices are skipped anyway).
  std::vector<size_t> no_grad_inputs = {};
};

std::vector<OpCase>& op_cases();

struct OpCaseRegistrar {
  explicit OpCaseRegistrar(OpCase c) { op_cases().push_back(std::move(c)); }
};

}  // namespace tangent::testing

#define TANGENT_OP_CASE(id, ...) \
  static ::tangent::testing::OpCaseRegistrar op_case_registrar_##id(::tangent::testing::OpCase __VA_ARGS__)
