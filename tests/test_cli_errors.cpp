// Bad input never crashes the `tangent` command line: a table of invocations, one row each, run against the real
// binary. Every row must exit with status 1 (no signal, no hang), print exactly one line on stderr, starting with
// "error:" and naming the flag or file at fault, and leave behind no output file it was asked to write.
// The fixtures are tiny (an 8-input MLP and a one-layer transformer checkpoint, .npy files of 20 rows), so no row
// reads Fashion-MNIST: every row fails before any data set is loaded, or on the tiny files.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <tangent/tangent.h>

#include "support/cli_runner.h"

using namespace tangent;
namespace fs = std::filesystem;

namespace {

struct Row {
  Row(std::vector<std::string> a, std::string e, std::vector<std::string> o = {})
      : args(std::move(a)), expected(std::move(e)), outputs(std::move(o)) {}
  std::vector<std::string> args;
  std::string expected;              // a substring of the error line
  std::vector<std::string> outputs;  // files or directories the command must not leave behind
};

class CliErrors : public testing_support::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (IsSkipped()) return;
    x = path("x.npy"), y = path("y.npy"), y19 = path("y19.npy"), y9 = path("y9.npy"), x5 = path("x5.npy");
    x0 = path("x0.npy"), scalar = path("scalar.npy"), truncated_npy = path("truncated.npy");
    garbage_npy = path("garbage.npy"), empty_file = path("empty.txt"), text = path("text.txt"), dir = path("adir");
    fifo = path("fifo.npy"), missing = path("missing.npy"), missing_dir = path("nodir/sub");
    mlp = path("mlp.tgt"), gpt = path("gpt.tgt"), truncated_tgt = path("truncated.tgt");
    garbage_tgt = path("garbage.tgt"), npy = "npy:" + x + "," + y;
    manual_seed(7);
    data::write_npy(x, randn({20, 8}));
    data::write_npy(y, randint(0, 3, {20}));
    data::write_npy(y19, randint(0, 3, {19}));
    data::write_npy(y9, full({20}, 9.0, kInt64));  // labels beyond the MLP's 3 outputs
    data::write_npy(x5, randn({20, 5}));
    data::write_npy(x0, zeros({0, 8}));
    data::write_npy(scalar, full({}, 1.5));
    const std::string bytes = testing_support::slurp_file(x);
    write(truncated_npy, bytes.substr(0, bytes.size() - 7));
    write(garbage_npy, "this is not a .npy file");
    write(empty_file, "");
    write(text, std::string(40, 'a') + "the quick brown fox jumps over the lazy dog\n" + std::string(40, 'b'));
    fs::create_directories(dir);
    mkfifo(fifo.c_str(), 0644);
    nn::Checkpoint c;
    {
      models::MLPOptions o;
      o.input_shape = {8};
      o.hidden = {4};
      o.out_features = 3;
      models::MLP m(o);
      c.model_kind = m.kind();
      c.model_config = m.config();
      c.model_state = m.state_dict();
      nn::save_checkpoint(mlp, c);
    }
    {
      models::GPTOptions o;
      o.vocab = data::Vocabulary::from_text(testing_support::slurp_file(text)).bytes();
      o.context = 8;
      o.layers = 1;
      o.heads = 2;
      o.dim = 8;
      models::GPT m(o);
      c.model_kind = m.kind();
      c.model_config = m.config();
      c.model_state = m.state_dict();
      nn::save_checkpoint(gpt, c);
    }
    const std::string ckpt = testing_support::slurp_file(mlp);
    write(truncated_tgt, ckpt.substr(0, ckpt.size() / 2));
    write(garbage_tgt, "this is not a checkpoint");
  }

  static void write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  void run_rows(const std::vector<Row>& rows) {
    for (const Row& row : rows) {
      std::string joined;
      for (const auto& a : row.args) joined += (a.empty() ? "''" : a) + " ";
      SCOPED_TRACE(joined);
      const testing_support::CliResult r =
          testing_support::run_binary(binary_, row.args, path("stdout.log"), path("stderr.log"), 60);
      EXPECT_FALSE(r.timed_out) << "hung";
      EXPECT_TRUE(r.exited) << "killed by signal " << r.code << "\n" << r.output << r.error;
      EXPECT_EQ(r.code, 1) << r.output << r.error;
      EXPECT_EQ(r.error.rfind("error: ", 0), 0u) << r.error;
      EXPECT_EQ(std::count(r.error.begin(), r.error.end(), '\n'), 1) << r.error;
      EXPECT_TRUE(!r.error.empty() && r.error.back() == '\n') << r.error;
      EXPECT_NE(r.error.find(row.expected), std::string::npos) << "no '" << row.expected << "' in: " << r.error;
      for (const auto& out : row.outputs) {
        EXPECT_FALSE(fs::exists(out)) << out << " was left behind";
        fs::remove_all(out);  // keep the rows independent
      }
      ++rows_run_;
    }
  }

  // The fixture's files, in the test's own directory (set in SetUp, once the directory exists).
  std::string x, y, y19, y9, x5, x0, scalar, truncated_npy, garbage_npy, empty_file, text, dir, fifo, missing,
      missing_dir, mlp, gpt, truncated_tgt, garbage_tgt, npy;
  int rows_run_ = 0;
};

