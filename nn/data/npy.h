#pragma once
// NumPy .npy files: read_npy and write_npy (format versions 1.0, 2.0 and 3.0 read; 1.0 written, or 2.0 when the
// header is too long for 1.0). Supported element types ('descr'):
//   read:  f2 f4 f8 (float16/32/64), i8 (int64), b1 (bool); i1 i2 i4 u1 u2 u4 u8 convert to int64 (u8 values
//          above INT64_MAX raise), in little-, big- or native byte order;
//   write: float32 '<f4', float64 '<f8', float16 '<f2', int64 '<i8', bool '|b1'; bfloat16 (no NumPy type) is
//          written as '<f4'.
// Fortran-ordered arrays are read (transposed into C order). Headers, sizes and file lengths are validated: a
// truncated or corrupted file raises tangent::Error naming the file and the problem.
#include <string>

#include "core/tensor.h"

namespace tangent::data {

Tensor read_npy(const std::string& path);
// Writes atomically and durably (data::write_atomically). The tensor may be on any device and of any layout.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace tangent::data
