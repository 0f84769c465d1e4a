#include "nn/data/text.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "ops/factory.h"

namespace tangent::data {

namespace fs = std::filesystem;

namespace {

std::string printable(unsigned char c) {
  if (c == '\n') return "'\\n'";
  if (c == '\t') return "'\\t'";
  if (c >= 32 && c < 127) return std::string("'") + static_cast<char>(c) + "'";
  std::ostringstream os;
  os << "byte 0x" << std::hex << static_cast<int>(c);
  return os.str();
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  TANGENT_CHECK(in.good(), "text: cannot open '", path.string(), "'");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// Regular files of a directory (no symlinks, no hidden files, none with an extension in `skip`), sorted by name.
std::vector<fs::path> text_files(const fs::path& dir, const std::vector<std::string>& skip) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path& p = entry.path();
    if (entry.is_symlink() || !entry.is_regular_file()) continue;
    const std::string name = p.filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (std::find(skip.begin(), skip.end(), p.extension().string()) != skip.end()) continue;
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_path(const std::string& spec, const fs::path& path, const std::vector<std::string>& skip) {
  std::error_code ec;
  TANGENT_CHECK(fs::exists(path, ec), "text: '", spec, "': no such file or directory '", path.string(), "'");
  std::string text;
  if (fs::is_directory(path, ec)) {
    const auto files = text_files(path, skip);
    TANGENT_CHECK(!files.empty(), "text: '", spec, "': the directory '", path.string(), "' has no text files");
    for (const auto& f : files) text += read_bytes(f);
  } else {
    text = read_bytes(path);
  }
  TANGENT_CHECK(!text.empty(), "text: '", spec, "' is empty");
  return text;
}

// Windows of context + 1 tokens every `context` tokens of ids[begin, end).
TensorDataset windows(const std::vector<int64_t>& ids, size_t begin, size_t end, int64_t context) {
  const int64_t len = static_cast<int64_t>(end - begin);
  const int64_t n = len > context ? (len - 1) / context : 0;
  std::vector<int64_t> x(static_cast<size_t>(n * context)), y(static_cast<size_t>(n * context));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < context; ++t) {
      const size_t src = begin + static_cast<size_t>(i * context + t);
      x[static_cast<size_t>(i * context + t)] = ids[src];
      y[static_cast<size_t>(i * context + t)] = ids[src + 1];
    }
  return TensorDataset(tensor(x, {n, context}), tensor(y, {n, context}));
}

}  // namespace

Vocabulary::Vocabulary() { std::fill(std::begin(index_), std::end(index_), -1); }

Vocabulary Vocabulary::from_text(const std::string& text) {
  bool present[256] = {};
  for (unsigned char c : text) present[c] = true;
  std::vector<int64_t> bytes;
  for (int c = 0; c < 256; ++c)
    if (present[c]) bytes.push_back(c);
  return from_bytes(bytes);
}

Vocabulary Vocabulary::from_bytes(const std::vector<int64_t>& bytes) {
  Vocabulary v;
  v.chars_ = bytes;
  for (size_t i = 0; i < v.chars_.size(); ++i) {
    const int64_t c = v.chars_[i];
    TANGENT_CHECK(c >= 0 && c < 256, "vocabulary: characters are byte values 0..255, got ", c);
    TANGENT_CHECK(v.index_[c] < 0, "vocabulary: character ", c, " appears twice");
    v.index_[c] = static_cast<int>(i);
  }
  return v;
}

std::vector<int64_t> Vocabulary::encode(const std::string& text, const std::string& what) const {
  std::vector<int64_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    TANGENT_CHECK(index_[c] >= 0, what, ": the character ", printable(c), " at position ", i,
                  " is not in the model's vocabulary (", size(), " characters)");
    ids[i] = index_[c];
  }
  return ids;
}

std::string Vocabulary::decode(const std::vector<int64_t>& ids) const {
  std::string s(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    TANGENT_CHECK(ids[i] >= 0 && ids[i] < size(), "decode: token id ", ids[i], " is outside the vocabulary [0, ",
                  size(), ")");
    s[i] = static_cast<char>(chars_[static_cast<size_t>(ids[i])]);
  }
  return s;
}

bool is_text_spec(const std::string& spec) { return spec == "fortunes" || spec.rfind("text:", 0) == 0; }

std::string read_text(const std::string& spec) {
  if (spec == "fortunes") {
    const fs::path dir = "/usr/share/games/fortunes";
    std::error_code ec;
    TANGENT_CHECK(fs::is_directory(dir, ec), "text: 'fortunes' needs Debian's fortunes package (", dir.string(),
                  " is missing; apt-get install fortunes)");
    return read_path(spec, dir, {".dat", ".u8"});
  }
  TANGENT_CHECK(spec.rfind("text:", 0) == 0 && spec.size() > 5, "text: expected 'text:PATH' or 'fortunes', got '", spec,
                "'");
  return read_path(spec, spec.substr(5), {});
}

TextDataset make_text_dataset(const std::string& text, int64_t context, double validation_fraction,
                              const Vocabulary* vocab) {
  TANGENT_CHECK(context >= 1, "text: the context must be >= 1, got ", context);
  TANGENT_CHECK(validation_fraction >= 0 && validation_fraction < 1, "text: the validation fraction must be in ",
                "[0, 1), got ", validation_fraction);
  TANGENT_CHECK(!text.empty(), "text: the text is empty");
  TextDataset d;
  d.vocab = vocab ? *vocab : Vocabulary::from_text(text);
  const std::vector<int64_t> ids = d.vocab.encode(text, "text");
  const auto n = ids.size();
  const auto n_val = static_cast<size_t>(std::floor(validation_fraction * static_cast<double>(n)));
  const size_t split = n - n_val;
  TANGENT_CHECK(static_cast<int64_t>(split) > context, "text: ", split, " training characters are too few for a ",
                "context of ", context, " (need at least ", context + 1, ")");
  d.train = windows(ids, 0, split, context);
  d.validation = windows(ids, split, n, context);
  d.train_chars = static_cast<int64_t>(split);
  d.validation_chars = static_cast<int64_t>(n_val);
  return d;
}

TextDataset load_text_dataset(const std::string& spec, int64_t context, double validation_fraction,
                              const Vocabulary* vocab) {
  return make_text_dataset(read_text(spec), context, validation_fraction, vocab);
}

}  // namespace tangent::data
