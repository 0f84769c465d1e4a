#pragma once
// The op table: every op is listed once (name, sample inputs, the op, an optional reference, its dtypes), and
// tests/test_op_table.cpp runs every row on every registered backend:
//   - on the CPU in float64: forward against the reference, gradcheck and gradgradcheck, each with the inputs as
//     given (contiguous, broadcasting) and again with every input made non-contiguous (identical values);
//   - on every backend (CPU, and CUDA when one is registered) in every dtype of `dtypes`: the float64 inputs
//     rounded to the dtype, contiguous and non-contiguous, against the CPU float64 result on the same rounded
//     values, within the dtype's tolerance (forward_tolerance) times `tol_scale`;
//   - on every backend other than the CPU: gradcheck and gradgradcheck in float64 (the op runs on the device,
//     the finite differences on the host), where the backend implements the op.
// Adding an op or a backend is one row. A row without a dtype list runs in float64 and float32.
//
//   TANGENT_OP_CASE(mul_broadcast, {
//       .name = "mul/broadcast",
//       .inputs = [] { return std::vector<Tensor>{randn({3, 4}, kFloat64), randn({4}, kFloat64)}; },
//       .fn = [](const std::vector<Tensor>& x) { return mul(x[0], x[1]); },
//       .dtypes = {kFloat64, kFloat32, kFloat16, kBFloat16},
//   });
//
// Row names are "<op>" or "<op>/<variant>": the coverage tests find an op's rows by that first component.
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
  // The dtypes the forward runs in on every backend (the float64 inputs are rounded to each; other inputs are
  // kept). float64 is the reference and always runs.
  std::vector<DType> dtypes = {kFloat64, kFloat32};
  double tol_scale = 1.0;   // multiplies forward_tolerance(dtype), for ops that accumulate rounding
  bool first_order = true;  // false: a forward-only row (comparisons, logic, indices, non-differentiable ops)
  // Optional further assertions (gtest EXPECT_*) on one forward: the inputs as that forward received them and its
  // output. Runs for every backend, dtype and layout the row runs in (e.g. dropout's mask statistics).
  std::function<void(const std::vector<Tensor>& inputs, const Tensor& out)> check = nullptr;
};

// Relative forward tolerance of a dtype against the float64 result on the same (rounded) inputs: an element
// passes when |out - expected| <= tol * max(1, |expected|).
double forward_tolerance(DType dtype);

std::vector<OpCase>& op_cases();

struct OpCaseRegistrar {
  explicit OpCaseRegistrar(OpCase c) { op_cases().push_back(std::move(c)); }
};

// Every floating dtype, for rows of ops that support them all.
inline std::vector<DType> all_float_dtypes() { return {kFloat64, kFloat32, kFloat16, kBFloat16}; }

}  // namespace tangent::testing

#define TANGENT_OP_CASE(id, ...) \
  static ::tangent::testing::OpCaseRegistrar op_case_registrar_##id(::tangent::testing::OpCase __VA_ARGS__)
