#pragma once
// Public queries about the CUDA backend. They compile and answer in every build: without CUDA support
// (cuda/cuda_fallback.cpp) is_available() is false and device_count() is 0.
namespace tangent::cuda {

// True when Tangent was built with CUDA and at least one GPU (with a working driver) is visible.
bool is_available();
// The number of visible GPUs (0 without CUDA support, without a driver, or without a device).
int device_count();
// Waits for all work queued on the current GPU (no-op without CUDA).
void synchronize();
// Returns the caching allocator's unused blocks to the driver (no-op without CUDA).
void empty_cache();

}  // namespace tangent::cuda
