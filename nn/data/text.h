#pragma once
// Character-level text data for language models. Text is read as bytes (UTF-8 multi-byte characters become
// several tokens); the vocabulary is the sorted set of byte values present, so ids are 0..V-1.
//   load_text_dataset("text:PATH", context)  a file, or every regular file (not symlinks, not hidden) of a
//                                             directory in name order, concatenated
//   load_text_dataset("fortunes", context)   Debian's fortune cookies: the text files of
//                                             /usr/share/games/fortunes (not the .dat indexes, not the .u8 links)
// The last `validation_fraction` of the text is the validation split (deterministic). Each split is cut into
// windows of context + 1 tokens starting every `context` tokens (consecutive windows share one token, so every
// token but the first is a target exactly once): x = window[0:T], y = window[1:T+1], both int64 [n, T].
#include <cstdint>
#include <string>
#include <vector>

#include "nn/data/dataset.h"

namespace tangent::data {

class Vocabulary {
 public:
  Vocabulary();  // empty
  // The characters (bytes) present in `text`, sorted.
  static Vocabulary from_text(const std::string& text);
  // From byte values (0..255, distinct), as stored in a model's configuration: id i is bytes[i].
  static Vocabulary from_bytes(const std::vector<int64_t>& bytes);

  int64_t size() const { return static_cast<int64_t>(chars_.size()); }
  const std::vector<int64_t>& bytes() const { return chars_; }
  bool contains(unsigned char c) const { return index_[c] >= 0; }
  // Token ids of `text`; a character outside the vocabulary raises an Error naming it and its position
  // (`what` prefixes the message, e.g. "generate").
  std::vector<int64_t> encode(const std::string& text, const std::string& what = "encode") const;
  // Text of token ids (each in [0, size())).
  std::string decode(const std::vector<int64_t>& ids) const;

 private:
  std::vector<int64_t> chars_;  // id -> byte
  int index_[256];              // byte -> id, -1 when absent
};

// Reads the text a spec names ("text:PATH" or "fortunes"); missing or empty sources raise an Error naming them.
std::string read_text(const std::string& spec);

struct TextDataset {
  Vocabulary vocab;
  TensorDataset train, validation;  // x [n, context] int64, y [n, context] int64; validation may be empty
  int64_t train_chars = 0, validation_chars = 0;
};

// Windows of `text` (see above). With `vocab` given (e.g. a checkpoint's), the text is encoded with it (unknown
// characters raise an Error); otherwise the vocabulary is built from the text.
TextDataset make_text_dataset(const std::string& text, int64_t context, double validation_fraction = 0.05,
                              const Vocabulary* vocab = nullptr);
TextDataset load_text_dataset(const std::string& spec, int64_t context, double validation_fraction = 0.05,
                              const Vocabulary* vocab = nullptr);

// Whether `spec` names text data ("text:..." or "fortunes").
bool is_text_spec(const std::string& spec);

}  // namespace tangent::data