TEST_F(CliErrors, General) {
  run_rows({
      {{}, "subcommand"},
      {{"frobnicate"}, "frobnicate"},
      {{"train", "--frobnicate", "--out", path("run")}, "--frobnicate", {path("run")}},
      {{"train", "--out", path("run"), "--lr"}, "--lr", {path("run")}},
      {{"train", "--model", "mlp"}, "--out"},
      {{"eval"}, "checkpoint"},
      {{"predict", mlp, "--out", path("o.npy")}, "--input", {path("o.npy")}},
      {{"ntk", mlp}, "--out"},
      {{"generate"}, "checkpoint"},
  });
  EXPECT_EQ(rows_run_, 9);
}

TEST_F(CliErrors, Train) {
  const std::string out = path("run");
  auto t = [&](std::vector<std::string> args, const std::string& expected) {
    std::vector<std::string> all{"train", "--out", out};
    all.insert(all.end(), args.begin(), args.end());
    return Row{all, expected, {out}};
  };
  const std::string tf = "transformer";
  std::vector<Row> rows = {
      // The first case: a division by the batch size before it was checked (SIGFPE).
      t({"--model", tf, "--data", "fortunes", "--tokens", "1000", "--batch-size", "0"}, "--batch-size"),
      t({"--batch-size", "-1"}, "--batch-size"),
      t({"--batch-size", "99999999999999999999"}, "--batch-size"),
      t({"--batch-size", ""}, "--batch-size"),
      t({"--batch-size", "1.5"}, "--batch-size"),
      t({"--epochs", "0"}, "--epochs"),
      t({"--epochs", "-2"}, "--epochs"),
      t({"--epochs", "nan"}, "--epochs"),
      t({"--epochs", "two"}, "--epochs"),
      t({"--threads", "-3"}, "--threads"),
      t({"--threads", "0"}, "--threads"),
      t({"--threads", "1000000"}, "--threads"),
      t({"--test-limit", "-1"}, "--test-limit"),
      t({"--test-limit", "ten"}, "--test-limit"),
      t({"--test-limit", "1e3"}, "--test-limit"),
      t({"--max-steps", "-1"}, "--max-steps"),
      t({"--eval-every", "-1"}, "--eval-every"),
      t({"--seed", "-1"}, "--seed"),
      t({"--seed", "99999999999999999999999"}, "--seed"),
      t({"--lr", "0"}, "--lr"),
      t({"--lr", "-0.1"}, "--lr"),
      t({"--lr", "nan"}, "--lr"),
      t({"--lr", "inf"}, "--lr"),
      t({"--lr", "-inf"}, "--lr"),
      t({"--lr", "1e999"}, "--lr"),
      t({"--lr", ""}, "--lr"),
      t({"--weight-decay", "-1"}, "--weight-decay"),
      t({"--weight-decay", "nan"}, "--weight-decay"),
      t({"--label-smoothing", "1"}, "--label-smoothing"),
      t({"--label-smoothing", "inf"}, "--label-smoothing"),
      t({"--model", "mlp", "--dropout", "1.5"}, "--dropout"),
      t({"--model", "mlp", "--dropout", "nan"}, "--dropout"),
      t({"--model", "resnet"}, "--model"),
      t({"--model", ""}, "--model"),
      t({"--optimizer", "lbfgs"}, "--optimizer"),
      t({"--schedule", "step"}, "--schedule"),
      t({"--model", "mlp", "--activation", "swish"}, "--activation"),
      t({"--model", "mlp", "--hidden", "8,-2"}, "--hidden"),
      t({"--model", "mlp", "--hidden", "8,,2"}, "--hidden"),
      t({"--model", "mlp", "--hidden", "0"}, "--hidden"),
      t({"--model", "mlp", "--hidden", "99999999999"}, "--hidden"),
      t({"--model", "cnn", "--channels", "4,x"}, "--channels"),
      // Flags of another model.
      t({"--model", "lie", "--hidden", "8"}, "--hidden"),
      t({"--model", "cnn", "--hidden", "8,8"}, "--hidden"),
      t({"--model", "mlp", "--channels", "8"}, "--channels"),
      t({"--model", "mlp", "--tokens", "100"}, "--tokens"),
      t({"--model", "cnn", "--context", "16"}, "--context"),
      t({"--model", tf, "--dropout", "0.1"}, "--dropout"),
      t({"--model", tf, "--test-data", npy}, "--test-data"),
      // Transformer sizes, alone and together.
      t({"--model", tf, "--tokens", "0"}, "--tokens"),
      t({"--model", tf, "--tokens", "-5"}, "--tokens"),
      t({"--model", tf, "--tokens", "1e9"}, "--tokens"),
      t({"--model", tf, "--val-fraction", "1"}, "--val-fraction"),
      t({"--model", tf, "--val-fraction", "-0.1"}, "--val-fraction"),
      t({"--model", tf, "--val-fraction", "nan"}, "--val-fraction"),
      t({"--model", tf, "--context", "0"}, "--context"),
      t({"--model", tf, "--context", "99999999"}, "--context"),
      t({"--model", tf, "--layers", "0"}, "--layers"),
      t({"--model", tf, "--heads", "0"}, "--heads"),
      t({"--model", tf, "--kv-heads", "-1"}, "--kv-heads"),
      t({"--model", tf, "--dim", "0"}, "--dim"),
      t({"--model", tf, "--dim", "-8"}, "--dim"),
      // Valid sizes whose model cannot fit in memory: refused before anything is allocated, naming the flags.
      t({"--model", tf, "--dim", "65536", "--heads", "1", "--layers", "64"}, "--dim 65536 --layers 64"),
      t({"--model", "mlp", "--data", npy, "--hidden", "1048576,1048576"}, "--hidden 1048576,1048576"),
      t({"--model", "mlp", "--data", npy, "--hidden", "60000,60000,60000"}, "more than this machine's"),
      t({"--model", tf, "--dense-last", "-1"}, "--dense-last"),
      t({"--model", tf, "--moba-block", "0"}, "--moba-block"),
      t({"--model", tf, "--moba-topk", "0"}, "--moba-topk"),
      t({"--model", tf, "--moba-key-conv", "4"}, "--moba-key-conv"),
      t({"--model", tf, "--layer-scale", "nan"}, "--layer-scale"),
      t({"--model", tf, "--layer-scale", "-1"}, "--layer-scale"),
      t({"--model", tf, "--sigmoid-bias", "inf"}, "--sigmoid-bias"),
      t({"--model", tf, "--attention", "linear"}, "--attention"),
      t({"--model", tf, "--norm", "batchnorm"}, "--norm"),
      t({"--model", tf, "--positions", "alibi"}, "--positions"),
      t({"--model", tf, "--qk-norm", "l2"}, "--qk-norm"),
      t({"--model", tf, "--dim", "10", "--heads", "3"}, "--heads"),
      t({"--model", tf, "--heads", "4", "--kv-heads", "3"}, "--kv-heads"),
      t({"--model", tf, "--dim", "6", "--heads", "2"}, "--positions"),
      t({"--model", tf, "--layers", "2", "--dense-last", "3"}, "--dense-last"),
      // Data sets: missing, directories, FIFOs, wrong kinds, truncated, empty, mismatched.
      t({"--model", "mlp", "--data", ""}, "--data"),
      t({"--model", "mlp", "--data", "nosuchdata"}, "nosuchdata"),
      t({"--model", "mlp", "--data", "fashion-mnist:-5"}, "fashion-mnist:-5"),
      t({"--model", "mlp", "--data", "npy:" + missing}, missing),
      t({"--model", "mlp", "--data", "npy:" + dir}, "is a directory"),
      t({"--model", "mlp", "--data", "npy:" + fifo + "," + y}, "not a regular file"),
      t({"--model", "mlp", "--data", "npy:" + x + "," + missing}, missing),
      t({"--model", "mlp", "--data", "npy:" + garbage_npy + "," + y}, garbage_npy),
      t({"--model", "mlp", "--data", "npy:" + truncated_npy + "," + y}, truncated_npy),
      t({"--model", "mlp", "--data", "npy:" + empty_file + "," + y}, empty_file),
      t({"--model", "mlp", "--data", "npy:" + scalar + "," + y}, "--data"),
      t({"--model", "mlp", "--data", "npy:" + x + "," + y19}, "--data"),
      t({"--model", "mlp", "--data", "npy:" + x0 + "," + y}, "--data"),
      t({"--model", "mlp", "--data", "npy:" + x}, "labels"),
      t({"--model", "mlp", "--data", npy, "--test-data", "npy:" + missing}, missing),
      t({"--model", "mlp", "--data", npy, "--test-data", "npy:" + x5 + "," + y}, "--test-data"),
      t({"--model", "mlp", "--data", "text:" + text}, "text:"),
      t({"--model", tf, "--data", "text:" + missing}, missing),
      t({"--model", tf, "--data", "text:"}, "--data"),
      t({"--model", tf, "--data", "text:" + fifo}, "not a regular file"),
      t({"--model", tf, "--data", "text:" + empty_file}, "--data"),
      t({"--model", tf, "--data", "text:" + dir}, "--data"),
      t({"--model", tf, "--data", npy}, "--data"),
      t({"--model", tf, "--data", "text:" + text, "--context", "1000"}, "--data"),
      // The output directory.
      t({"--model", "mlp", "--data", npy, "--out", ""}, "--out"),
      t({"--model", "mlp", "--data", npy, "--out", x}, "--out"),
      t({"--model", "mlp", "--data", npy, "--out", x + "/sub"}, "--out"),
  };
  if (::geteuid() != 0) {  // root reads every file whatever its mode
    write(path("secret.npy"), testing_support::slurp_file(x));
    ::chmod(path("secret.npy").c_str(), 0);
    rows.push_back(t({"--model", "mlp", "--data", "npy:" + path("secret.npy") + "," + y}, "secret.npy"));
  }
  run_rows(rows);
  EXPECT_GE(rows_run_, 100);
}

