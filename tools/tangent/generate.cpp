// tangent generate: samples text from a character-level language-model checkpoint (tangent train --model
// transformer). The checkpoint holds the vocabulary, so it alone encodes the prompt and decodes the sample.
#include <cstdio>

#include "core/error.h"
#include "core/parallel.h"
#include "models/models.h"
#include "nn/checkpoint.h"
#include "nn/data/text.h"
#include "tools/tangent/commands.h"
#include "tools/tangent/flags.h"

namespace tangent::cli {

Run add_generate(CLI::App& app) {
  struct Args {
    std::string checkpoint;
    std::string prompt = "\n";
    models::GenerateOptions options;
    int threads = 0;
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("checkpoint", a->checkpoint, "DIR/model.tgt of a transformer")->required()->check(input_file());
  app.add_option("--prompt", a->prompt, "text to continue (default: a newline)")->check(non_empty());
  app.add_option("--tokens", a->options.tokens, "characters to generate")->check(integer(0, kMaxSize));
  app.add_option("--temperature", a->options.temperature, "sampling temperature; 0 = greedy")
      ->check(number(0, kMaxReal));
  app.add_option("--top-k", a->options.top_k, "sample among the k most likely characters (0 = all)")
      ->check(integer(0, kMaxSize));
  app.add_option("--seed", a->options.seed, "random seed (the same seed gives the same text)")
      ->check(integer(0, std::numeric_limits<int64_t>::max()));
  app.add_option("--threads", a->threads, "CPU threads (default: all cores)")->check(integer(1, kMaxThreads));
  app.add_flag("--quiet", a->quiet, "print only the generated text, not the prompt");
  return [a] {
    if (a->threads > 0) set_num_threads(a->threads);
    const nn::Checkpoint c = nn::load_checkpoint(a->checkpoint);
    TANGENT_CHECK(c.model_kind == "transformer", "generate: ", a->checkpoint, " holds a '", c.model_kind,
                  "' model, not a language model (train one with tangent train --model transformer)");
    auto model = std::dynamic_pointer_cast<models::GPT>(models::create_model(c.model_kind, c.model_config));
    TANGENT_CHECK(model != nullptr, "generate: the checkpoint's model is not a GPT");
    model->load_state_dict(c.model_state);
    const data::Vocabulary vocab = data::Vocabulary::from_bytes(model->options.vocab);
    const std::vector<int64_t> prompt = vocab.encode(a->prompt, "generate: --prompt");
    const std::string text = vocab.decode(model->generate(prompt, a->options));
    const std::string out = (a->quiet ? std::string() : a->prompt) + text + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  };
}

}  // namespace tangent::cli
