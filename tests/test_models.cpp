// Tests of the ready-made models (models/): MLP and ConvNet built from options (layer structure, shapes,
// parameter counts), config() -> create_model(kind, config) rebuilding an identical model, forward shapes, input
// shape errors naming the model, and the NTK-parametrised MLP.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <tangent/tangent.h>
#include "support/errors.h"

using namespace tangent;
using tangent::testing::expect_error;

namespace {

std::vector<std::string> module_types(nn::Module& m) {
  std::vector<std::string> out;
  for (auto& [name, mod] : m.named_modules()) out.push_back(name + ":" + mod->type_name());
  return out;
}

models::MLPOptions mlp_options() {
  models::MLPOptions o;
  o.input_shape = {1, 4, 4};
  o.hidden = {12, 8};
  o.out_features = 3;
  o.activation = "tanh";
  o.dropout = 0.2;
  return o;
}

TEST(Models, MLPStructure) {
  manual_seed(31);
  models::MLP m(mlp_options());
  EXPECT_EQ(m.kind(), "mlp");
  EXPECT_EQ(m.input_shape(), (Shape{1, 4, 4}));
  EXPECT_EQ(module_types(m), (std::vector<std::string>{":MLP", "layers:Sequential", "layers.0:Linear", "layers.1:Tanh",
                                                       "layers.2:Dropout", "layers.3:Linear", "layers.4:Tanh",
                                                       "layers.5:Dropout", "layers.6:Linear"}));
  EXPECT_EQ(m.num_parameters(), 16 * 12 + 12 + 12 * 8 + 8 + 8 * 3 + 3);
  EXPECT_EQ(m.forward(randn({5, 1, 4, 4})).shape(), (Shape{5, 3}));
  EXPECT_EQ(m.forward(randn({5, 16})).shape(), (Shape{5, 3}));  // already-flat rows are accepted
  // No dropout layers when dropout is 0; no hidden layers gives a linear model.
  models::MLPOptions o = mlp_options();
  o.dropout = 0;
  o.hidden = {};
  models::MLP lin(o);
  EXPECT_EQ(module_types(lin), (std::vector<std::string>{":MLP", "layers:Sequential", "layers.0:Linear"}));
}

TEST(Models, MLPBadInputs) {
  models::MLP m(mlp_options());
  expect_error([&] { m.forward(randn({5, 1, 4, 5})); }, {"MLP", "[1, 4, 4]", "[5, 1, 4, 5]"});
  expect_error([&] { m.forward(randn({5, 15})); }, {"MLP", "[5, 15]"});
  // Same element count per batch, wrong per-example shape: must not be silently reinterpreted.
  expect_error([&] { m.forward(randn({2, 2, 4, 4})); }, {"MLP", "[2, 2, 4, 4]"});
  expect_error([&] { m.forward(randn({32})); }, {"MLP", "[32]"});
  models::MLPOptions o = mlp_options();
  o.input_shape = {};
  expect_error([&] { models::MLP bad(o); }, {"MLP", "input_shape"});
  o = mlp_options();
  o.activation = "nope";
  expect_error([&] { models::MLP bad(o); }, {"nope"});
}

TEST(Models, ConvNetStructureAndShapes) {
  manual_seed(32);
  models::ConvNetOptions o;
  o.input_shape = {2, 9, 8};
  o.channels = {4, 6};
  o.hidden = 10;
  o.num_classes = 5;
  o.dropout = 0.5;
  models::ConvNet m(o);
  EXPECT_EQ(m.kind(), "cnn");
  EXPECT_EQ(module_types(m),
            (std::vector<std::string>{":ConvNet", "features:Sequential", "features.0:Conv2d", "features.1:BatchNorm2d",
                                      "features.2:ReLU", "features.3:MaxPool2d", "features.4:Conv2d",
                                      "features.5:BatchNorm2d", "features.6:ReLU", "features.7:MaxPool2d",
                                      "classifier:Sequential", "classifier.0:Flatten", "classifier.1:Linear",
                                      "classifier.2:ReLU", "classifier.3:Dropout", "classifier.4:Linear"}));
  // 9x8 -> 4x4 -> 2x2 with 6 channels: 24 features.
  const auto* fc = dynamic_cast<nn::Linear*>((*m.classifier)[1].get());
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(fc->options.in_features, 24);
  EXPECT_EQ(m.forward(randn({3, 2, 9, 8})).shape(), (Shape{3, 5}));
  m.eval();
  EXPECT_EQ(m.forward(randn({1, 2, 9, 8})).shape(), (Shape{1, 5}));
  expect_error([&] { m.forward(randn({3, 1, 9, 8})); }, {"ConvNet", "[N, 2, 9, 8]", "[3, 1, 9, 8]"});
  expect_error([&] { m.forward(randn({2, 9, 8})); }, {"ConvNet", "[2, 9, 8]"});
  o.input_shape = {1, 2, 2};
  expect_error([&] { models::ConvNet bad(o); }, {"ConvNet", "too small"});
  o.input_shape = {4, 4};
  expect_error([&] { models::ConvNet bad(o); }, {"ConvNet", "[C, H, W]"});
  o.input_shape = {1, 8, 8};
  o.kernel_size = 4;
  expect_error([&] { models::ConvNet bad(o); }, {"ConvNet", "odd"});
  // No hidden layer.
  o.kernel_size = 5;
  o.hidden = 0;
  models::ConvNet direct(o);
  EXPECT_EQ(direct.forward(randn({2, 1, 8, 8})).shape(), (Shape{2, 5}));
}

// Rebuilding from (kind, config) and loading the state gives a model with identical outputs.
void expect_rebuilds(models::Model& m, const Tensor& x) {
  m.eval();
  const nn::Config cfg = m.config();
  auto copy = models::create_model(m.kind(), cfg);
  EXPECT_EQ(copy->kind(), m.kind());
  EXPECT_EQ(copy->config().values(), cfg.values());
  EXPECT_EQ(copy->type_name(), m.type_name());
  EXPECT_EQ(copy->summary(), m.summary());
  copy->load_state_dict(m.state_dict());
  copy->eval();
  EXPECT_TRUE(equal(copy->forward(x), m.forward(x)));
  // The config is plain text: it survives a round trip through strings.
  nn::Config text(cfg.values());
  EXPECT_EQ(models::create_model(m.kind(), text)->num_parameters(), m.num_parameters());
}

TEST(Models, ConfigRoundTrip) {
  manual_seed(33);
  models::MLPOptions mo = mlp_options();
  mo.sigma_b = 0.1;
  models::MLP mlp(mo);
  expect_rebuilds(mlp, randn({4, 1, 4, 4}));
  const models::MLPOptions back = models::MLPOptions::from_config(mlp.config());
  EXPECT_EQ(back.input_shape, mo.input_shape);
  EXPECT_EQ(back.hidden, mo.hidden);
  EXPECT_EQ(back.activation, "tanh");
  EXPECT_EQ(back.dropout, 0.2);
  EXPECT_EQ(back.sigma_b, 0.1);

  models::ConvNetOptions co;
  co.input_shape = {1, 8, 8};
  co.channels = {3, 5};
  co.hidden = 7;
  co.num_classes = 4;
  co.dropout = 0.3;
  models::ConvNet cnn(co);
  cnn.train();
  cnn.forward(randn({6, 1, 8, 8}));  // non-trivial running statistics
  expect_rebuilds(cnn, randn({3, 1, 8, 8}));
  const models::ConvNetOptions cb = models::ConvNetOptions::from_config(cnn.config());
  EXPECT_EQ(cb.channels, co.channels);
  EXPECT_EQ(cb.hidden, 7);
  EXPECT_EQ(cb.dropout, 0.3);

  models::MLPOptions ntk = mlp_options();
  ntk.ntk = true;
  ntk.sigma_w = 1.3;
  models::MLP ntk_mlp(ntk);
  expect_rebuilds(ntk_mlp, randn({2, 16}));

  expect_error([] { models::create_model("transformer9", nn::Config()); },
               {"create_model", "transformer9", "mlp", "cnn"});
  expect_error([] { models::create_model("mlp", nn::Config()); }, {"config", "input_shape"});
}

TEST(Models, NTKMLP) {
  manual_seed(34);
  models::MLPOptions o;
  o.input_shape = {50};
  o.hidden = {2000};
  o.out_features = 1;
  o.activation = "relu";
  o.ntk = true;
  o.sigma_w = std::sqrt(2.0);
  o.sigma_b = 0.0;
  models::MLP m(o);
  const auto* first = dynamic_cast<nn::Linear*>((*m.layers)[0].get());
  const auto* last = dynamic_cast<nn::Linear*>((*m.layers)[2].get());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(first->options.parametrization, nn::Parametrization::NTK);
  EXPECT_DOUBLE_EQ(first->weight_scale(), std::sqrt(2.0) / std::sqrt(50.0));
  EXPECT_DOUBLE_EQ(last->weight_scale(), std::sqrt(2.0) / std::sqrt(2000.0));
  EXPECT_EQ(last->bias_scale(), 0.0);
  // Parameters are N(0, 1) whatever the width.
  EXPECT_NEAR(tangent::std(first->weight).item<double>(), 1.0, 0.02);
  EXPECT_NEAR(tangent::std(last->weight).item<double>(), 1.0, 0.05);
  // Forward equals the explicit formula.
  const Tensor x = randn({3, 50});
  const Tensor h = relu(add(mul(matmul(x, first->weight.t()), first->weight_scale()), mul(first->bias, 0.0)));
  const Tensor ref = mul(matmul(h, last->weight.t()), last->weight_scale());
  EXPECT_TRUE(allclose(m.forward(x), ref, 1e-4, 1e-5));
}

}  // namespace
