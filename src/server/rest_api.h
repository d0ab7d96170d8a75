// RestApi: the REST front end of API.md — routing, request validation, JSON answers — on
// top of the engine. Errors are {"error": "...", "code": "..."} with the HTTP status the
// contract gives (400 bad input, 404 unknown object or path, 405 wrong method, 409 wrong
// CRDT type or an op the type refuses, 413 body over the limit, 501 not yet available).
//
// Thread safety: Handle may be called from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "antientropy/grpc_sync.h"
#include "config/config.h"
#include "engine/engine.h"
#include "security/auth.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/waits.h"

namespace geodatastore::server {

class RestApi {
 public:
  // REQUIRES: engine and metrics outlive the API.
  // replication may be null (a node without peers).
  RestApi(engine::Engine* engine, Metrics* metrics, const config::Config& config,
          security::Authenticator* auth, Waits* waits,
          replication::GrpcReplication* replication = nullptr);

  // As HttpServer::Handler: answers through done, at once or (a request that waits) later.
  void Handle(const HttpRequest& request, HttpResponse& response, std::function<void()> done);

  // Set once the node serves (readyz) and when it starts draining.
  void set_ready(bool ready) { ready_ = ready; }
  // Serves the anti-entropy admin paths (null: no peers). Set once, before serving.
  void set_anti_entropy(antientropy::GrpcAntiEntropy* anti_entropy) {
    anti_entropy_ = anti_entropy;
  }

  // What /admin/status shows of tombstone collection. Set once, before serving.
  void set_tombstones(std::function<nlohmann::json()> status) { tombstones_ = std::move(status); }

 private:
  struct Call;  // one request being answered
  using Route = std::function<void(Call&)>;
  struct RouteEntry {
    std::vector<std::string> pattern;  // literal segments, or "{}" for a parameter
    std::map<boost::beast::http::verb, Route> methods;
  };

  void Add(boost::beast::http::verb method, const std::string& pattern, Route route);
  void Dispatch(Call& call);
  // Runs a step of the call and answers unless the step deferred the answer (Call::Defer).
  void Run(Call& call, const Route& step);
  // Adds the headers every answer carries, counts it and hands it to the server.
  void Answer(Call& call);

  void ApplyOp(Call& call, v1::Family family, engine::Op op, bool created_status);
  void ReadObject(Call& call, v1::Family family);
  void Status(Call& call);

  engine::Engine* const engine_;
  Metrics* const metrics_;
  security::Authenticator* const auth_;
  Waits* const waits_;
  replication::GrpcReplication* const replication_;
  antientropy::GrpcAntiEntropy* anti_entropy_ = nullptr;
  std::function<nlohmann::json()> tombstones_;
  const config::Config config_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::vector<RouteEntry> routes_;
  std::atomic<bool> ready_{false};
};

}  // namespace geodatastore::server
