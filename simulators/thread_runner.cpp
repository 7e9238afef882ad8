#include "simulators/thread_runner.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "core/parallel.h"

namespace labloop::simulators {

void RunOnThreads(const Simulator& simulator, const std::vector<Task>& tasks, int threads,
                  const std::function<bool(TaskResult)>& on_result,
                  const std::function<bool(const Task&)>& on_start) {
  if (tasks.empty()) return;
  if (threads <= 0) threads = DefaultThreadCount();
  threads = std::min<int>(threads, static_cast<int>(tasks.size()));

  // The calling thread hands tasks out one at a time (`handed`), at most `threads` in flight;
  // workers take them, run them and queue their results (`finished`) for the calling thread.
  std::mutex mutex;
  std::condition_variable work, ready;
  std::deque<size_t> handed;
  std::deque<TaskResult> finished;
  bool closing = false;  // no more tasks will be handed out

  auto worker = [&] {
    for (;;) {
      size_t i = 0;
      {
        std::unique_lock<std::mutex> lock(mutex);
        work.wait(lock, [&] { return !handed.empty() || closing; });
        if (handed.empty()) return;
        i = handed.front();
        handed.pop_front();
      }
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
  };

  // Workers reference this frame: whatever happens below, they are told to finish (tasks
  // already handed out still run) and joined first.
  std::vector<std::thread> pool;
  struct Joiner {
    std::vector<std::thread>& pool;
    std::mutex& mutex;
    std::condition_variable& work;
    bool& closing;
    ~Joiner() {
      {
        std::lock_guard<std::mutex> lock(mutex);
        closing = true;
      }
      work.notify_all();
      for (auto& thread : pool) {
        if (thread.joinable()) thread.join();
      }
    }
  } joiner{pool, mutex, work, closing};
  std::exception_ptr failure;
  bool stop = false;
  try {
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  } catch (...) {
    failure = std::current_exception();
    stop = true;
  }
  size_t next = 0;
  int in_flight = 0;  // handed out, result not yet taken
  for (;;) {
    while (!stop && !pool.empty() && next < tasks.size() &&
           in_flight < static_cast<int>(pool.size())) {
      try {
        if (on_start && !on_start(tasks[next])) {
          stop = true;
          break;
        }
      } catch (...) {
        failure = std::current_exception();
        stop = true;
        break;
      }
      std::lock_guard<std::mutex> lock(mutex);
      handed.push_back(next++);
      ++in_flight;
      work.notify_one();
    }
    if (in_flight == 0) break;
    std::unique_lock<std::mutex> lock(mutex);
    ready.wait(lock, [&] { return !finished.empty(); });
    TaskResult result = std::move(finished.front());
    finished.pop_front();
    --in_flight;
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
