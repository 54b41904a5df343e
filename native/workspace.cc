#include "workspace.h"

#include <cstdint>
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
#if defined(__linux__)
  if (mapped_) {
    munmap(ptr_, bytes_);
    ptr_ = nullptr;
    bytes_ = 0;
    mapped_ = false;
    return;
  }
#endif
  std::free(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

namespace {

#if defined(__linux__)
// `bytes` (a multiple of 2 MiB) at a 2 MiB boundary, straight from the kernel: freeing it returns the
// pages at once. Through malloc, the first large free raises glibc's mmap threshold and later large
// buffers come from the heap, where a layer's freed filters can stay resident.
void* map_huge(size_t bytes) {
  const size_t span = bytes + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t(kHugePage) - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const size_t tail = start + span - (aligned + bytes);
  if (tail) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
#if defined(MADV_HUGEPAGE)
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // advisory: failure only costs speed
#endif
  return reinterpret_cast<void*>(aligned);
}
#endif

}  // namespace

float* Buffer::grow(size_t floats) {
  if (floats == 0) floats = 1;
  if (floats > (SIZE_MAX / 2) / sizeof(float))
    throw std::bad_alloc();  // headroom and rounding stay exact
  const size_t need = floats * sizeof(float);
  if (need <= bytes_) return static_cast<float*>(ptr_);
  release();
  const bool huge = need >= kHugePage;
  const size_t align = huge ? kHugePage : kCacheLine;
  // Grow with headroom so that slowly increasing sizes do not reallocate on every call.
  const size_t bytes = round_up(need + need / 8, align);
#if defined(__linux__)
  if (huge) {
    void* p = map_huge(bytes);
    if (!p) throw std::bad_alloc();
    ptr_ = p;
    bytes_ = bytes;
    mapped_ = true;
    return static_cast<float*>(p);
  }
#endif
  void* p = std::aligned_alloc(align, bytes);
  if (!p) throw std::bad_alloc();
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
