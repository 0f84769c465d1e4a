// The CUDA backend: availability queries (checked on every machine) and, when a GPU is present, copies and
// float32 elementwise kernels against the CPU results.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <tangent/tangent.h>

using namespace tangent;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (!cuda::is_available()) GTEST_SKIP() << "no CUDA device (or Tangent built without CUDA)"

const Device kGpu(DeviceType::CUDA, 0);

// Max |a - b| over two CPU float tensors of one shape.
double max_diff(const Tensor& a, const Tensor& b) {
  const auto x = to_vector<double>(a), y = to_vector<double>(b);
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

}  // namespace

TEST(Cuda, AvailabilityIsConsistent) {
  EXPECT_EQ(cuda::is_available(), cuda::device_count() > 0);
  EXPECT_GE(cuda::device_count(), 0);
  // The backend is registered exactly when a device can be used.
  EXPECT_EQ(has_backend(DeviceType::CUDA), cuda::is_available());
  cuda::synchronize();  // harmless either way
  cuda::empty_cache();
}

TEST(Cuda, WithoutGpuCudaTensorsRaise) {
  if (cuda::is_available()) GTEST_SKIP() << "a CUDA device is present";
  try {
    (void)zeros({2, 3}, kGpu);
    FAIL() << "creating a cuda tensor without a GPU should raise";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
}

TEST(Cuda, CopyRoundTrip) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kFloat32, kFloat64, kInt64}) {
    Tensor h = arange(0, 24, 1, dt).reshape({2, 3, 4});
    Tensor d = h.to(kGpu);
    EXPECT_TRUE(d.device().is_cuda());
    EXPECT_EQ(d.dtype(), dt);
    Tensor back = d.to(Device(kCPU));
    EXPECT_EQ(to_vector<double>(back), to_vector<double>(h)) << dtype_name(dt);
  }
}

TEST(Cuda, StridedAndConvertingCopies) {
  SKIP_WITHOUT_GPU();
  Tensor h = arange(0, 12, 1, kFloat32).reshape({3, 4});
  // A transposed host tensor to the device, and a transposed device view back to the host.
  EXPECT_EQ(to_vector<float>(h.t().to(kGpu)), to_vector<float>(h.t().contiguous()));
  Tensor d = h.to(kGpu);
  EXPECT_EQ(to_vector<float>(d.t()), to_vector<float>(h.t().contiguous()));
  EXPECT_EQ(to_vector<float>(d.t().contiguous()), to_vector<float>(h.t().contiguous()));
  // dtype conversion on the device (staged through the host).
  Tensor d64 = d.to(kFloat64);
  EXPECT_EQ(d64.dtype(), kFloat64);
  EXPECT_TRUE(d64.device().is_cuda());
  EXPECT_EQ(to_vector<double>(d64), to_vector<double>(h));
  // copy_ into a strided device view.
  Tensor z = zeros({4, 3}, kGpu);
  z.t().copy_(d);
  EXPECT_EQ(to_vector<float>(z), to_vector<float>(h.t().contiguous()));
}

TEST(Cuda, FillAndFactories) {
  SKIP_WITHOUT_GPU();
  EXPECT_EQ(to_vector<float>(full({5}, 2.5, kGpu)), std::vector<float>(5, 2.5f));
  EXPECT_EQ(to_vector<int64_t>(full({3}, 7, TensorOptions(kInt64).device(kGpu))), std::vector<int64_t>(3, 7));
  EXPECT_EQ(to_vector<double>(ones({2, 2}, TensorOptions(kFloat64).device(kGpu))), std::vector<double>(4, 1.0));
}

TEST(Cuda, AddMatchesCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(0);
  Tensor a = randn({64, 33}), b = randn({64, 33}), row = randn({33});
  EXPECT_LE(max_diff((a.to(kGpu) + b.to(kGpu)).to(Device(kCPU)), a + b), 1e-6);
  // Broadcasting (a stride-0 operand) and a scalar.
  EXPECT_LE(max_diff((a.to(kGpu) + row.to(kGpu)).to(Device(kCPU)), a + row), 1e-6);
  EXPECT_LE(max_diff((a.to(kGpu) * 3.0).to(Device(kCPU)), a * 3.0), 1e-6);
  // A non-contiguous input.
  EXPECT_LE(max_diff((a.to(kGpu).t() - b.to(kGpu).t()).to(Device(kCPU)), a.t() - b.t()), 1e-6);
  // Comparisons give bool.
  Tensor gt_d = gt(a.to(kGpu), b.to(kGpu));
  EXPECT_EQ(gt_d.dtype(), kBool);
  EXPECT_EQ(to_vector<double>(gt_d), to_vector<double>(gt(a, b)));
}

TEST(Cuda, UnaryMatchesCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(1);
  Tensor x = randn({1000});
  Tensor d = x.to(kGpu);
  EXPECT_LE(max_diff(exp(d).to(Device(kCPU)), exp(x)), 1e-5);
  EXPECT_LE(max_diff(tanh(d).to(Device(kCPU)), tanh(x)), 1e-6);
  EXPECT_LE(max_diff(sigmoid(d).to(Device(kCPU)), sigmoid(x)), 1e-6);
  EXPECT_LE(max_diff(relu(d).to(Device(kCPU)), relu(x)), 0.0);
}

TEST(Cuda, UnsupportedPrimitivesRaiseClearly) {
  SKIP_WITHOUT_GPU();
  Tensor a = ones({2, 2}, kGpu);
  try {
    (void)matmul(a, a);
    FAIL() << "matmul on cuda should raise until it is implemented";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not implemented on cuda yet"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)exp(ones({2}, TensorOptions(kFloat64).device(kGpu))), Error);
}
