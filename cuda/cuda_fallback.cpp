// tangent::cuda queries for builds without CUDA support: no device is ever available. CMake compiles this file
// instead of the real backend when TANGENT_CUDA is OFF or no CUDA toolkit was found.
#include "cuda/cuda.h"

namespace tangent::cuda {

bool is_available() { return false; }
int device_count() { return 0; }
void synchronize() {}
void empty_cache() {}

}  // namespace tangent::cuda