TEST_F(CliErrors, EvalAndPredict) {
  const std::string o = path("o.npy");
  auto p = [&](const std::string& ckpt, const std::string& input, std::vector<std::string> extra) {
    std::vector<std::string> all{"predict", ckpt, "--input", input, "--out", o};
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  run_rows({
      {{"eval", missing}, missing},
      {{"eval", ""}, "checkpoint"},
      {{"eval", dir}, "is a directory"},
      {{"eval", fifo}, "not a regular file"},
      {{"eval", garbage_tgt}, garbage_tgt},
      {{"eval", truncated_tgt}, "truncated"},
      {{"eval", empty_file}, empty_file},
      {{"eval", x}, x},
      {{"eval", mlp, "--data", npy, "--batch-size", "0"}, "--batch-size"},
      {{"eval", mlp, "--data", npy, "--batch-size", "-4"}, "--batch-size"},
      {{"eval", mlp, "--data", npy, "--batch-size", "1e12"}, "--batch-size"},
      {{"eval", mlp, "--data", npy, "--val-fraction", "nan"}, "--val-fraction"},
      {{"eval", mlp, "--data", ""}, "--data"},
      {{"eval", mlp, "--data", "npy:" + missing}, missing},
      {{"eval", mlp, "--data", "npy:" + garbage_npy + "," + y}, garbage_npy},
      {{"eval", mlp, "--data", "npy:" + x5 + "," + y}, "--data"},
      {{"eval", mlp, "--data", "npy:" + x}, "--data"},
      {{"eval", mlp, "--data", "npy:" + x + "," + y9}, "--data"},
      {{"eval", gpt, "--data", npy}, "--data"},
      {{"eval", gpt, "--data", "text:" + missing}, missing},
      {{"eval", gpt, "--data", "text:" + empty_file}, "--data"},
      {p(mlp, scalar, {}), "0-d", {o}},  // the issue: a 0-d .npy read past the shape
      {p(mlp, missing, {}), missing, {o}},
      {p(mlp, dir, {}), "is a directory", {o}},
      {p(mlp, fifo, {}), "not a regular file", {o}},
      {p(mlp, garbage_npy, {}), garbage_npy, {o}},
      {p(mlp, truncated_npy, {}), truncated_npy, {o}},
      {p(mlp, x5, {}), "--input", {o}},
      {p(mlp, x0, {}), "--input", {o}},
      {p(mlp, "", {}), "--input", {o}},
      {p(gpt, x, {}), "--input", {o}},
      {p(garbage_tgt, x, {}), garbage_tgt, {o}},
      {p(missing, x, {}), missing, {o}},
      {p(mlp, x, {"--batch-size", "0"}), "--batch-size", {o}},
      {p(mlp, x, {"--batch-size", "nan"}), "--batch-size", {o}},
      {{"predict", mlp, "--input", x, "--out", ""}, "--out"},
      {{"predict", mlp, "--input", x, "--out", dir}, "--out"},
      {{"predict", mlp, "--input", x, "--out", missing_dir + "/o.npy"}, "--out", {missing_dir}},
      {{"predict", mlp, "--input", x, "--out", "/dev/null"}, "--out"},
  });
  EXPECT_EQ(rows_run_, 39);
}

TEST_F(CliErrors, Export) {
  const std::string onnx = path("m.onnx"), st = path("m.safetensors");
  run_rows({
      {{"export"}, "checkpoint"},
      {{"export", mlp}, "--onnx"},
      {{"export", missing, "--onnx", onnx}, missing, {onnx}},
      {{"export", garbage_tgt, "--onnx", onnx}, garbage_tgt, {onnx}},
      {{"export", truncated_tgt, "--safetensors", st}, "truncated", {st}},
      {{"export", dir, "--onnx", onnx}, "is a directory", {onnx}},
      {{"export", mlp, "--onnx", ""}, "--onnx"},
      {{"export", mlp, "--onnx", dir}, "--onnx"},
      {{"export", mlp, "--onnx", missing_dir + "/m.onnx"}, "--onnx", {missing_dir}},
      {{"export", mlp, "--safetensors", ""}, "--safetensors"},
      {{"export", mlp, "--safetensors", missing_dir + "/m.st"}, "--safetensors", {missing_dir}},
      {{"export", mlp, "--onnx", onnx, "--safetensors", onnx}, "--safetensors", {onnx}},
      {{"export", mlp, "--onnx", onnx, "--batch", "-1"}, "--batch", {onnx}},
      {{"export", mlp, "--onnx", onnx, "--batch", "nan"}, "--batch", {onnx}},
      {{"export", mlp, "--onnx", onnx, "--batch", "99999999999999999999"}, "--batch", {onnx}},
      {{"export", "--check", missing}, missing},
      {{"export", "--check", ""}, "--check"},
      {{"export", "--check", dir}, "is a directory"},
      {{"export", "--check", garbage_npy}, garbage_npy},
      {{"export", "--check", empty_file}, empty_file},
      {{"export", mlp, "--check", garbage_npy}, "--check"},
  });
  EXPECT_EQ(rows_run_, 21);
}

TEST_F(CliErrors, Generate) {
  run_rows({
      {{"generate", missing}, missing},
      {{"generate", garbage_tgt}, garbage_tgt},
      {{"generate", mlp}, "not a language model"},
      {{"generate", gpt, "--tokens", "-1"}, "--tokens"},
      {{"generate", gpt, "--tokens", "99999999999999999999"}, "--tokens"},
      {{"generate", gpt, "--tokens", "1e9"}, "--tokens"},
      {{"generate", gpt, "--temperature", "-1"}, "--temperature"},
      {{"generate", gpt, "--temperature", "nan"}, "--temperature"},
      {{"generate", gpt, "--temperature", "inf"}, "--temperature"},
      {{"generate", gpt, "--top-k", "-1"}, "--top-k"},
      {{"generate", gpt, "--seed", "-3"}, "--seed"},
      {{"generate", gpt, "--threads", "0"}, "--threads"},
      {{"generate", gpt, "--prompt", ""}, "--prompt"},
      {{"generate", gpt, "--prompt", "XYZ"}, "--prompt"},
  });
  EXPECT_EQ(rows_run_, 14);
}

TEST_F(CliErrors, PredictLanguageModel) {
  const std::string o = path("o.npy"), ids_out = path("ids_out.npy"), ids_neg = path("ids_neg.npy");
  const std::string ids_f64 = path("ids_f64.npy"), ids_1d = path("ids_1d.npy"), ids_3d = path("ids_3d.npy");
  const std::string ids_long = path("ids_long.npy"), ids_empty = path("ids_empty.npy");
  data::write_npy(ids_out, tensor(std::vector<int64_t>{0, 1, 2, 1000}, {2, 2}));  // 1000: beyond the vocabulary
  data::write_npy(ids_neg, tensor(std::vector<int64_t>{0, -1}, {1, 2}));
  data::write_npy(ids_f64, zeros({2, 3}, kFloat64));
  data::write_npy(ids_1d, zeros({3}, kInt64));
  data::write_npy(ids_3d, zeros({1, 2, 3}, kInt64));
  data::write_npy(ids_long, zeros({1, 9}, kInt64));  // the context is 8
  data::write_npy(ids_empty, zeros({2, 0}, kInt64));
  auto p = [&](const std::string& input) {
    return std::vector<std::string>{"predict", gpt, "--input", input, "--out", o};
  };
  run_rows({
      {p(ids_out), "--input: predict: '" + ids_out + "' holds token id 1000 at [1, 1], outside the vocabulary", {o}},
      {p(ids_neg), "token id -1 at [0, 1]", {o}},
      {p(ids_f64), "--input: predict: '" + ids_f64 + "' holds float64 values", {o}},
      {p(ids_1d), "--input: predict: '" + ids_1d + "' has shape [3]", {o}},
      {p(ids_3d), "--input: predict: '" + ids_3d + "' has shape [1, 2, 3]", {o}},
      {p(ids_long), "1 <= T <= 8", {o}},
      {p(ids_empty), "--input", {o}},
      {p(x), "--input", {o}},
      {{"predict", gpt, "--text", "XYZ", "--out", o}, "--text: predict: the character 'X'", {o}},
      {{"predict", gpt, "--text", "aaaaaaaaa", "--out", o}, "--text: predict: the text has 9 characters", {o}},
      {{"predict", gpt, "--text", "", "--out", o}, "--text", {o}},
      {{"predict", gpt, "--text", "ab", "--input", ids_1d, "--out", o}, "--text", {o}},
      {{"predict", mlp, "--text", "ab", "--out", o}, "--text is for language models", {o}},
  });
  EXPECT_EQ(rows_run_, 13);
}

TEST_F(CliErrors, GeneratePrompts) {
  const std::string blank_line = path("blank.txt"), bad_char = path("bad.txt");
  write(blank_line, "the\n\nfox\n");
  write(bad_char, "the\nfoX\n");
  run_rows({
      {{"generate", gpt, "--prompts", missing}, missing},
      {{"generate", gpt, "--prompts", dir}, "--prompts"},
      {{"generate", gpt, "--prompts", empty_file}, "--prompts: '" + empty_file + "' holds no prompt"},
      {{"generate", gpt, "--prompts", blank_line}, "--prompts: line 2 of '" + blank_line + "' is empty"},
      {{"generate", gpt, "--prompts", bad_char}, "--prompts line 2: the character 'X' at position 2"},
      {{"generate", gpt, "--prompts", text, "--prompt", "the"}, "--prompt"},
  });
  EXPECT_EQ(rows_run_, 6);
}

TEST_F(CliErrors, Ntk) {
  const std::string k = path("k.npy"), plot = path("k.svg");
  auto n = [&](std::vector<std::string> args, const std::string& expected) {
    std::vector<std::string> all{"ntk", mlp, "--out", k};
    if (std::find(args.begin(), args.end(), "--data") == args.end()) all.insert(all.end(), {"--data", x});
    all.insert(all.end(), args.begin(), args.end());
    return Row{all, expected, {k, plot, path("k.eigenvalues.npy"), path("k.predictions.npy")}};
  };
  run_rows({
      {{"ntk", missing, "--out", k, "--data", x}, missing, {k}},
      {{"ntk", garbage_tgt, "--out", k, "--data", x}, garbage_tgt, {k}},
      {{"ntk", mlp, "--out", "", "--data", x}, "--out"},
      {{"ntk", mlp, "--out", dir, "--data", x}, "--out"},
      {{"ntk", mlp, "--out", missing_dir + "/k.npy", "--data", x}, "--out", {missing_dir}},
      n({"--data", ""}, "--data"),
      n({"--data", missing}, missing),
      n({"--data", scalar}, "--data"),
      n({"--data", garbage_npy}, garbage_npy),
      n({"--data", x0}, "--data"),
      n({"--data", x5}, "--data"),
      n({"--data", fifo}, "not a regular file"),
      n({"--data2", missing}, missing),
      n({"--data2", x5}, "--data2"),
      n({"--mode", "half"}, "--mode"),
      n({"--method", "magic"}, "--method"),
      n({"--eig", "-1"}, "--eig"),
      n({"--eig", "nan"}, "--eig"),
      n({"--eig", "3", "--data2", x}, "--eig"),
      n({"--tile", "-1"}, "--tile"),
      n({"--max-memory-mb", "0"}, "--max-memory-mb"),
      n({"--max-memory-mb", "99999999999999999999"}, "--max-memory-mb"),
      n({"--threads", "-2"}, "--threads"),
      n({"--seed", "-1"}, "--seed"),
      n({"--t", "nan"}, "--t"),
      n({"--t", "-1"}, "--t"),
      n({"--t", "soon"}, "--t"),
      n({"--diag-reg", "-1"}, "--diag-reg"),
      n({"--diag-reg", "inf"}, "--diag-reg"),
      n({"--plot", dir}, "--plot"),
      n({"--plot", k}, "--plot"),
      n({"--per-layer", "--analytic"}, "--per-layer"),
      n({"--regress", "npy:" + missing}, missing),
      n({"--regress", npy, "--data2", x}, "--regress"),
      n({"--regress", npy, "--mode", "diagonal"}, "--regress"),
      n({"--regress", npy}, "--regress"),  // --data x.npy has no labels
      // Fails after the kernel is written: the kernel and the plot are removed again.
      n({"--data", npy, "--regress", "npy:" + x + "," + y9, "--plot", plot}, "--regress"),
      {{"ntk", gpt, "--out", k, "--data", x, "--analytic"}, "--analytic", {k}},
  });
  EXPECT_EQ(rows_run_, 38);
}

}  // namespace
