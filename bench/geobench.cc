// geobench: closed-loop load against one geods node. N clients each send one request,
// wait for its answer, and send the next, for a fixed time; prints throughput and latency
// percentiles.
//
//   transports: grpc        one unary call per op
//               grpc-batch  StreamBatches: one message of --batch ops per round trip
//               rest        one HTTP request per op (keep-alive)
//               echo        gRPC Echo: the transport's own ceiling, no storage
//   ops:        increment (pn_counter), set-add (or_set), register-set (lww_register),
//               on --keys distinct keys chosen uniformly at random
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "cli/http_client.h"
#include "geodatastore/v1/api.grpc.pb.h"
#include "security/auth.h"
#include "security/tls.h"

namespace {

namespace v1 = geodatastore::v1;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string grpc = "127.0.0.1:9090";
  uint16_t http_port = 8080;
  std::string transport = "grpc";
  std::string op = "increment";
  int clients = 16;
  int keys = 1000;
  double seconds = 5;
  int batch = 100;
  int channels = 8;
  bool header = true;
  std::string cacert;         // TLS when set
  std::string tls_name;       // the name the node's certificate must carry
  std::string authorization;  // from --user and $GEODS_PASSWORD
};

struct ClientResult {
  std::vector<uint32_t> latencies_us;  // per request (a batch counts once)
  uint64_t ops = 0;
  uint64_t errors = 0;
  std::string first_error;
};

class OpMaker {
 public:
  OpMaker(const Options& o, uint32_t seed) : options_(o), rng_(seed) {}

  std::string Key() {
    return std::to_string(std::uniform_int_distribution<int>(0, options_.keys - 1)(rng_));
  }
  std::string Element() {
    return "e" + std::to_string(std::uniform_int_distribution<int>(0, 999)(rng_));
  }

  void Fill(v1::Operation* op) {
    if (options_.op == "increment") {
      op->mutable_increment()->set_name("bench:" + Key());
      op->mutable_increment()->set_amount(1);
    } else if (options_.op == "set-add") {
      op->mutable_add()->set_name("bench:" + Key());
      op->mutable_add()->add_elements(Element());
    } else {
      op->mutable_set_register()->set_name("bench:" + Key());
      op->mutable_set_register()->set_value(Element());
    }
  }

  // The REST path and body of one op.
  std::pair<std::string, std::string> Rest() {
    if (options_.op == "increment")
      return {"/crdt/counters/bench:" + Key() + "/increment", R"({"value":1})"};
    if (options_.op == "set-add")
      return {"/crdt/sets/bench:" + Key() + "/add", "{\"element\":\"" + Element() + "\"}"};
    return {"/crdt/registers/bench:" + Key(), "{\"value\":\"" + Element() + "\"}"};
  }

 private:
  const Options& options_;
  std::mt19937 rng_;
};

grpc::Status UnaryCall(v1::CRDTService::Stub& stub, OpMaker& maker, const Options& o) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!o.authorization.empty()) context.AddMetadata("authorization", o.authorization);
  if (o.transport == "echo") {
    v1::EchoReply reply;
    return stub.Echo(&context, v1::EchoRequest(), &reply);
  }
  v1::Operation op;
  maker.Fill(&op);
  v1::ObjectValue reply;
  switch (op.op_case()) {
    case v1::Operation::kIncrement:
      return stub.IncrementCounter(&context, op.increment(), &reply);
    case v1::Operation::kAdd:
      return stub.AddToSet(&context, op.add(), &reply);
    default:
      return stub.SetRegister(&context, op.set_register(), &reply);
  }
}

