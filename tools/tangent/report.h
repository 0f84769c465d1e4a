#pragma once
// Terminal and file output of the CLI: a progress bar, metrics.csv and SVG line plots.
#include <string>
#include <vector>

#include "nn/trainer.h"

namespace tangent::cli {

// A one-line progress bar on stderr, redrawn at most ~10 times a second:
//   epoch 2/5 [=========>          ] 469/938  loss 0.3121  acc 88.7%  5210 ex/s  ETA 0:45
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t batch_size);
  void update(int64_t done, int64_t total, double loss, double accuracy);
  void finish();

 private:
  std::string label_;
  int64_t batch_size_;
  double start_, last_draw_ = -1.0;
};

void write_metrics_csv(const std::string& path, const std::vector<nn::EpochMetrics>& history);

struct Series {
  std::string name;
  std::vector<double> x, y;
};
// A line chart as a standalone SVG (one panel).
std::string svg_line_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                           const std::vector<Series>& series);
// Two panels side by side: loss and accuracy per epoch, train and test.
void write_curves_svg(const std::string& path, const std::vector<nn::EpochMetrics>& history);

}  // namespace tangent::cli
