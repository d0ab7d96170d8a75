#include "server/waits.h"

#include <boost/asio/post.hpp>

namespace geodatastore::server {

Waits::Waits(size_t capacity, size_t threads)
    : capacity_(capacity), handlers_(std::max<size_t>(threads, 1)) {
  poller_ = std::thread([this] { Poll(); });
}

Waits::~Waits() {
  Stop();
  handlers_.join();
}

Status Waits::Park(Ready ready, Clock::time_point deadline, Then then) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status(StatusCode::kUnavailable, "the node is stopping");
  }
  if (ready()) {
    then(true);
    return Status::Ok();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status(StatusCode::kUnavailable, "the node is stopping");
    if (parked_.size() + in_poll_ >= capacity_) {
      return Status(StatusCode::kUnavailable,
                    "too many requests are waiting (session tokens, consistency levels); "
                    "retry later");
    }
    parked_.push_back({std::move(ready), deadline, std::move(then)});
  }
  wake_.notify_one();
  return Status::Ok();
}

void Waits::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();  // hands on what it held when it saw stopping_
}

size_t Waits::parked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.size() + in_poll_;
}

void Waits::HandOn(Then then, bool ready) {
  boost::asio::post(handlers_, [then = std::move(then), ready] { then(ready); });
}

void Waits::Poll() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !parked_.empty(); });
    std::vector<Parked> checking;
    checking.swap(parked_);
    in_poll_ = checking.size();
    const bool stopping = stopping_;
    lock.unlock();
    // Conditions are checked without the lock: they may take locks of their own.
    std::vector<Parked> still;
    const Clock::time_point now = Clock::now();
    for (Parked& p : checking) {
      if (stopping) {
        HandOn(std::move(p.then), false);
      } else if (p.ready()) {
        HandOn(std::move(p.then), true);
      } else if (now >= p.deadline) {
        HandOn(std::move(p.then), false);
      } else {
        still.push_back(std::move(p));
      }
    }
    lock.lock();
    in_poll_ = 0;
    for (Parked& p : still) parked_.push_back(std::move(p));
    if (stopping) {
      for (Parked& p : parked_) HandOn(std::move(p.then), false);
      parked_.clear();
      return;
    }
    if (!parked_.empty()) wake_.wait_for(lock, std::chrono::milliseconds(1), [&] {
      return stopping_;
    });
  }
}

}  // namespace geodatastore::server
