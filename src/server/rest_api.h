// RestApi: the REST front end of API.md — routing, request validation, JSON answers — on
// top of the engine. Errors are {"error": "...", "code": "..."} with the HTTP status the
// contract gives (400 bad input, 404 unknown object or path, 405 wrong method, 409 wrong
// CRDT type or an op the type refuses, 413 body over the limit, 501 not yet available).
//
// The work is split by stage: routing, authorization and the session token (rest_api.cc),
// the object routes (rest_objects.cc), the admin and operations routes (rest_admin.cc); a
// request in progress is a Call (rest_call.h).
//
// Thread safety: Handle may be called from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "antientropy/grpc_sync.h"
#include "config/config.h"
#include "engine/engine.h"
#include "security/auth.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/waits.h"
#include "server/reports.h"

namespace geodatastore::server {

class RestApi {
 public:
  // REQUIRES: engine, metrics, auth and reports outlive the API.
  // replication may be null (a node without peers).
  RestApi(engine::Engine* engine, Metrics* metrics, const config::Config& config,
          security::Authenticator* auth, Waits* waits, const Reports* reports,
          replication::GrpcReplication* replication = nullptr);

  // As HttpServer::Handler: answers through done, at once or (a request that waits) later.
  void Handle(const HttpRequest& request, HttpResponse& response, std::function<void()> done);

  // Set once the node serves (readyz) and when it starts draining.
  void set_ready(bool ready) { ready_ = ready; }
  // Read repair for reads above consistency=eventual (null: no peers). Set once, before
  // serving.
  void set_anti_entropy(antientropy::GrpcAntiEntropy* anti_entropy) {
    anti_entropy_ = anti_entropy;
  }

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
  // The route of a path (literal segments preferred over parameters), or nullptr.
  const RouteEntry* Match(const std::vector<std::string>& segments) const;
  // True when the caller's credentials allow the request; false after answering 401 or 403.
  bool Authorized(Call& call, const std::vector<std::string>& segments);

  // The routes, by family and stage (rest_objects.cc, rest_admin.cc).
  void AddCounterRoutes();
  void AddSetRoutes();
  void AddRegisterRoutes();
  void AddGraphRoutes();
  void AddKeyRoutes();
  void AddAdminRoutes();
  void AddFaultRoutes();
  void AddProbeRoutes();

  void ApplyOp(Call& call, v1::Family family, engine::Op op, bool created_status);
  void ReadObject(Call& call, v1::Family family);

  engine::Engine* const engine_;
  Metrics* const metrics_;
  security::Authenticator* const auth_;
  Waits* const waits_;
  const Reports* const reports_;
  replication::GrpcReplication* const replication_;
  antientropy::GrpcAntiEntropy* anti_entropy_ = nullptr;
  const config::Config config_;
  std::vector<RouteEntry> routes_;
  std::atomic<bool> ready_{false};
};

}  // namespace geodatastore::server
