// Defines a small CNN with the nn API and trains it on Fashion-MNIST: the whole loop, written out by hand.
//   build/bin/fashion_cnn [epochs] [train examples]
#include <cstdio>
#include <cstdlib>

#include <tangent/tangent.h>

using namespace tangent;

// conv -> batch norm -> relu -> pool, twice; then a small classifier.
struct FashionCNN : nn::Module {
  std::shared_ptr<nn::Sequential> net;
  FashionCNN() {
    net = register_module(
        "net", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                   std::make_shared<nn::Conv2d>(1, 16, 3, 1, 1), std::make_shared<nn::BatchNorm2d>(16),
                   std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
                   std::make_shared<nn::Conv2d>(16, 32, 3, 1, 1), std::make_shared<nn::BatchNorm2d>(32),
                   std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
                   std::make_shared<nn::Linear>(32 * 7 * 7, 128), std::make_shared<nn::ReLU>(),
                   std::make_shared<nn::Dropout>(0.25), std::make_shared<nn::Linear>(128, 10)}));
  }
  Tensor forward(const Tensor& x) override { return net->forward(x); }
  std::string type_name() const override { return "FashionCNN"; }
};

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 1;
  const int64_t limit = argc > 2 ? std::atoll(argv[2]) : -1;
  manual_seed(0);

  auto train = std::make_shared<data::TensorDataset>(data::load_fashion_mnist(data::kFashionMnistRoot, true, limit));
  const data::TensorDataset test = data::load_fashion_mnist(data::kFashionMnistRoot, false);
  data::DataLoader loader(train, {/*batch_size=*/128, /*shuffle=*/true, /*seed=*/0, /*drop_last=*/false});

  auto model = std::make_shared<FashionCNN>();
  std::printf("%s", model->summary().c_str());
  optim::Adam optimizer(model->parameters(), {/*lr=*/2e-3});

  for (int epoch = 1; epoch <= epochs; ++epoch) {
    model->train();
    double total = 0.0;
    int64_t batches = 0;
    for (const data::Example& batch : loader) {
      const Tensor loss = nn::functional::cross_entropy(model->forward(batch.data), batch.target);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      total += loss.item<double>();
      ++batches;
    }
    const nn::EvalResult r = nn::evaluate(*model, test);
    std::printf("epoch %d: train loss %.4f, test accuracy %.2f%%\n", epoch, total / static_cast<double>(batches),
                100.0 * r.accuracy);
  }
  return 0;
}
