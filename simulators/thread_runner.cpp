#include "simulators/thread_runner.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "core/parallel.h"

namespace labloop::simulators {

void RunOnThreads(const Simulator& simulator, const std::vector<Task>& tasks, int threads,
                  const std::function<bool(TaskResult)>& on_result) {
  if (tasks.empty()) return;
  if (threads <= 0) threads = DefaultThreadCount();
  threads = std::min<int>(threads, static_cast<int>(tasks.size()));

  std::mutex mutex;
  std::condition_variable ready;
  std::deque<TaskResult> finished;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  int running_workers = 0;  // set under the lock once the workers exist

  auto worker = [&] {
    for (size_t i = next++; i < tasks.size() && !stop; i = next++) {
      TaskResult result{tasks[i].id, MakeError(ErrorCode::kInternal, "not run")};
      try {
        result.summary = simulator.Run(tasks[i].smiles);
      } catch (const std::exception& e) {
        result.summary = MakeError(ErrorCode::kInternal,
                                   std::string("simulator threw an exception: ") + e.what());
      }
      std::lock_guard<std::mutex> lock(mutex);
      finished.push_back(std::move(result));
      ready.notify_one();
    }
    std::lock_guard<std::mutex> lock(mutex);
    --running_workers;
    ready.notify_one();
  };

  // Workers reference this frame: whatever happens below, they are stopped and joined first.
  std::vector<std::thread> pool;
  struct Joiner {
    std::vector<std::thread>& pool;
    std::atomic<bool>& stop;
    ~Joiner() {
      stop = true;
      for (auto& thread : pool) {
        if (thread.joinable()) thread.join();
      }
    }
  } joiner{pool, stop};
  std::exception_ptr failure;
  {
    std::lock_guard<std::mutex> lock(mutex);
    try {
      for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    } catch (...) {
      failure = std::current_exception();
      stop = true;
    }
    running_workers = static_cast<int>(pool.size());
  }
  for (;;) {
    std::unique_lock<std::mutex> lock(mutex);
    ready.wait(lock, [&] { return !finished.empty() || running_workers == 0; });
    if (finished.empty() && running_workers == 0) break;
    TaskResult result = std::move(finished.front());
    finished.pop_front();
    lock.unlock();
    if (stop) continue;
    try {
      if (!on_result(std::move(result))) stop = true;
    } catch (...) {
      if (!failure) failure = std::current_exception();
      stop = true;
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace labloop::simulators
