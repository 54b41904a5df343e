#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>

#include "workspace.h"

namespace fastconv {

namespace {
constexpr int kMaxThreads = 256;

int64_t spin_ns_from_env() {
  constexpr int64_t kDefaultUs = 2000;
  const char* env = std::getenv("FASTCONV_SPIN_US");
  if (!env || !*env) return kDefaultUs * 1000;
  char* end = nullptr;
  const long long us = std::strtoll(env, &end, 10);
  if (end == env || *end != '\0' || us < 0) return kDefaultUs * 1000;
  return std::min<long long>(us, 1000000) * 1000;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls done() until it holds or ns nanoseconds have passed; the caller then blocks on its
// condition variable with the same predicate, which settles either case.
template <typename Done>
void spin_until(Done done, int64_t ns) {
  if (ns <= 0) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  for (int i = 0; !done(); ++i) {
    cpu_relax();
    // The clock read costs more than a poll: look at it every 64 polls.
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= deadline) return;
  }
}
}  // namespace

int default_thread_count() {
  if (const char* env = std::getenv("FASTCONV_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= kMaxThreads) return static_cast<int>(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : std::min<int>(static_cast<int>(hw), kMaxThreads);
}

ThreadPool& ThreadPool::get() {
  // Deliberately leaked: joining threads from a static destructor during process exit can hang
  // if an async call is still queued; the OS reclaims the threads.
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

ThreadPool::ThreadPool() : spin_ns_(spin_ns_from_env()) { set_threads(default_thread_count()); }

void ThreadPool::set_threads(int n) {
  n = std::max(1, std::min(n, kMaxThreads));
  const int have = static_cast<int>(workers_.size()) + 1;
  if (n > have) {
    resize_scratch_slots(n);
    // New workers start from the current generation: a finished run's (dangling) task is never resumed.
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(m_);
      gen = generation_.load();
    }
    for (int slot = have; slot < n; ++slot) workers_.emplace_back(&ThreadPool::worker, this, slot, gen);
  }
  threads_.store(n);
}

void ThreadPool::worker(int slot, uint64_t seen) {
  for (;;) {
    const Task* fn;
    int64_t tasks;
    std::atomic<int64_t>* next;
    // A parked worker (slot >= threads()) sleeps at once: no run will ask for it until it is unparked.
    if (slot < threads())
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, spin_ns_);
    {
      std::unique_lock<std::mutex> lock(m_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (slot >= active_) continue;
      fn = fn_;
      tasks = tasks_;
      next = next_;
    }
    for (int64_t t; (t = next->fetch_add(1)) < tasks;) (*fn)(t, slot);
    // The last one out wakes the caller if it stopped spinning; the lock orders the notify after
    // the caller's check of pending_ (run() waits with that check as the predicate, under m_).
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(m_);
      done_.notify_one();
    }
  }
}

void ThreadPool::run(int64_t tasks, int max_threads, const Task& fn) {
  if (tasks <= 0) return;
  const int active = static_cast<int>(
      std::min<int64_t>({tasks, int64_t(threads()), int64_t(std::max(1, max_threads))}));
  if (active == 1) {
    for (int64_t t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  {
    std::lock_guard<std::mutex> lock(m_);
    fn_ = &fn;
    tasks_ = tasks;
    next_ = &next;
    active_ = active;
    pending_.store(active - 1);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();  // no system call when every worker is still spinning
  for (int64_t t; (t = next.fetch_add(1)) < tasks;) fn(t, 0);
  spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, spin_ns_);
  std::unique_lock<std::mutex> lock(m_);
  done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  fn_ = nullptr;
  next_ = nullptr;
  active_ = 0;
}

void ThreadPool::run_guided(int64_t tasks, int max_threads, const LookaheadTask& fn) {
  const int threads = std::max(1, std::min(max_threads, this->threads()));
  if (threads > 1 && tasks < 4 * int64_t(threads)) {
    run(tasks, threads, [&](int64_t t, int slot) { fn(t, slot, tasks); });
    return;
  }
  std::atomic<int64_t> claim{0};
  auto grab = [&](int64_t* lo, int64_t* hi) {
    int64_t cur = claim.load(std::memory_order_relaxed);
    for (;;) {
      if (cur >= tasks) return false;
      const int64_t n = std::max<int64_t>(1, (tasks - cur) / (2 * int64_t(threads)));
      if (claim.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) {
        *lo = cur, *hi = cur + n;
        return true;
      }
    }
  };
  run(threads, threads, [&](int64_t, int slot) {
    int64_t lo, hi;
    if (!grab(&lo, &hi)) return;
    for (int64_t t = lo;;) {
      int64_t next = t + 1;
      if (next == hi) {
        if (!grab(&lo, &hi)) lo = hi = tasks;
        next = lo;
      }
      fn(t, slot, next);
      if (next >= tasks) break;
      t = next;
    }
  });
}

}  // namespace fastconv
