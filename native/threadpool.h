// A persistent pool of std::threads. One convolution at a time owns it: callers (the JS thread and
// any number of async workers) take exec_mutex() for the whole call, which also guards the scratch
// buffers, so concurrent calls queue instead of racing.
//
// Idle workers, and the caller waiting for them, spin for a while before they block: on a VM a
// futex wake of a halted vCPU costs a visible share of a 2-thread layer (bench/README.md,
// measurements), paid twice per call (start and finish). A network's layers come back to back, so the next call usually finds
// the workers still spinning. FASTCONV_SPIN_US sets the spin (default 2000, 0 blocks at once).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fastconv {

class ThreadPool {
 public:
  using Task = std::function<void(int64_t task, int slot)>;

  static ThreadPool& get();

  std::mutex& exec_mutex() { return exec_mutex_; }
  // Readable from any thread (explain() asks without the lock); changed only under exec_mutex().
  int threads() const { return threads_.load(std::memory_order_relaxed); }
  // Both require exec_mutex() to be held. Shrinking parks the surplus workers (asleep, their scratch
  // kept) instead of joining them: switching between thread counts, as a benchmark interleaving 1-
  // and 2-thread runs does, then costs nothing (restarting the pool made the next 2-thread L6 calls
  // ~10 % slower).
  void set_threads(int n);
  // Runs fn(t, slot) for every t in [0, tasks) on at most max_threads threads (slot 0 is the
  // caller, slots are < threads()). Tasks must not throw and must not call run() again.
  void run(int64_t tasks, int max_threads, const Task& fn);
  // The same under guided self-scheduling: each claim takes a run of consecutive tasks, a
  // 2*threads-th of those left (at least one), and a slot claims its next run before it starts the
  // last task of the current one, so fn(t, slot, next) knows the task it runs next (>= tasks: none)
  // and can prefetch for it; neighbouring tasks stay on one slot, and the last claims, single tasks,
  // even out the finish. With fewer than 4 tasks per thread, claiming ahead could leave a slot
  // idle: those run in run()'s first-come order, with next = tasks.
  using LookaheadTask = std::function<void(int64_t task, int slot, int64_t next)>;
  void run_guided(int64_t tasks, int max_threads, const LookaheadTask& fn);

 private:
  ThreadPool();
  void worker(int slot, uint64_t seen);

  std::mutex exec_mutex_;
  std::atomic<int> threads_{1};

  std::mutex m_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  // Written under m_; read without it only by the spin loops, which then take m_ to read the job.
  std::atomic<uint64_t> generation_{0};
  const Task* fn_ = nullptr;
  int64_t tasks_ = 0;
  int active_ = 0;
  std::atomic<int> pending_{0};  // workers of the current run still working
  std::atomic<int64_t>* next_ = nullptr;
  int64_t spin_ns_ = 0;
};

int default_thread_count();

}  // namespace fastconv
