// The Redis protocol of a real geods, driven by the real redis-cli (Debian's redis-tools)
// and, for pipelines and broken frames, by a raw socket.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include "cli/http_client.h"
#include "support/geods_process.h"
#include "support/redis_cli.h"

namespace geodatastore {
namespace {

using geodatastore::testing::GeodsProcess;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;

// A raw RESP connection.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += n;
    }
  }
  // Reads until want bytes arrived, the peer closed, or 5 s passed.
  std::string Receive(size_t want) {
    std::string out;
    char buf[65536];
    while (out.size() < want) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = n == 0;
        break;
      }
      out.append(buf, n);
    }
    return out;
  }
  // True once the peer closed the connection (within 5 s).
  bool ClosedByPeer() {
    Receive(SIZE_MAX);
    return closed_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

std::string Frame(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

class RespTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(node_.Start()) << node_.error();
    port_ = node_.resp_port();
    ASSERT_NE(port_, 0);
  }
  std::string Cli(const std::vector<std::string>& args) { return testing::RedisCli(port_, args); }

  GeodsProcess node_{GeodsProcess::Options{}};
  uint16_t port_ = 0;
};

TEST_F(RespTest, ConnectionCommands) {
  EXPECT_EQ(Cli({"PING"}), "PONG");
  EXPECT_EQ(Cli({"ping", "hello"}), "\"hello\"");
  EXPECT_EQ(Cli({"ECHO", "a b"}), "\"a b\"");
  EXPECT_THAT(Cli({"INFO"}), HasSubstr("redis_version:"));
  EXPECT_THAT(Cli({"INFO"}), HasSubstr("geodatastore_node:"));
  EXPECT_EQ(Cli({"SELECT", "0"}), "OK");
  EXPECT_EQ(Cli({"SELECT", "1"}), "(error) ERR DB index is out of range");
  EXPECT_EQ(Cli({"CONFIG", "GET", "appendonly"}), "1) \"appendonly\"\n2) \"no\"");
  EXPECT_EQ(Cli({"CLIENT", "SETNAME", "me"}), "OK");
  EXPECT_EQ(Cli({"COMMAND", "DOCS"}), "(empty array)");
  EXPECT_EQ(Cli({"QUIT"}), "OK");
}

TEST_F(RespTest, CountersOnPnCounters) {
  EXPECT_EQ(Cli({"INCR", "c"}), "(integer) 1");
  EXPECT_EQ(Cli({"INCRBY", "c", "10"}), "(integer) 11");
  EXPECT_EQ(Cli({"DECR", "c"}), "(integer) 10");
  EXPECT_EQ(Cli({"DECRBY", "c", "14"}), "(integer) -4");
  EXPECT_EQ(Cli({"INCRBY", "c", "-1"}), "(integer) -5");
  EXPECT_EQ(Cli({"GET", "c"}), "\"-5\"");  // GET of a counter gives its value
  EXPECT_EQ(Cli({"INCRBY", "c", "x"}), "(error) ERR value is not an integer or out of range");
  // At the edges of int64, as Redis.
  EXPECT_EQ(Cli({"INCRBY", "e", "9223372036854775807"}), "(integer) 9223372036854775807");
  EXPECT_EQ(Cli({"INCRBY", "e", "1"}), "(error) ERR increment or decrement would overflow");
  EXPECT_EQ(Cli({"DECRBY", "e", "9223372036854775807"}), "(integer) 0");
  // Unlike Redis, one replica's increments (or decrements) stop at 2^63 in all: a count
  // beyond it from a peer is refused as a counter that could never grow again.
  EXPECT_EQ(Cli({"INCRBY", "e", "9223372036854775807"}),
            "(error) ERR increment or decrement would overflow");
  EXPECT_EQ(Cli({"TYPE", "c"}), "string");
  EXPECT_EQ(Cli({"INCR"}), "(error) ERR wrong number of arguments for 'incr' command");
}

