#include "cli/geoctl_client.h"

#include <chrono>
#include <iostream>

#include "crdt/any_crdt.h"
#include "crdt/codec.h"
#include "security/auth.h"
#include "security/tls.h"

namespace geodatastore::cli {

using json = nlohmann::json;

std::string TypeName(v1::CrdtType t) { return std::string(crdt::TypeName(t)); }

bool ParseType(const std::string& name, v1::CrdtType* out) {
  const auto type = crdt::ParseTypeName(name);
  if (!type) {
    std::cerr << "geoctl: unknown type '" << name << "'\n";
    return false;
  }
  *out = *type;
  return true;
}

json Strings(const google::protobuf::RepeatedPtrField<std::string>& in) {
  json out = json::array();
  for (const std::string& s : in) out.push_back(s);
  return out;
}

std::string ObjectText(const reply::ObjectReply& object) {
  const std::string head = object.name + " (" + TypeName(object.type) + ")";
  if (object.value) return head + " = " + std::to_string(object.SaturatedValue());
  if (object.values)
    return head + " = " + (object.values->empty() ? "(unset)" : Joined(*object.values, " | "));
  if (object.vertices) {
    std::string edges;
    for (const auto& [from, to] : object.edges.value_or(std::vector<reply::ObjectReply::Edge>{}))
      edges += (edges.empty() ? "" : ", ") + from + "->" + to;
    return head + "\n  vertices: " + Joined(*object.vertices, ", ") + "\n  edges:    " + edges;
  }
  return head + " = {" + Joined(object.elements.value_or(std::vector<std::string>{}), ", ") + "}";
}

void Print(const Options& o, const json& as_json, const std::string& as_text) {
  std::cout << (o.json ? as_json.dump(2, ' ', false, json::error_handler_t::replace) : as_text)
            << "\n";
}

namespace {

// A channel to the node: TLS verified against --cacert when given, else plaintext.
std::shared_ptr<grpc::Channel> Dial(const Options& o) {
  if (o.cacert.empty()) return grpc::CreateChannel(o.addr, grpc::InsecureChannelCredentials());
  grpc::ChannelArguments args;
  if (!o.tls_name.empty()) args.SetSslTargetNameOverride(o.tls_name);
  return grpc::CreateCustomChannel(o.addr, security::ChannelCredentials({o.cacert, "", ""}), args);
}

}  // namespace

Client::Client(const Options& o)
    : options_(o),
      channel_(Dial(o)),
      crdt_(v1::CRDTService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)) {}

int Client::Run(const std::function<grpc::Status(grpc::ClientContext*)>& call,
                const std::function<void()>& on_ok) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(options_.timeout_ms));
  if (!options_.consistency.empty()) context.AddMetadata("x-consistency", options_.consistency);
  if (!options_.session.empty()) context.AddMetadata("x-session-token", options_.session);
  if (!options_.user.empty()) {
    context.AddMetadata("authorization",
                        security::BasicAuthorization(options_.user, options_.password));
  }
  const grpc::Status status = call(&context);
  if (!status.ok()) return Refused(status);
  on_ok();
  return 0;
}

int Client::Refused(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      channel_->GetState(false) != GRPC_CHANNEL_READY) {
    std::cerr << "geoctl: cannot reach the node at " << options_.addr << ": "
              << status.error_message() << "\n";
    return 3;
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::cerr << "geoctl: no answer from " << options_.addr << " within " << options_.timeout_ms
              << " ms\n";
    return 3;
  }
  static const char* kCodes[] = {"ok",
                                 "cancelled",
                                 "unknown",
                                 "invalid_argument",
                                 "deadline_exceeded",
                                 "not_found",
                                 "already_exists",
                                 "permission_denied",
                                 "resource_exhausted",
                                 "failed_precondition",
                                 "aborted",
                                 "out_of_range",
                                 "unimplemented",
                                 "internal",
                                 "unavailable",
                                 "data_loss",
                                 "unauthenticated"};
  const int code = status.error_code();
  std::cerr << "geoctl: " << (code >= 0 && code <= 16 ? kCodes[code] : "error") << ": "
            << status.error_message() << "\n";
  return 1;
}

}  // namespace geodatastore::cli
