#include <gtest/gtest.h>
#include <tangent/tangent.h>
using namespace tangent;
TEST(Core, Smoke) {
  Tensor a = ones({2, 3});
  Tensor b = full({3}, 2.0);
  Tensor c = a + b;
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(to_vector<float>(c)[4], 3.0f);
}
