// The RESP2 parser on its own: whole, partial, inline and pipelined frames, and bad ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include "server/resp.h"

namespace geodatastore::server::resp {
namespace {

// The largest allocation made while tracking (this binary's operator new, below).
std::atomic<bool> tracking{false};
std::atomic<size_t> largest{0};

}  // namespace
}  // namespace geodatastore::server::resp

// GCC sees free() of what it takes for operator new's memory where it inlines these.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t n) {
  using geodatastore::server::resp::largest;
  if (geodatastore::server::resp::tracking.load()) {
    size_t seen = largest.load();
    while (n > seen && !largest.compare_exchange_weak(seen, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace geodatastore::server::resp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RespParser, ParsesPipelinedArraysAndInlineCommands) {
  const std::string data =
      "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
  std::vector<Command> out;
  auto used = Parse(data, &out);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, data.size());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_THAT(out[0], ElementsAre("GET", "k"));
  EXPECT_THAT(out[1], ElementsAre("PING"));
  EXPECT_THAT(out[2], ElementsAre("SET", "k", ""));
}

TEST(RespParser, LeavesAnIncompleteCommandForLater) {
  const std::string data = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  for (size_t cut = 0; cut < data.size(); ++cut) {
    std::vector<Command> out;
    auto used = Parse(std::string_view(data).substr(0, cut), &out);
    ASSERT_TRUE(used.ok()) << cut;
    EXPECT_EQ(*used, 0u) << cut;
    EXPECT_TRUE(out.empty()) << cut;
  }
  std::vector<Command> out;
  EXPECT_EQ(Parse(data + "*1\r\n$4\r\nPI", &out).value(), data.size());
  EXPECT_EQ(out.size(), 1u);
}

// Found by fuzz/resp_fuzz.cc (-malloc_limit_mb=16): an array header reserved room for every
// argument it announced before any arrived, so 12 bytes made each read of the incomplete
// command allocate 32 MiB.
TEST(RespParser, AnArrayHeaderReservesNoMoreThanItsBytesCanHold) {
  std::vector<Command> out;
  largest = 0;
  tracking = true;
  auto used = Parse("*1048576\r\n$1\r\na\r\n", &out);
  tracking = false;
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, 0u);
  EXPECT_LT(largest.load(), 4096u);
}

TEST(RespParser, RejectsWhatIsNotResp) {
  for (const std::string bad :
       {"*x\r\n", "*-2\r\n", "*1\r\n:3\r\n", "*1\r\n$-1\r\n", "*1\r\n$3\r\nabcde\r\n",
        "*1\r\n$99999999999999999999\r\n", "*1\r\n$100000000000\r\n"}) {
    std::vector<Command> out;
    auto used = Parse(bad, &out);
    ASSERT_FALSE(used.ok()) << bad;
    EXPECT_THAT(used.status().message(), HasSubstr("Protocol error")) << bad;
  }
}

TEST(RespParser, RandomBytesNeverCrashAndNeverOverrun) {
  std::mt19937 rng(7);
  const std::string alphabet = "*$:+-\r\n0123456789abc ";
  for (int i = 0; i < 20000; ++i) {
    std::string data;
    const int n = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int k = 0; k < n; ++k)
      data.push_back(alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)]);
    std::vector<Command> out;
    auto used = Parse(data, &out);
    if (used.ok()) {
      EXPECT_LE(*used, data.size());
    }
  }
}

TEST(RespEncoders, WriteRespReplies) {
  std::string out;
  AppendSimple(&out, "OK");
  AppendError(&out, "ERR bad\r\nthing");
  AppendInteger(&out, -3);
  AppendBulk(&out, "hi");
  AppendNull(&out);
  AppendArray(&out, 2);
  EXPECT_EQ(out, "+OK\r\n-ERR bad  thing\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*2\r\n");
}

}  // namespace
}  // namespace geodatastore::server::resp
