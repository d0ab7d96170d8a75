// geoctl's first stage, shared by its commands: the command line's options, the connection
// to a node and one call run on it (deadline, metadata, credentials, exit codes), and
// printing a result as text or JSON. The commands themselves are in geoctl_data.cc (objects)
// and geoctl_admin.cc (admin reports).
//
// Exit codes: 0 success, 1 the node refused the request, 2 bad usage, 3 node unreachable.
//
// Thread safety: one command runs on one thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "geodatastore/v1/api.grpc.pb.h"
#include "reply/object_reply.h"

namespace geodatastore::cli {

struct Options {
  std::string addr = "127.0.0.1:9090";
  bool json = false;
  int timeout_ms = 5000;
  std::string consistency;
  std::string session;
  std::string cacert;    // TLS when set
  std::string tls_name;  // name to verify the node's certificate for
  std::string user;
  std::string password;
};

// What the subcommands' arguments are parsed into (one subcommand runs per invocation).
struct Args {
  std::string name, a, b, type_name, bias;
  std::string counter_type = "pn_counter";
  std::vector<std::string> items;
  int64_t amount = 1, initial = 0;
  uint64_t timestamp = 0;
  uint32_t limit = 0, max_paths = 0;
};

std::string TypeName(v1::CrdtType t);
// The type called name into out; false, after saying so on stderr, for an unknown name.
bool ParseType(const std::string& name, v1::CrdtType* out);

nlohmann::json Strings(const google::protobuf::RepeatedPtrField<std::string>& in);
template <typename Range>
std::string Joined(const Range& in, const char* sep) {
  std::string out;
  for (const std::string& s : in) out += (out.empty() ? "" : sep) + s;
  return out;
}
// An object as text: "name (type) = value", its elements, or its vertices and edges.
std::string ObjectText(const reply::ObjectReply& object);

// Prints either the JSON or the text form of a result.
void Print(const Options& o, const nlohmann::json& as_json, const std::string& as_text);

class Client {
 public:
  explicit Client(const Options& o);

  // Runs one call with the options' deadline and metadata; on success runs on_ok. Returns
  // the exit code.
  int Run(const std::function<grpc::Status(grpc::ClientContext*)>& call,
          const std::function<void()>& on_ok);

  // A call returning an ObjectValue, printed as the object.
  template <typename Request, typename Method>
  int Object(const Request& request, Method method) {
    v1::ObjectValue reply;
    return Run([&](grpc::ClientContext* c) { return ((*crdt_).*method)(c, request, &reply); },
               [&] {
                 const reply::ObjectReply object = reply::FromProto(reply);
                 Print(options_, reply::ToJson(object), ObjectText(object));
               });
  }

  v1::CRDTService::Stub& crdt() { return *crdt_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  const Options& options() const { return options_; }

 private:
  // A refused call: says why on stderr; returns the exit code.
  int Refused(const grpc::Status& status);

  const Options options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CRDTService::Stub> crdt_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// What the chosen subcommand does, once the command line is parsed.
using Action = std::function<int(Client&)>;

// A CRDTService call that answers with an object.
template <typename Request>
using ObjectMethod = grpc::Status (v1::CRDTService::Stub::*)(grpc::ClientContext*, const Request&,
                                                             v1::ObjectValue*);
// Makes sub's action: a Request filled by fill (false: bad usage, exit 2), sent with method,
// and the object it answers printed.
template <typename Request>
void OnObject(CLI::App* sub, Action& action, ObjectMethod<Request> method,
              std::type_identity_t<std::function<bool(Request*)>> fill) {
  sub->callback([&action, method, fill] {
    action = [method, fill](Client& c) {
      Request r;
      return fill(&r) ? c.Object(r, method) : 2;
    };
  });
}

// The subcommands: counter, set, register, graph, keys (geoctl_data.cc); admin
// (geoctl_admin.cc).
void AddDataCommands(CLI::App& app, Args& args, Action& action);
void AddAdminCommands(CLI::App& app, Options& options, Args& args, Action& action);

}  // namespace geodatastore::cli
