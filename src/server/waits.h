// Waits: requests parked until a condition holds — the writes a session token covers
// applied here, a write acknowledged by enough replicas, enough replicas answering a read —
// without holding a thread each. One thread polls the parked conditions (every millisecond
// while any is parked) and hands each request on when its condition holds, its deadline
// passes or the waits stop. At most `capacity` requests are parked at once; past that
// Park refuses, as a front end's connection cap does.
//
// Thread safety: every method from any thread. `ready` is called on the polling thread
// (and once on the caller's, before parking): it must be cheap and must not block.
// `then` runs on one of the waits' own threads, never under a lock of theirs.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"

namespace geodatastore::server {

class Waits {
 public:
  using Clock = std::chrono::steady_clock;
  using Ready = std::function<bool()>;
  // true: the condition holds; false: the deadline passed or the waits stopped.
  using Then = std::function<void(bool ready)>;

  explicit Waits(size_t capacity, size_t threads = 2);
  ~Waits();
  Waits(const Waits&) = delete;
  Waits& operator=(const Waits&) = delete;

  // Calls then(true) at once (on the caller's thread) if ready() holds now; otherwise parks
  // the request until ready() holds (then(true)) or the deadline (then(false)).
  // kUnavailable, and then is never called, when `capacity` requests are parked already
  // or the waits have stopped.
  Status Park(Ready ready, Clock::time_point deadline, Then then);

  // Hands every parked request on with then(false) and refuses later ones. Idempotent.
  void Stop();

  size_t parked() const;
  size_t capacity() const { return capacity_; }

 private:
  struct Parked {
    Ready ready;
    Clock::time_point deadline;
    Then then;
  };
  void Poll();
  void HandOn(Then then, bool ready);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Parked> parked_;  // guarded by mu_
  size_t in_poll_ = 0;          // taken out by Poll for checking; guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  boost::asio::thread_pool handlers_;
  std::thread poller_;
};

}  // namespace geodatastore::server
