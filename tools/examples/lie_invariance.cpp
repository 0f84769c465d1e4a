// The invariance error of a LieNet with fresh samples, against the number of samples N per layer: for each N, the
// relative error |f(u x) - f(x)| / |f(x)| of the logits (L2 over the classes), with u a 90-degree rotation of the
// input (an exact pixel permutation, so the error is the Monte Carlo error of the sampled group convolutions
// alone; the samples are NOT moved along), averaged over images and independent draws. The kernel nets do not
// depend on N, so every N uses the same weights (a fixed seed). Writes a CSV: group,N,mean,std,draws.
//
//   lie_invariance [--out lie_invariance.csv] [--channels 8] [--images 8] [--draws 4] [--checkpoint DIR/model.tgt]
// With --checkpoint, the trained model's weights (and its group and channels) are used instead of a random init.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <tangent/tangent.h>

using namespace tangent;

namespace {

Tensor rot90(const Tensor& x) {  // (L_u f)[r][c] = f[W - 1 - c][r]
  const Tensor src = x.contiguous();
  const int64_t h = x.size(-2), w = x.size(-1), planes = x.numel() / (h * w);
  Tensor out = empty_like(src);
  const float* in = src.data_ptr<float>();
  float* o = out.data_ptr<float>();
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) o[(p * h + r) * w + c] = in[(p * h + (w - 1 - c)) * w + r];
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out = "lie_invariance.csv", checkpoint;
  int64_t channels = 8, images = 8, draws = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--out")
      out = v;
    else if (k == "--channels")
      channels = std::stoll(v);
    else if (k == "--images")
      images = std::stoll(v);
    else if (k == "--draws")
      draws = std::stoll(v);
    else if (k == "--checkpoint")
      checkpoint = v;
    else {
      std::fprintf(stderr, "lie_invariance: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  try {
    nn::Checkpoint ckpt;
    if (!checkpoint.empty()) ckpt = nn::load_checkpoint(checkpoint);
    TANGENT_CHECK(checkpoint.empty() || ckpt.model_kind == "lie", "lie_invariance: ", checkpoint, " holds a '",
                  ckpt.model_kind, "' model, not a lie one");
    const data::TensorDataset test = data::load_dataset("fashion-mnist-test:" + std::to_string(images), false);
    Tensor x = test.data();
    if (x.size(-1) == 28) x = pad(x, {6, 6, 6, 6});  // centred on 40x40, as the affine benchmark's training set
    const Tensor ux = rot90(x);
    std::ostringstream csv;
    csv << "group,N,mean,std,draws\n";
    const std::vector<std::string> groups = checkpoint.empty()
                                                ? std::vector<std::string>{"sl2", "gl2"}
                                                : std::vector<std::string>{ckpt.model_config.get_string("group")};
    NoGradGuard no_grad;
    for (const std::string& group : groups) {
      for (int64_t n : {2, 3, 4, 6, 8, 12, 16, 24, 32}) {
        models::LieNetOptions o =
            checkpoint.empty() ? models::LieNetOptions{} : models::LieNetOptions::from_config(ckpt.model_config);
        o.group = group;
        o.samples = n;
        o.dropout = 0;  // training mode draws fresh samples; no dropout noise on top
        if (checkpoint.empty()) o.channels = channels;
        o.input_shape = {x.size(1), x.size(2), x.size(3)};
        manual_seed(1);
        models::LieNet net(o);
        if (!checkpoint.empty()) net.load_state_dict(ckpt.model_state, /*strict=*/false);
        net.train();
        std::vector<double> errs;
        for (int64_t d = 0; d < draws; ++d) {
          const Tensor a = net.forward(x), b = net.forward(ux);
          const Tensor num = sqrt(sum((a - b) * (a - b), {1})), den = sqrt(sum(a * a, {1}));
          for (double e : to_vector<double>((num / den).to(kFloat64))) errs.push_back(e);
        }
        double mean = 0, var = 0;
        for (double e : errs) mean += e;
        mean /= static_cast<double>(errs.size());
        for (double e : errs) var += (e - mean) * (e - mean);
        const double sd = std::sqrt(var / static_cast<double>(errs.size() - 1));
        csv << group << "," << n << "," << mean << "," << sd << "," << errs.size() << "\n";
        std::printf("%s N=%2lld: relative invariance error %.4f +- %.4f (%zu draws x images)\n", group.c_str(),
                    static_cast<long long>(n), mean, sd, errs.size());
        std::fflush(stdout);
      }
    }
    data::write_atomically(out, "lie_invariance", csv.str());
    std::printf("wrote %s\n", out.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
