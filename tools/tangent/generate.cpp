// tangent generate: samples text from a character-level language-model checkpoint (tangent train --model
// transformer). The checkpoint holds the vocabulary, so it alone encodes the prompt and decodes the sample.
// Prints the text(s) on stdout and one line with the tokens per second on stderr.
#include <chrono>
#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "core/parallel.h"
#include "models/models.h"
#include "nn/checkpoint.h"
#include "nn/data/text.h"
#include "tools/tangent/commands.h"
#include "tools/tangent/flags.h"

namespace tangent::cli {

namespace {

// The prompts of --prompts FILE: one per line (a trailing newline does not start another); none may be empty.
std::vector<std::string> read_prompts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TANGENT_CHECK(in.good(), "cannot read '", path, "'");
  std::vector<std::string> prompts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    TANGENT_CHECK(!line.empty(), "line ", prompts.size() + 1, " of '", path, "' is empty (one prompt per line)");
    prompts.push_back(line);
  }
  TANGENT_CHECK(!prompts.empty(), "'", path, "' holds no prompt (one prompt per line)");
  return prompts;
}

}  // namespace

Run add_generate(CLI::App& app) {
  struct Args {
    std::string checkpoint;
    std::string prompt = "\n";
    std::string prompts_file;
    models::GenerateOptions options;
    int threads = 0;
    bool quiet = false, no_cache = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("checkpoint", a->checkpoint, "DIR/model.tgt of a transformer")->required()->check(input_file());
  auto* prompt = app.add_option("--prompt", a->prompt, "text to continue (default: a newline)")->check(non_empty());
  app.add_option("--prompts", a->prompts_file, "a file of prompts, one per line, generated as one batch")
      ->check(input_file())
      ->excludes(prompt);
  app.add_option("--tokens", a->options.tokens, "characters to generate")->check(integer(0, kMaxSize));
  app.add_option("--temperature", a->options.temperature, "sampling temperature; 0 = greedy")
      ->check(number(0, kMaxReal));
  app.add_option("--top-k", a->options.top_k, "sample among the k most likely characters (0 = all)")
      ->check(integer(0, kMaxSize));
  app.add_option("--seed", a->options.seed,
                 "random seed (the same seed gives the same text; each prompt of --prompts samples with it)")
      ->check(integer(0, std::numeric_limits<int64_t>::max()));
  app.add_flag("--no-cache", a->no_cache, "run the whole window for every token (no KV cache; same text, slower)");
  app.add_option("--threads", a->threads, "CPU threads (default: all cores)")->check(integer(1, kMaxThreads));
  app.add_flag("--quiet", a->quiet, "print only the generated text, not the prompt");
  return [a] {
    if (a->threads > 0) set_num_threads(a->threads);
    a->options.cache = !a->no_cache;
    const nn::Checkpoint c = nn::load_checkpoint(a->checkpoint);
    TANGENT_CHECK(c.model_kind == "transformer", "generate: ", a->checkpoint, " holds a '", c.model_kind,
                  "' model, not a language model (train one with tangent train --model transformer)");
    auto model = std::dynamic_pointer_cast<models::GPT>(models::create_model(c.model_kind, c.model_config));
    TANGENT_CHECK(model != nullptr, "generate: the checkpoint's model is not a GPT");
    model->load_state_dict(c.model_state);
    const data::Vocabulary vocab = data::Vocabulary::from_bytes(model->options.vocab);
    const bool batch = !a->prompts_file.empty();
    const std::vector<std::string> texts =
        batch ? for_flag("--prompts", [&] { return read_prompts(a->prompts_file); }) : std::vector{a->prompt};
    std::vector<std::vector<int64_t>> prompts;
    for (size_t i = 0; i < texts.size(); ++i)
      prompts.push_back(vocab.encode(
          texts[i], batch ? "generate: --prompts line " + std::to_string(i + 1) : std::string("generate: --prompt")));
    const auto start = std::chrono::steady_clock::now();
    const std::vector<std::vector<int64_t>> generated = model->generate_batch(prompts, a->options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string out;
    for (size_t i = 0; i < texts.size(); ++i) {
      if (batch) out += "=== prompt " + std::to_string(i + 1) + " of " + std::to_string(texts.size()) + " ===\n";
      out += (a->quiet ? std::string() : texts[i]) + vocab.decode(generated[i]) + "\n";
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    const double tokens = static_cast<double>(a->options.tokens) * static_cast<double>(texts.size());
    std::fprintf(stderr, "generate: %.0f tokens in %.3f s, %.1f tokens/s (%s)\n", tokens, seconds,
                 seconds > 0 ? tokens / seconds : 0.0, a->options.cache ? "KV cache" : "no cache");
    return 0;
  };
}

}  // namespace tangent::cli
