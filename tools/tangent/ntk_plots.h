#pragma once
// SVG plots of a kernel for `tangent ntk` (tools/tangent/ntk_plots.cpp): a heatmap of the [N1, N2] matrix next to
// its eigen-spectrum on a log scale.
#include <cstdint>
#include <string>
#include <vector>

namespace tangent::cli {

// A heatmap of the row-major [rows, cols] matrix, block-averaged down to at most max_cells x max_cells cells,
// one <path> per colour level (~300 kB at most). Standalone SVG, width x width pixels (plus labels).
std::string svg_heatmap(const std::string& title, const std::vector<double>& values, int64_t rows, int64_t cols,
                        int64_t max_cells = 160, double width = 440);

// The heatmap and, when eigenvalues are given (any order), log10 of the positive eigenvalues in descending order
// (svg_line_chart), side by side; written atomically to `path`.
void write_ntk_svg(const std::string& path, const std::string& title, const std::vector<double>& values, int64_t rows,
                   int64_t cols, const std::vector<double>& eigenvalues);

}  // namespace tangent::cli
