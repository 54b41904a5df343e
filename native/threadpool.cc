#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "workspace.h"

namespace fastconv {

namespace {
constexpr int kMaxThreads = 256;
}

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

ThreadPool::ThreadPool() { start(default_thread_count()); }

void ThreadPool::start(int n) {
  n = std::max(1, std::min(n, kMaxThreads));
  threads_ = n;
  stopping_ = false;
  resize_scratch_slots(n);
  // Workers start from the current generation: a finished run's (dangling) task is never resumed.
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lock(m_);
    gen = generation_;
  }
  for (int slot = 1; slot < n; ++slot) workers_.emplace_back(&ThreadPool::worker, this, slot, gen);
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::set_threads(int n) {
  if (n == threads_) return;
  stop();
  start(n);
}

void ThreadPool::worker(int slot, uint64_t seen) {
  for (;;) {
    const Task* fn;
    int64_t tasks;
    std::atomic<int64_t>* next;
    {
      std::unique_lock<std::mutex> lock(m_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (slot >= active_) continue;
      fn = fn_;
      tasks = tasks_;
      next = next_;
    }
    for (int64_t t; (t = next->fetch_add(1)) < tasks;) (*fn)(t, slot);
    {
      std::lock_guard<std::mutex> lock(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::run(int64_t tasks, int max_threads, const Task& fn) {
  if (tasks <= 0) return;
  const int active = static_cast<int>(std::min<int64_t>({tasks, int64_t(threads_), int64_t(std::max(1, max_threads))}));
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
    pending_ = active - 1;
    ++generation_;
  }
  wake_.notify_all();
  for (int64_t t; (t = next.fetch_add(1)) < tasks;) fn(t, 0);
  std::unique_lock<std::mutex> lock(m_);
  done_.wait(lock, [&] { return pending_ == 0; });
  fn_ = nullptr;
  next_ = nullptr;
  active_ = 0;
}

}  // namespace fastconv