TEST_F(RespTest, RegistersAndKeys) {
  EXPECT_EQ(Cli({"SET", "k", "v 1"}), "OK");
  EXPECT_EQ(Cli({"GET", "k"}), "\"v 1\"");
  EXPECT_EQ(Cli({"SET", "k", "v2"}), "OK");
  EXPECT_EQ(Cli({"GET", "missing"}), "(nil)");
  EXPECT_EQ(Cli({"INCR", "n"}), "(integer) 1");
  EXPECT_EQ(Cli({"MGET", "k", "missing", "n"}), "1) \"v2\"\n2) (nil)\n3) \"1\"");
  EXPECT_EQ(Cli({"SET", "k", "v", "EX", "10"}),
            "(error) ERR SET options (EX, PX, NX, XX, GET, ...) are not supported");
  EXPECT_EQ(Cli({"EXISTS", "k", "n", "missing", "k"}), "(integer) 3");
  EXPECT_EQ(Cli({"TYPE", "k"}), "string");
  EXPECT_EQ(Cli({"TYPE", "missing"}), "none");
  EXPECT_EQ(Cli({"DEL", "k", "n", "missing"}), "(integer) 2");
  EXPECT_EQ(Cli({"EXISTS", "k", "n"}), "(integer) 0");
  EXPECT_EQ(Cli({"GET", "k"}), "(nil)");
  EXPECT_EQ(Cli({"GET", "n"}), "\"0\"");
  EXPECT_EQ(Cli({"SET", "k", "again"}), "OK");
  EXPECT_EQ(Cli({"GET", "k"}), "\"again\"");
}

TEST_F(RespTest, SetsOnOrSets) {
  EXPECT_EQ(Cli({"SADD", "s", "a", "b", "a"}), "(integer) 2");
  EXPECT_EQ(Cli({"SADD", "s", "b", "c"}), "(integer) 1");
  EXPECT_EQ(Cli({"SREM", "s", "a", "zz"}), "(integer) 1");
  EXPECT_EQ(Cli({"SMEMBERS", "s"}), "1) \"b\"\n2) \"c\"");
  EXPECT_EQ(Cli({"SISMEMBER", "s", "b"}), "(integer) 1");
  EXPECT_EQ(Cli({"SISMEMBER", "s", "a"}), "(integer) 0");
  EXPECT_EQ(Cli({"SCARD", "s"}), "(integer) 2");
  EXPECT_EQ(Cli({"SCARD", "none"}), "(integer) 0");
  EXPECT_EQ(Cli({"SMEMBERS", "none"}), "(empty array)");
  EXPECT_EQ(Cli({"SREM", "none", "x"}), "(integer) 0");
  EXPECT_EQ(Cli({"TYPE", "s"}), "set");
  EXPECT_EQ(Cli({"DEL", "s"}), "(integer) 1");
  EXPECT_EQ(Cli({"SCARD", "s"}), "(integer) 0");
  EXPECT_EQ(Cli({"SADD", "s"}), "(error) ERR wrong number of arguments for 'sadd' command");
}

TEST_F(RespTest, WrongTypesAndUnknownCommandsChangeNothing) {
  ASSERT_EQ(Cli({"SET", "reg", "v"}), "OK");
  ASSERT_EQ(Cli({"INCR", "cnt"}), "(integer) 1");
  ASSERT_EQ(Cli({"SADD", "set", "x"}), "(integer) 1");
  const std::string wrong =
      "(error) WRONGTYPE Operation against a key holding the wrong kind of value";
  EXPECT_EQ(Cli({"SADD", "reg", "x"}), wrong);
  EXPECT_EQ(Cli({"INCR", "reg"}), wrong);
  EXPECT_EQ(Cli({"SET", "cnt", "v"}), wrong);
  EXPECT_EQ(Cli({"SET", "set", "v"}), wrong);
  EXPECT_EQ(Cli({"INCR", "set"}), wrong);
  EXPECT_EQ(Cli({"GET", "set"}), wrong);
  EXPECT_EQ(Cli({"SMEMBERS", "reg"}), wrong);
  EXPECT_EQ(Cli({"MGET", "set", "reg"}), "1) (nil)\n2) \"v\"");
  EXPECT_EQ(Cli({"FOO", "bar", "baz"}),
            "(error) ERR unknown command 'FOO', with args beginning with: 'bar' 'baz'");
  EXPECT_EQ(Cli({"GET", "reg"}), "\"v\"");
  EXPECT_EQ(Cli({"GET", "cnt"}), "\"1\"");
  EXPECT_EQ(Cli({"SMEMBERS", "set"}), "1) \"x\"");
}

