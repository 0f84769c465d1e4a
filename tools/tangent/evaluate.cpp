// tangent eval and tangent predict: load a checkpoint (which alone rebuilds its model) and run it.
#include <cstdio>
#include <sstream>

#include "models/models.h"
#include "nn/checkpoint.h"
#include "nn/data/data.h"
#include "nn/trainer.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "tools/tangent/commands.h"
#include "tools/tangent/flags.h"

namespace tangent::cli {

namespace {

std::shared_ptr<models::Model> load_model(const std::string& path) {
  const nn::Checkpoint c = nn::load_checkpoint(path);
  auto model = models::create_model(c.model_kind, c.model_config);
  model->load_state_dict(c.model_state);
  model->eval();
  return model;
}

}  // namespace

Run add_eval(CLI::App& app) {
  struct Args {
    std::string checkpoint, data = "fashion-mnist";
    bool train = false;
    int64_t batch_size = 256;
    double val_fraction = 0.05;
  };
  auto a = std::make_shared<Args>();
  app.add_option("checkpoint", a->checkpoint, "DIR/model.tgt")->required()->check(input_file());
  app.add_option("--data", a->data,
                 "fashion-mnist, fashion-mnist:N, fashion-mnist-test[:N], npy:X.npy,Y.npy or a directory from "
                 "`tangent data affine-fashion-mnist` (accuracy on its centred and transformed test sets); "
                 "for language models text:PATH or fortunes (the default)")
      ->check(data_spec());
  app.add_option("--val-fraction", a->val_fraction, "language models: the held-out last fraction of the text")
      ->check(number(0, 1, false, true));
  app.add_flag("--train", a->train, "use the training split instead of the test split");
  app.add_option("--batch-size", a->batch_size, "examples per batch")->check(integer(1, kMaxSize));
  return [a] {
    auto model = load_model(a->checkpoint);
    if (auto* gpt = dynamic_cast<models::GPT*>(model.get())) {  // a language model: text data, its vocabulary
      const std::string spec = a->data == "fashion-mnist" ? "fortunes" : a->data;
      const data::Vocabulary vocab = data::Vocabulary::from_bytes(gpt->options.vocab);
      const data::TextDataset text = for_flag(
          "--data", [&] { return data::load_text_dataset(spec, gpt->options.context, a->val_fraction, &vocab); });
      const data::TensorDataset& ds = a->train ? text.train : text.validation;
      TANGENT_CHECK(ds.size() > 0, "eval: the ", a->train ? "training" : "validation", " split of '", spec,
                    "' has no window of ", gpt->options.context + 1, " characters");
      const nn::EvalResult r = nn::evaluate(*model, ds, a->batch_size);
      std::printf("bits per character %.4f  loss %.4f  accuracy %.2f%%  (%lld windows of %lld, %s split)\n",
                  nn::bits_per_char(r.loss), r.loss, 100.0 * r.accuracy, static_cast<long long>(r.count),
                  static_cast<long long>(gpt->options.context), a->train ? "train" : "validation");
      return 0;
    }
    // An affine benchmark directory's test side is two splits: the centred images and their transforms.
    std::vector<std::string> splits = {a->train ? "train" : "test"};
    if (!a->train && data::is_data_directory(a->data)) splits.push_back("test-affine");
    for (const std::string& split : splits) {
      const nn::EvalResult r = for_flag("--data", [&] {
        const data::TensorDataset ds = data::is_data_directory(a->data) ? data::load_affine_benchmark(a->data, split)
                                                                        : data::load_dataset(a->data, a->train);
        const Shape shape(ds.data().shape().begin() + 1, ds.data().shape().end());
        TANGENT_CHECK(shape == model->input_shape(), "eval: the examples of '", a->data, "' (", split,
                      " split) have shape ", shape, " but the model in ", a->checkpoint, " takes ",
                      model->input_shape());
        return nn::evaluate(*model, ds, a->batch_size);
      });
      std::printf("accuracy %.2f%%  loss %.4f  (%lld examples, %s split)\n", 100.0 * r.accuracy, r.loss,
                  static_cast<long long>(r.count), split.c_str());
    }
    return 0;
  };
}

namespace {

// A language model's input from --input (int64 token ids [B, T]) or --text (encoded with the stored vocabulary).
Tensor language_model_input(const models::GPT& gpt, const std::string& input, const std::string& text) {
  const int64_t v = gpt.options.vocab_size(), ctx = gpt.options.context;
  if (!text.empty())
    return for_flag("--text", [&] {
      const data::Vocabulary vocab = data::Vocabulary::from_bytes(gpt.options.vocab);
      const std::vector<int64_t> ids = vocab.encode(text, "predict");
      const int64_t t = static_cast<int64_t>(ids.size());
      TANGENT_CHECK(t <= ctx, "predict: the text has ", t, " characters, more than the model's context of ", ctx);
      return tensor(ids, {1, t});
    });
  return for_flag("--input", [&] {
    const Tensor x = data::read_npy(input);
    TANGENT_CHECK(x.dtype() == kInt64, "predict: '", input, "' holds ", x.dtype(), " values; a language model takes ",
                  "int64 token ids [B, T]");
    TANGENT_CHECK(x.dim() == 2 && x.size(0) >= 1 && x.size(1) >= 1 && x.size(1) <= ctx, "predict: '", input,
                  "' has shape ", x.shape(),
                  "; a language model takes token ids [B, T] with B >= 1 and 1 <= T <= ", ctx, " (its context)");
    const Tensor flat = x.contiguous();
    const int64_t* ids = flat.data_ptr<int64_t>();
    for (int64_t i = 0; i < flat.numel(); ++i)
      TANGENT_CHECK(ids[i] >= 0 && ids[i] < v, "predict: '", input, "' holds token id ", ids[i], " at [", i / x.size(1),
                    ", ", i % x.size(1), "], outside the vocabulary [0, ", v, ")");
    return flat;
  });
}

}  // namespace

Run add_predict(CLI::App& app) {
  struct Args {
    std::string checkpoint, input, text, out;
    bool probabilities = false;
    int64_t batch_size = 256;
  };
  auto a = std::make_shared<Args>();
  app.add_option("checkpoint", a->checkpoint, "DIR/model.tgt")->required()->check(input_file());
  auto* input = app.add_option("--input", a->input,
                               "inputs as .npy, [N, ...] (one example per row); language models: int64 token ids "
                               "[B, T], giving logits [B, T, V]")
                    ->check(input_file());
  app.add_option("--text", a->text,
                 "language models: a text to encode with the model's vocabulary (instead of --input)")
      ->check(non_empty())
      ->excludes(input);
  app.add_option("--out", a->out, "outputs as .npy")->required()->check(output_file());
  app.add_flag("--probabilities", a->probabilities, "write softmax probabilities instead of logits");
  app.add_option("--batch-size", a->batch_size, "examples per batch")->check(integer(1, kMaxSize));
  return [a] {
    TANGENT_CHECK(!a->input.empty() || !a->text.empty(), "predict: give the inputs with --input (or --text for a ",
                  "language model)");
    auto model = load_model(a->checkpoint);
    const auto* gpt = dynamic_cast<const models::GPT*>(model.get());
    TANGENT_CHECK(gpt != nullptr || a->text.empty(), "predict: --text is for language models; ", a->checkpoint,
                  " holds a '", model->kind(), "' model");
    Tensor y = gpt != nullptr ? nn::predict(*model, language_model_input(*gpt, a->input, a->text), a->batch_size)
                              : for_flag("--input", [&] {
                                  Tensor x = data::read_npy(a->input);
                                  const Shape per = model->input_shape();
                                  TANGENT_CHECK(x.dim() >= 1, "predict: '", a->input,
                                                "' holds a 0-d array (a single number); expected inputs ",
                                                "[N, ...] for the model's input shape ", per);
                                  if (x.dim() == static_cast<int64_t>(per.size()))
                                    x = x.unsqueeze(0);  // a single example
                                  Shape got(x.shape().begin() + 1, x.shape().end());
                                  if (got != per &&
                                      got.numel() == per.numel()) {  // e.g. flat [N, 784] rows for a [1, 28, 28] model
                                    Shape s = per;
                                    s.insert(0, x.size(0));
                                    x = x.reshape(s);
                                    got = per;
                                  }
                                  TANGENT_CHECK(got == per, "predict: inputs of shape ", x.shape(),
                                                " do not match the model's input shape ", per, " (expected [N, ...])");
                                  x = x.to(model->input_dtype());
                                  return nn::predict(*model, x, a->batch_size);
                                });
    if (a->probabilities) y = softmax(y, -1);
    data::write_npy(a->out, y);
    std::printf("wrote %s: shape %s\n", a->out.c_str(), y.shape().vec().size() ? [&] {
      std::ostringstream os;
      os << y.shape();
      return os.str();
    }().c_str() : "[]");
    return 0;
  };
}

}  // namespace tangent::cli
