// CSV reading and writing.
#include "nn/data/csv.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "nn/data/file_io.h"
#include "ops/factory.h"

namespace tangent::data {

namespace {

// Splits one line into fields, honouring double quotes ("a,b" is one field; "" inside quotes is a quote).
std::vector<std::string> split_fields(const std::string& line, char delim, const std::string& path, int64_t lineno) {
  std::vector<std::string> fields;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == delim) {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  TANGENT_CHECK(!quoted, "read_csv: '", path, "' line ", lineno, ": unterminated quoted field");
  fields.push_back(cur);
  return fields;
}

std::string trim(const std::string& s, char delim) {
  auto is_space = [delim](char c) { return c != delim && (c == ' ' || c == '\t'); };
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool blank(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos; }

}  // namespace

CsvTable read_csv(const std::string& path, bool has_header, char delimiter) {
  TANGENT_CHECK(delimiter != '"' && delimiter != '\n' && delimiter != '\r',
                "read_csv: the delimiter cannot be a quote or a line break");
  std::ifstream in(path);
  if (!in) TANGENT_FAIL("read_csv: cannot open '", path, "': ", std::strerror(errno));
  CsvTable table;
  std::vector<float> values;
  int64_t cols = -1, rows = 0, lineno = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (blank(line)) continue;
    std::vector<std::string> fields = split_fields(line, delimiter, path, lineno);
    if (cols < 0) {
      cols = static_cast<int64_t>(fields.size());
      if (has_header) {
        for (const std::string& f : fields) table.columns.push_back(trim(f, delimiter));
        continue;
      }
    }
    TANGENT_CHECK(static_cast<int64_t>(fields.size()) == cols, "read_csv: '", path, "' line ", lineno, " has ",
                  fields.size(), " fields but ", has_header ? "the header" : "the first row", " has ", cols);
    for (size_t j = 0; j < fields.size(); ++j) {
      const std::string f = trim(fields[j], delimiter);
      char* end = nullptr;
      errno = 0;
      const double v = f.empty() ? 0.0 : std::strtod(f.c_str(), &end);
      TANGENT_CHECK(!f.empty() && end == f.c_str() + f.size(), "read_csv: '", path, "' line ", lineno, " column ",
                    j + 1, ": '", f, "' is not a number");
      values.push_back(static_cast<float>(v));
    }
    ++rows;
  }
  TANGENT_CHECK(!in.bad(), "read_csv: reading '", path, "' failed");
  if (cols < 0) cols = 0;
  table.values = values.empty() ? empty({rows, cols}, kFloat32) : tensor(values, {rows, cols});
  return table;
}

void write_csv(const std::string& path, const Tensor& t, const std::vector<std::string>& columns, char delimiter) {
  TANGENT_CHECK(t.defined(), "write_csv: the tensor is undefined (writing '", path, "')");
  TANGENT_CHECK(t.dim() == 1 || t.dim() == 2, "write_csv: expected a 1-D or 2-D tensor, got shape ", t.shape());
  const int64_t rows = t.size(0), cols = t.dim() == 2 ? t.size(1) : 1;
  TANGENT_CHECK(columns.empty() || static_cast<int64_t>(columns.size()) == cols, "write_csv: ", columns.size(),
                " column names for a tensor of shape ", t.shape());
  const bool integral = !t.is_floating_point();
  const std::vector<double> v = integral ? std::vector<double>() : to_vector<double>(t);
  const std::vector<int64_t> vi = integral ? to_vector<int64_t>(t) : std::vector<int64_t>();
  write_atomically(path, "write_csv", [&](std::ostream& out) {
    out.precision(t.dtype() == kFloat64 ? 17 : 9);  // enough digits to read the value back exactly
    if (!columns.empty()) {
      for (size_t j = 0; j < columns.size(); ++j) {
        const std::string& c = columns[j];
        const bool quote = c.find(delimiter) != std::string::npos || c.find('"') != std::string::npos;
        if (j > 0) out << delimiter;
        if (!quote) {
          out << c;
          continue;
        }
        out << '"';
        for (char ch : c) out << (ch == '"' ? "\"\"" : std::string(1, ch));
        out << '"';
      }
      out << '\n';
    }
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        if (j > 0) out << delimiter;
        const auto k = static_cast<size_t>(i * cols + j);
        if (integral) {
          out << vi[k];
        } else {
          out << v[k];
        }
      }
      out << '\n';
    }
  });
}

}  // namespace tangent::data
