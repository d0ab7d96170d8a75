// The sorted dots that tag one key of a dot kernel. Nearly every key has exactly one dot,
// so one dot lives inline and only longer lists touch the heap.
//
// Thread safety: plain value.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "crdt/causal_context.h"

namespace geodatastore::crdt {

class DotList {
 public:
  DotList() = default;
  DotList(std::initializer_list<Dot> dots) {
    reserve(dots.size());
    for (const Dot& d : dots) push_back(d);
  }
  DotList(const DotList& other) { *this = other; }
  DotList(DotList&& other) noexcept { *this = std::move(other); }
  DotList& operator=(const DotList& other) {
    if (this == &other) return *this;
    clear();
    reserve(other.size_);
    std::copy(other.begin(), other.end(), data());
    size_ = other.size_;
    return *this;
  }
  DotList& operator=(DotList&& other) noexcept {
    if (this == &other) return *this;
    Release();
    size_ = other.size_;
    capacity_ = other.capacity_;
    if (other.on_heap()) {
      heap_ = other.heap_;
    } else {
      inline_ = other.inline_;
    }
    other.size_ = 0;
    other.capacity_ = 1;
    return *this;
  }
  ~DotList() { Release(); }

  const Dot* begin() const { return data(); }
  const Dot* end() const { return data() + size_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void clear() { size_ = 0; }
  void reserve(size_t n) {
    if (n <= capacity_) return;
    Dot* grown = new Dot[n];
    std::copy(begin(), end(), grown);
    const uint32_t size = size_;
    Release();
    heap_ = grown;
    capacity_ = static_cast<uint32_t>(n);
    size_ = size;
  }
  // Callers append in increasing order; decoders check the order afterwards.
  void push_back(const Dot& dot) {
    if (size_ == capacity_) reserve(capacity_ * 2);
    data()[size_++] = dot;
  }
  bool Contains(const Dot& dot) const { return std::binary_search(begin(), end(), dot); }
  template <typename Pred>
  void RemoveIf(Pred pred) {
    size_ = static_cast<uint32_t>(std::remove_if(data(), data() + size_, pred) - data());
  }
  void Remove(const Dot& dot) {
    RemoveIf([&](const Dot& d) { return d == dot; });
  }

  bool operator==(const DotList& other) const {
    return std::equal(begin(), end(), other.begin(), other.end());
  }

 private:
  bool on_heap() const { return capacity_ > 1; }
  Dot* data() { return on_heap() ? heap_ : &inline_; }
  const Dot* data() const { return on_heap() ? heap_ : &inline_; }
  void Release() {
    if (on_heap()) delete[] heap_;
    capacity_ = 1;
    size_ = 0;
  }

  uint32_t size_ = 0;
  uint32_t capacity_ = 1;  // 1: the dot is inline_; more: heap_ holds capacity_ dots
  union {
    Dot inline_{};
    Dot* heap_;
  };
};

}  // namespace geodatastore::crdt
