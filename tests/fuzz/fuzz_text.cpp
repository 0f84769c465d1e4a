// Fuzzes the text data reader (nn/data/text.h): read_text("text:PATH") and the windows of make_text_dataset.
// The first two bytes pick the context (1..16) and the validation fraction; the rest is the file.
#include "fuzz_input.h"
#include "nn/data/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int64_t context = 1 + data[0] % 16;
  const double validation = data[1] / 256.0;
  const std::string path = tangent::fuzz::write_input(data + 2, size - 2, ".txt");
  tangent::fuzz::accept_errors([&] {
    const std::string text = tangent::data::read_text("text:" + path);
    const tangent::data::TextDataset d = tangent::data::make_text_dataset(text, context, validation);
    // Re-encoding with the data set's own vocabulary must round-trip.
    if (d.vocab.decode(d.vocab.encode(text)) != text) __builtin_trap();
  });
  return 0;
}
