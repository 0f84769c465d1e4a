// The fused cross-entropy over class indices (Primitive::CrossEntropy): the forward is one log_softmax plus one
// pass picking the target's log-probability; the backward one pass over the saved log-probabilities.
#include <cmath>

#include "ops/cpu/cpu_backend.h"

namespace tangent::cpu {

namespace {

template <typename T>
void forward(const Tensor& logits, const Tensor& target, int64_t ignore_index, bool mean, bool reduce,
             const Tensor& log_probs, const Tensor& weight, const Tensor& loss) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const int64_t* tp = target.data_ptr<int64_t>();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = tp[i];
    if (v == ignore_index) continue;
    TANGENT_CHECK(v >= 0 && v < c, "cross_entropy: a target class is out of range [0, ", c, ") for input ",
                  logits.shape(), " (target ", i, " is ", v, ")");
    ++count;
  }
  const T scale = mean ? T(1) / static_cast<T>(count > 0 ? count : 1) : T(1);
  T* wp = weight.data_ptr<T>();
  for (int64_t i = 0; i < n; ++i) wp[i] = tp[i] == ignore_index ? T(0) : scale;
  const T* L = log_probs.data_ptr<T>();
  T* op = loss.data_ptr<T>();
  if (!reduce) {
    for (int64_t i = 0; i < n; ++i) op[i] = tp[i] == ignore_index ? T(0) : -L[i * c + tp[i]];
    return;
  }
  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    if (tp[i] != ignore_index) total -= static_cast<double>(L[i * c + tp[i]]);
  *op = static_cast<T>(total) * scale;
}

template <typename T>
void backward(const Tensor& log_probs, const Tensor& target, int64_t ignore_index, const Tensor& grad_row,
              const Tensor& grad_logits) {
  const int64_t rows = log_probs.size(0), c = log_probs.size(1);
  const T* L = log_probs.data_ptr<T>();
  const T* G = grad_row.data_ptr<T>();
  const int64_t* S = target.data_ptr<int64_t>();
  T* D = grad_logits.data_ptr<T>();
  for (int64_t i = 0; i < rows; ++i) {
    const T gi = G[i];
    T* d = D + i * c;
    const T* l = L + i * c;
    for (int64_t j = 0; j < c; ++j) d[j] = std::exp(l[j]) * gi;
    if (S[i] != ignore_index) d[S[i]] = (std::exp(l[S[i]]) - T(1)) * gi;
  }
}

}  // namespace

void CpuBackend::cross_entropy_forward(const Tensor& logits, const Tensor& target, int64_t ignore_index, bool mean,
                                       bool reduce, const Tensor& log_probs, const Tensor& weight, const Tensor& loss) {
  softmax(logits, 1, /*log=*/true, log_probs);
  if (logits.dtype() == kFloat32)
    forward<float>(logits, target, ignore_index, mean, reduce, log_probs, weight, loss);
  else
    forward<double>(logits, target, ignore_index, mean, reduce, log_probs, weight, loss);
}

void CpuBackend::cross_entropy_backward(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                                        const Tensor& grad_row, const Tensor& grad_logits) {
  if (log_probs.dtype() == kFloat32)
    backward<float>(log_probs, target, ignore_index, grad_row, grad_logits);
  else
    backward<double>(log_probs, target, ignore_index, grad_row, grad_logits);
}

}  // namespace tangent::cpu
