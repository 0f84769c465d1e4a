#include "tools/tangent/report.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "nn/data/file_io.h"

namespace tangent::cli {

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
std::string clock_str(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t batch_size)
    : label_(std::move(label)), batch_size_(batch_size), start_(now()) {}

void ProgressBar::update(int64_t done, int64_t total, double loss, double accuracy) {
  const double t = now();
  const bool tty = isatty(STDERR_FILENO);
  // Redraw ~10x a second on a terminal; in logs, print every ~10% only.
  if (tty ? (t - last_draw_ < 0.1 && done < total) : (done % std::max<int64_t>(total / 10, 1) != 0 && done < total))
    return;
  last_draw_ = t;
  const double elapsed = t - start_;
  const double rate = elapsed > 0 ? static_cast<double>(done * batch_size_) / elapsed : 0.0;
  const double eta = done > 0 ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * done / std::max<int64_t>(total, 1));
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(static_cast<size_t>(kWidth - filled - 1), ' ');
  std::fprintf(stderr, "%s%s [%s] %lld/%lld  loss %.4f  acc %.1f%%  %.0f ex/s  ETA %s%s", tty ? "\r" : "",
               label_.c_str(), bar.c_str(), static_cast<long long>(done), static_cast<long long>(total), loss,
               100.0 * accuracy, rate, clock_str(eta).c_str(), tty ? "\033[K" : "\n");
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
}

void write_metrics_csv(const std::string& path, const std::vector<nn::EpochMetrics>& history) {
  std::ostringstream os;
  os << "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,examples_per_second,lr\n";
  for (const auto& m : history)
    os << m.epoch << ',' << m.train_loss << ',' << m.train_accuracy << ',' << m.test_loss << ',' << m.test_accuracy
       << ',' << m.seconds << ',' << m.examples_per_second << ',' << m.lr << '\n';
  data::write_atomically(path, "train", os.str());
}

std::string svg_line_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                           const std::vector<Series>& series) {
  constexpr double W = 480, H = 320, L = 60, R = 20, T = 36, B = 48;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' "
     << "font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
     << "<text x='" << W / 2 << "' y='20' text-anchor='middle' font-size='14'>" << title << "</text>\n"
     << "<line x1='" << L << "' y1='" << H - B << "' x2='" << W - R << "' y2='" << H - B << "' stroke='black'/>\n"
     << "<line x1='" << L << "' y1='" << T << "' x2='" << L << "' y2='" << H - B << "' stroke='black'/>\n";
  for (int i = 0; i <= 4; ++i) {  // ticks
    const double yv = y0 + (y1 - y0) * i / 4.0, xv = x0 + (x1 - x0) * i / 4.0;
    os << "<text x='" << L - 4 << "' y='" << py(yv) + 4 << "' text-anchor='end'>" << std::setprecision(3) << yv
       << "</text>\n<line x1='" << L << "' y1='" << py(yv) << "' x2='" << W - R << "' y2='" << py(yv)
       << "' stroke='#ddd'/>\n<text x='" << px(xv) << "' y='" << H - B + 14 << "' text-anchor='middle'>" << xv
       << "</text>\n";
  }
  os << "<text x='" << (L + W - R) / 2 << "' y='" << H - 10 << "' text-anchor='middle'>" << xlabel << "</text>\n"
     << "<text x='14' y='" << (T + H - B) / 2 << "' text-anchor='middle' transform='rotate(-90 14 " << (T + H - B) / 2
     << ")'>" << ylabel << "</text>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    std::ostringstream pts;
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) pts << px(s.x[i]) << ',' << py(s.y[i]) << ' ';
    const char* c = colors[k % 4];
    os << "<polyline fill='none' stroke='" << c << "' stroke-width='2' points='" << pts.str() << "'/>\n";
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i]))
        os << "<circle cx='" << px(s.x[i]) << "' cy='" << py(s.y[i]) << "' r='3' fill='" << c << "'/>\n";
    os << "<text x='" << W - R - 90 << "' y='" << T + 14 * (k + 1) << "' fill='" << c << "'>" << s.name << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

void write_curves_svg(const std::string& path, const std::vector<nn::EpochMetrics>& history) {
  Series tl{"train", {}, {}}, vl{"test", {}, {}}, ta{"train", {}, {}}, va{"test", {}, {}};
  for (const auto& m : history) {
    const double e = static_cast<double>(m.epoch);
    tl.x.push_back(e), tl.y.push_back(m.train_loss);
    vl.x.push_back(e), vl.y.push_back(m.test_loss);
    ta.x.push_back(e), ta.y.push_back(100.0 * m.train_accuracy);
    va.x.push_back(e), va.y.push_back(100.0 * m.test_accuracy);
  }
  const std::string loss = svg_line_chart("Loss", "epoch", "cross-entropy", {tl, vl});
  const std::string acc = svg_line_chart("Accuracy", "epoch", "accuracy (%)", {ta, va});
  // Place the two charts side by side inside one SVG.
  auto strip = [](const std::string& svg) {
    const auto a = svg.find('>') + 1;
    const auto b = svg.rfind("</svg>");
    return svg.substr(a, b - a);
  };
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='960' height='320'>\n<g>" << strip(loss)
     << "</g>\n<g transform='translate(480,0)'>" << strip(acc) << "</g>\n</svg>\n";
  data::write_atomically(path, "train", os.str());
}

}  // namespace tangent::cli
