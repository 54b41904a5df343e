// Reusable scratch memory. Convolutions reuse these buffers across calls so that a steady stream
// of calls causes no page faults (with 4 KiB pages a fresh big buffer pays its faults on every
// call, a cost measured in bench/README.md).
#pragma once

#include <cstddef>

namespace fastconv {

// A growable, 64-byte aligned buffer; buffers of 2 MiB or more are 2 MiB aligned and advised
// for transparent huge pages. Contents are unspecified after grow().
class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Returns storage for at least `floats` floats; throws std::bad_alloc on failure.
  float* grow(size_t floats);
  void release();

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  bool mapped_ = false;  // from mmap (2 MiB and up, Linux), else from aligned_alloc
};

// One set of buffers per pool slot (slot 0 = the calling thread) plus shared ones. Only used while
// the pool's execution lock is held, so no two convolutions touch them at once.
enum class Scratch : int { kPackedB = 0, kEdgeB, kTileC, kPlane, kCount };
enum class Shared : int { kPackedA = 0, kPaddedInput, kGradWeightTile, kCount };

float* scratch(int slot, Scratch which, size_t floats);
float* shared_scratch(Shared which, size_t floats);
void resize_scratch_slots(int slots);
void release_all_scratch();

}  // namespace fastconv