TEST_F(RespTest, PipelinedCommandsAnswerInOrder) {
  RawConnection c(port_);
  ASSERT_TRUE(c.connected());
  std::string pipeline, expected;
  for (int i = 1; i <= 50; ++i) {
    pipeline += Frame({"INCR", "p"});
    expected += ":" + std::to_string(i) + "\r\n";
  }
  pipeline += Frame({"GET", "p"});
  expected += "$2\r\n50\r\n";
  pipeline += Frame({"SET", "r", "x"}) + Frame({"SADD", "r", "y"}) + Frame({"GET", "r"});
  expected += "+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
  expected += "$1\r\nx\r\n";
  pipeline += Frame({"SADD", "q", "a", "b"}) + Frame({"SREM", "q", "a"}) + Frame({"SCARD", "q"});
  expected += ":2\r\n:1\r\n:1\r\n";
  pipeline += "PING\r\n";  // inline
  expected += "+PONG\r\n";
  c.Send(pipeline);
  EXPECT_EQ(c.Receive(expected.size()), expected);
  // The writes went through the store: another connection sees them.
  EXPECT_EQ(Cli({"GET", "p"}), "\"50\"");
}

// Writes of many connections are applied as one group commit: every connection must still
// get its own answers, each exactly once. 24 connections INCR one counter 200 times each, one
// request at a time, each also SETting a name of its own.
TEST_F(RespTest, ConcurrentConnectionsShareGroupCommitsAndGetTheirOwnAnswers) {
  constexpr int kConnections = 24, kRounds = 200;
  std::vector<std::vector<int64_t>> seen(kConnections);
  std::vector<std::string> failures(kConnections);
  std::vector<std::thread> threads;
  for (int t = 0; t < kConnections; ++t) {
    threads.emplace_back([&, t] {
      RawConnection c(port_);
      if (!c.connected()) return void(failures[t] = "not connected");
      for (int i = 0; i < kRounds; ++i) {
        c.Send(Frame({"INCR", "shared"}));
        const std::string reply = c.Receive(1);
        std::string rest = reply;
        while (rest.find("\r\n") == std::string::npos) {
          const std::string more = c.Receive(1);
          if (more.empty()) return void(failures[t] = "no answer to INCR");
          rest += more;
        }
        if (rest[0] != ':' || rest.size() != rest.find("\r\n") + 2)
          return void(failures[t] = "INCR answered " + rest);
        seen[t].push_back(std::stoll(rest.substr(1)));
        const std::string own = "own" + std::to_string(t);
        c.Send(Frame({"SET", own, std::to_string(i)}));
        if (c.Receive(5) != "+OK\r\n") return void(failures[t] = "SET not answered +OK");
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<int64_t> all;
  for (int t = 0; t < kConnections; ++t) {
    EXPECT_EQ(failures[t], "") << "connection " << t;
    ASSERT_EQ(seen[t].size(), static_cast<size_t>(kRounds)) << "connection " << t;
    EXPECT_TRUE(std::is_sorted(seen[t].begin(), seen[t].end())) << "connection " << t;
    all.insert(seen[t].begin(), seen[t].end());
    EXPECT_EQ(Cli({"GET", "own" + std::to_string(t)}), "\"" + std::to_string(kRounds - 1) + "\"");
  }
  // Every value from 1 to the total answered exactly once.
  EXPECT_EQ(all.size(), static_cast<size_t>(kConnections * kRounds));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kConnections * kRounds);
  EXPECT_EQ(Cli({"GET", "shared"}), "\"" + std::to_string(kConnections * kRounds) + "\"");
}

TEST_F(RespTest, MalformedFramesCloseTheConnectionAndNeverCrashTheNode) {
  for (const std::string bad : {"*2\r\n$3\r\nGET\r\n$x\r\n", "*1\r\n$-5\r\n", "*abc\r\n",
                                "*1\r\n$99999999999\r\n", "*2\r\n$3\r\nGET\r\n:12\r\n"}) {
    RawConnection c(port_);
    ASSERT_TRUE(c.connected());
    c.Send(Frame({"SET", "before", "ok"}) + bad);
    const std::string reply = c.Receive(5);
    EXPECT_THAT(reply, StartsWith("+OK\r\n-ERR Protocol error")) << bad;
    EXPECT_TRUE(c.ClosedByPeer()) << bad;
  }
  std::mt19937 rng(11);
  const std::string alphabet = "*$:+-\r\n0123456789abcGETSET ";
  for (int i = 0; i < 300; ++i) {
    RawConnection c(port_);
    ASSERT_TRUE(c.connected());
    std::string junk;
    for (int k = 0; k < 64; ++k)
      junk.push_back(alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)]);
    c.Send(junk);
  }
  EXPECT_EQ(Cli({"PING"}), "PONG");
  EXPECT_EQ(Cli({"GET", "before"}), "\"ok\"");
}

TEST_F(RespTest, RespWritesAreTheSameObjectsRestSees) {
  ASSERT_EQ(Cli({"SET", "shared", "from-resp"}), "OK");
  ASSERT_EQ(Cli({"INCRBY", "hits", "7"}), "(integer) 7");
  ASSERT_EQ(Cli({"SADD", "tags", "x", "y"}), "(integer) 2");
  client::HttpClient http(node_.http_port());
  EXPECT_EQ(http.Get("/crdt/registers/shared").json["values"], json::array({"from-resp"}));
  EXPECT_EQ(http.Get("/crdt/counters/hits").json["value"], 7);
  EXPECT_EQ(http.Get("/crdt/sets/tags").json["elements"], json::array({"x", "y"}));
  ASSERT_EQ(http.Post("/crdt/counters/hits/increment", {{"value", 3}}).status, 200);
  EXPECT_EQ(Cli({"GET", "hits"}), "\"10\"");
}

// One SADD of 100,000 members (in a frame over the default 1 MiB), then the collection cap:
// a SADD that would pass it is an error and changes nothing.
TEST(RespLimits, ABulkSaddAndTheCollectionCap) {
  GeodsProcess node(
      {.extra_yaml = "limits: {max_collection_elements: 100001, max_request_bytes: 4194304}"});
  ASSERT_TRUE(node.Start()) << node.error();
  std::vector<std::string> sadd = {"SADD", "big"};
  for (int i = 0; i < 100000; ++i) sadd.push_back("e" + std::to_string(i * 7919 % 100000));
  sadd.push_back("e0");  // named twice: counted once
  RawConnection c(node.resp_port());
  ASSERT_TRUE(c.connected());
  c.Send(Frame(sadd));
  EXPECT_EQ(c.Receive(9), ":100000\r\n");

  auto cli = [&](const std::vector<std::string>& args) {
    return testing::RedisCli(node.resp_port(), args);
  };
  EXPECT_EQ(cli({"SADD", "big", "x", "y", "e1"}),
            "(error) ERR set 'big' holds 100000 elements; this add would add up to 2, past "
            "limits.max_collection_elements (100001)");
  EXPECT_EQ(cli({"SCARD", "big"}), "(integer) 100000");
  EXPECT_EQ(cli({"SISMEMBER", "big", "x"}), "(integer) 0");
  EXPECT_EQ(cli({"SADD", "big", "x", "e1"}), "(integer) 1");
}

}  // namespace
}  // namespace geodatastore
