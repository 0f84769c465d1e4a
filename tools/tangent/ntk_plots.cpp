// Kernel heatmaps and spectra as SVG (see tools/tangent/ntk_plots.h).
#include "tools/tangent/ntk_plots.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <sstream>

#include "nn/data/file_io.h"
#include "tools/tangent/report.h"

namespace tangent::cli {

namespace {

constexpr int kLevels = 32;

// A perceptual dark-blue -> teal -> yellow ramp (viridis-like), t in [0, 1].
std::string ramp(double t) {
  static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(static_cast<int>(t), 3);
  const double f = t - i;
  std::ostringstream os;
  os << '#' << std::hex << std::setfill('0');
  for (int c = 0; c < 3; ++c)
    os << std::setw(2) << static_cast<int>(std::lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c])));
  return os.str();
}

std::string strip_svg(const std::string& svg) {
  const auto a = svg.find('>') + 1;
  const auto b = svg.rfind("</svg>");
  return svg.substr(a, b - a);
}

}  // namespace

std::string svg_heatmap(const std::string& title, const std::vector<double>& values, int64_t rows, int64_t cols,
                        int64_t max_cells, double width) {
  // Block averages: cell (r, c) covers rows [r * rows / nr, (r + 1) * rows / nr).
  const int64_t nr = std::max<int64_t>(1, std::min(rows, max_cells));
  const int64_t nc = std::max<int64_t>(1, std::min(cols, max_cells));
  std::vector<double> cell(static_cast<size_t>(nr * nc), 0.0);
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t c = 0; c < nc; ++c) {
      const int64_t r0 = r * rows / nr, r1 = std::max(r0 + 1, (r + 1) * rows / nr);
      const int64_t c0 = c * cols / nc, c1 = std::max(c0 + 1, (c + 1) * cols / nc);
      double s = 0;
      int64_t count = 0;
      for (int64_t i = r0; i < r1 && i < rows; ++i)
        for (int64_t j = c0; j < c1 && j < cols; ++j)
          if (std::isfinite(values[i * cols + j])) s += values[i * cols + j], ++count;
      const double v = count > 0 ? s / count : NAN;
      cell[r * nc + c] = v;
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi == lo) hi = lo + 1;
  // One path per colour level; a horizontal run of cells of equal level becomes one stroke of width 1.
  std::vector<std::ostringstream> paths(kLevels);
  for (int64_t r = 0; r < nr; ++r) {
    int64_t c = 0;
    while (c < nc) {
      const double v = cell[r * nc + c];
      const int level = std::isfinite(v) ? std::min(kLevels - 1, static_cast<int>((v - lo) / (hi - lo) * kLevels)) : -1;
      int64_t end = c + 1;
      while (end < nc) {
        const double w = cell[r * nc + end];
        const int l2 = std::isfinite(w) ? std::min(kLevels - 1, static_cast<int>((w - lo) / (hi - lo) * kLevels)) : -1;
        if (l2 != level) break;
        ++end;
      }
      if (level >= 0) paths[level] << 'M' << c << ' ' << r << ".5h" << end - c;  // a 1-unit-wide stroke
      c = end;
    }
  }
  // Square cells, the longer side spanning `width`.
  const double cellsize = width / static_cast<double>(std::max(nr, nc));
  const double top = 30, left = 10, bar = 16, h = cellsize * static_cast<double>(nr);
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << left + width + 80 << "' height='" << top + h + 20
     << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
     << "<text x='" << left + width / 2 << "' y='20' text-anchor='middle' font-size='14'>" << title << "</text>\n"
     << "<g transform='translate(" << left << ',' << top << ") scale(" << cellsize
     << ")' fill='none' stroke-width='1' shape-rendering='crispEdges'>\n";
  for (int l = 0; l < kLevels; ++l) {
    const std::string d = paths[l].str();
    if (!d.empty()) os << "<path stroke='" << ramp((l + 0.5) / kLevels) << "' d='" << d << "'/>\n";
  }
  os << "</g>\n";
  // Colour bar with its range.
  const double bx = left + cellsize * static_cast<double>(nc) + 10;
  for (int l = 0; l < kLevels; ++l)
    os << "<rect x='" << bx << "' y='" << top + h * (kLevels - 1 - l) / kLevels << "' width='" << bar << "' height='"
       << h / kLevels + 0.5 << "' fill='" << ramp((l + 0.5) / kLevels) << "'/>\n";
  os << std::setprecision(3) << "<text x='" << bx + bar + 3 << "' y='" << top + 10 << "'>" << hi << "</text>\n"
     << "<text x='" << bx + bar + 3 << "' y='" << top + h << "'>" << lo << "</text>\n</svg>\n";
  return os.str();
}

void write_ntk_svg(const std::string& path, const std::string& title, const std::vector<double>& values, int64_t rows,
                   int64_t cols, const std::vector<double>& eigenvalues) {
  const std::string heat = svg_heatmap(title, values, rows, cols);
  std::ostringstream os;
  if (eigenvalues.empty()) {
    os << heat;
  } else {
    std::vector<double> ev = eigenvalues;
    std::sort(ev.begin(), ev.end(), std::greater<double>());
    Series s{"eigenvalues", {}, {}};
    for (size_t i = 0; i < ev.size(); ++i)
      if (ev[i] > 0) s.x.push_back(static_cast<double>(i + 1)), s.y.push_back(std::log10(ev[i]));
    const std::string spec = svg_line_chart("Spectrum", "index (descending)", "log10 eigenvalue", {s});
    os << "<svg xmlns='http://www.w3.org/2000/svg' width='1020' height='520' font-family='sans-serif'>\n"
       << "<rect width='100%' height='100%' fill='white'/>\n<g>" << strip_svg(heat) << "</g>\n"
       << "<g transform='translate(530,60)'>" << strip_svg(spec) << "</g>\n</svg>\n";
  }
  data::write_atomically(path, "ntk", os.str());
}

}  // namespace tangent::cli