void RunClient(int id, const Options& o,
               const std::vector<std::shared_ptr<grpc::Channel>>& channels, Clock::time_point until,
               ClientResult* out) {
  OpMaker maker(o, 7919u * static_cast<uint32_t>(id) + 1);
  auto record = [&](Clock::time_point start, bool ok, uint64_t ops) {
    out->latencies_us.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count()));
    if (ok) {
      out->ops += ops;
    } else {
      ++out->errors;
    }
  };
  if (o.transport == "rest") {
    geodatastore::client::HttpClient http(o.http_port);
    while (Clock::now() < until) {
      auto [path, body] = maker.Rest();
      const auto start = Clock::now();
      const int status = http.Request(boost::beast::http::verb::post, path, body).status;
      record(start, status == 200, 1);
    }
    return;
  }
  auto stub = v1::CRDTService::NewStub(channels[id % channels.size()]);
  if (o.transport == "grpc-batch") {
    grpc::ClientContext context;
    if (!o.authorization.empty()) context.AddMetadata("authorization", o.authorization);
    auto stream = stub->StreamBatches(&context);
    v1::BatchRequest batch;
    v1::BatchReply reply;
    while (Clock::now() < until) {
      batch.Clear();
      for (int i = 0; i < o.batch; ++i) maker.Fill(batch.add_operations());
      const auto start = Clock::now();
      const bool ok = stream->Write(batch) && stream->Read(&reply);
      uint64_t good = 0;
      for (const auto& r : reply.results()) good += r.code() == 0;
      record(start, ok, good);
      if (!ok) break;
    }
    stream->WritesDone();
    stream->Finish().ok();
    return;
  }
  while (Clock::now() < until) {
    const auto start = Clock::now();
    const grpc::Status status = UnaryCall(*stub, maker, o);
    record(start, status.ok(), 1);
    if (!status.ok() && out->first_error.empty()) out->first_error = status.error_message();
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"geobench: closed-loop load against a geods node"};
  Options o;
  app.add_option("--grpc", o.grpc, "node gRPC address")->capture_default_str();
  app.add_option("--http-port", o.http_port, "node REST port on 127.0.0.1")->capture_default_str();
  app.add_option("--transport", o.transport, "grpc | grpc-batch | rest | echo")
      ->check(CLI::IsMember({"grpc", "grpc-batch", "rest", "echo"}))
      ->capture_default_str();
  app.add_option("--op", o.op, "increment | set-add | register-set")
      ->check(CLI::IsMember({"increment", "set-add", "register-set"}))
      ->capture_default_str();
  app.add_option("--clients", o.clients, "concurrent closed-loop clients")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--keys", o.keys, "distinct keys")
      ->check(CLI::Range(1, 100000000))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "duration of the run")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--batch", o.batch, "ops per message for grpc-batch")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--channels", o.channels, "gRPC connections shared by the clients")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_flag("!--no-header", o.header, "omit the header line");
  app.add_option("--cacert", o.cacert, "CA file: gRPC over TLS, the node verified with it");
  app.add_option("--tls-name", o.tls_name, "the name the node's certificate must carry");
  std::string user;
  app.add_option("--user", user, "user name (password from $GEODS_PASSWORD)");
  CLI11_PARSE(app, argc, argv);
  if (!user.empty()) {
    const char* password = std::getenv("GEODS_PASSWORD");
    o.authorization =
        geodatastore::security::BasicAuthorization(user, password == nullptr ? "" : password);
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < std::min(o.channels, o.clients); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("geobench.connection", i);  // distinct arguments: a connection of its own
    if (!o.tls_name.empty()) args.SetSslTargetNameOverride(o.tls_name);
    channels.push_back(grpc::CreateCustomChannel(
        o.grpc,
        o.cacert.empty() ? grpc::InsecureChannelCredentials()
                         : geodatastore::security::ChannelCredentials({o.cacert, "", ""}),
        args));
  }
  std::vector<ClientResult> results(o.clients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto until =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int i = 0; i < o.clients; ++i)
    threads.emplace_back(RunClient, i, std::cref(o), std::cref(channels), until, &results[i]);
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<uint32_t> all;
  uint64_t ops = 0, errors = 0;
  for (const ClientResult& r : results) {
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    ops += r.ops;
    errors += r.errors;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0u : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  if (o.header) {
    printf("%-11s %-13s %7s %6s %12s %9s %9s %9s %7s\n", "transport", "op", "clients", "batch",
           "ops/s", "p50_us", "p99_us", "p999_us", "errors");
  }
  printf("%-11s %-13s %7d %6d %12.0f %9u %9u %9u %7llu\n", o.transport.c_str(),
         o.transport == "echo" ? "-" : o.op.c_str(), o.clients,
         o.transport == "grpc-batch" ? o.batch : 1, ops / elapsed, pct(0.50), pct(0.99), pct(0.999),
         static_cast<unsigned long long>(errors));
  for (const ClientResult& r : results) {
    if (!r.first_error.empty()) {
      fprintf(stderr, "geobench: first error: %s\n", r.first_error.c_str());
      break;
    }
  }
  return errors == 0 ? 0 : 1;
}
