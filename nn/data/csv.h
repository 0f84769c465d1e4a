#pragma once
// CSV files of numbers: read_csv into a float32 [rows, cols] tensor (with the header's column names), and
// write_csv. Errors name the file and the line (ragged rows, fields that are not numbers).
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tangent::data {

struct CsvTable {
  Tensor values;                     // float32 [rows, cols]
  std::vector<std::string> columns;  // from the header line; empty when has_header is false
};

// Fields are numbers as strtod reads them ("1", "-2.5e3", "nan", "inf"), optionally surrounded by spaces or
// double quotes. Blank lines are skipped; "\r\n" line ends are accepted. Every row must have as many fields as
// the first line (the header, when has_header).
CsvTable read_csv(const std::string& path, bool has_header = true, char delimiter = ',');

// Writes a 1-D or 2-D tensor (a 1-D one as a single column) with an optional header, atomically. Values are
// written with enough digits to read back exactly.
void write_csv(const std::string& path, const Tensor& t, const std::vector<std::string>& columns = {},
               char delimiter = ',');

}  // namespace tangent::data
