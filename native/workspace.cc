#include "workspace.h"

#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace fastconv {

namespace {

constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kCacheLine = 64;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

struct SlotBuffers {
  Buffer b[static_cast<int>(Scratch::kCount)];
};

std::vector<std::unique_ptr<SlotBuffers>>& slots() {
  static std::vector<std::unique_ptr<SlotBuffers>> s;
  return s;
}

Buffer* shared_buffers() {
  static Buffer b[static_cast<int>(Shared::kCount)];
  return b;
}

}  // namespace

Buffer::~Buffer() { release(); }

void Buffer::release() {
  std::free(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

float* Buffer::grow(size_t floats) {
  if (floats == 0) floats = 1;
  if (floats > (SIZE_MAX - kHugePage) / sizeof(float)) throw std::bad_alloc();
  const size_t need = floats * sizeof(float);
  if (need <= bytes_) return static_cast<float*>(ptr_);
  release();
  const bool huge = need >= kHugePage;
  const size_t align = huge ? kHugePage : kCacheLine;
  // Grow with headroom so that slowly increasing sizes do not reallocate on every call.
  const size_t bytes = round_up(need + need / 8, align);
  void* p = std::aligned_alloc(align, bytes);
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // advisory: failure only costs speed
#endif
  ptr_ = p;
  bytes_ = bytes;
  return static_cast<float*>(p);
}

float* scratch(int slot, Scratch which, size_t floats) {
  auto& s = slots();
  if (slot >= static_cast<int>(s.size())) resize_scratch_slots(slot + 1);
  return s[slot]->b[static_cast<int>(which)].grow(floats);
}

float* shared_scratch(Shared which, size_t floats) {
  return shared_buffers()[static_cast<int>(which)].grow(floats);
}

void resize_scratch_slots(int n) {
  auto& s = slots();
  while (static_cast<int>(s.size()) < n) s.push_back(std::make_unique<SlotBuffers>());
  while (static_cast<int>(s.size()) > n) s.pop_back();
}

void release_all_scratch() {
  slots().clear();
  for (int i = 0; i < static_cast<int>(Shared::kCount); ++i) shared_buffers()[i].release();
}

}  // namespace fastconv
