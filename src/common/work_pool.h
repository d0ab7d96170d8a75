// WorkPool: a fixed set of threads that run posted tasks, for blocking work that must not
// run on gRPC's few callback threads (applying deltas, reading state for a peer). A
// boost::asio::thread_pool that, unlike asio's own destructor, runs every task posted
// before its destruction.
//
// Thread safety: Post may be called from any thread, also from a task. The destructor runs
// every task posted before it (tasks may post more meanwhile), then joins the threads.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <functional>

namespace geodatastore {

class WorkPool {
 public:
  explicit WorkPool(size_t threads) : pool_(threads) {}
  // join() lets the threads finish the queued work (and what it posts), then returns.
  ~WorkPool() { pool_.join(); }
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void Post(std::function<void()> task) { boost::asio::post(pool_, std::move(task)); }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace geodatastore
