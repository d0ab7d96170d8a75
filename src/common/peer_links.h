// PeerLinks: how node-to-node gRPC links are secured, handed to the replication and
// anti-entropy adapters by the server (which builds the TLS credentials, src/security).
//
// With TLS, a node dials each peer with its own certificate and checks the peer's certificate
// names the peer's node id; the peer listener requires and verifies client certificates, and
// a call is from the node its certificate names — never from what a message says. Without
// TLS (a loopback-only test or development cluster), a call is from whom it says it is.
//
// Thread safety: immutable after construction.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace geodatastore {

struct PeerLinks {
  // Credentials for channels to peers; null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // The node id a call's verified certificate names in its subject alternative name ("" if
  // none, or more than one). Null without TLS.
  std::function<std::string(const grpc::ServerContextBase&)> authenticated_node;
  // Configured peers: the only nodes that may call.
  std::set<std::string> peers;
  // Hears of every refused call or message, with the reason (unauthenticated_peer,
  // unknown_peer, spoofed_sender): rejected_payloads_total{reason}.
  std::function<void(const char* reason)> on_refused;

  bool tls() const { return credentials != nullptr; }

  // A channel to the peer with node id `peer` at address.
  std::shared_ptr<grpc::Channel> Dial(const std::string& address, const std::string& peer,
                                      grpc::ChannelArguments args) const {
    if (!credentials) {
      return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    }
    args.SetSslTargetNameOverride(peer);
    return grpc::CreateCustomChannel(address, credentials, args);
  }

  // Who may speak on this call: with TLS, the configured peer its certificate names; without
  // TLS, `claimed` if it is a configured peer. Sets *node, or returns the refusal.
  grpc::Status Authenticate(const grpc::ServerContextBase& context, const std::string& claimed,
                            std::string* node) const {
    auto refuse = [&](const char* reason, grpc::StatusCode code, std::string message) {
      if (on_refused) on_refused(reason);
      return grpc::Status(code, std::move(message));
    };
    if (authenticated_node) {
      *node = authenticated_node(context);
      if (node->empty()) {
        return refuse("unauthenticated_peer", grpc::StatusCode::UNAUTHENTICATED,
                      "a peer certificate whose subject alternative name names one node "
                      "is required");
      }
    } else {
      *node = claimed;
      if (claimed.empty()) return grpc::Status::OK;  // plaintext test cluster: as before
    }
    if (!peers.count(*node)) {
      return refuse("unknown_peer", grpc::StatusCode::PERMISSION_DENIED,
                    "'" + *node + "' is not a configured peer");
    }
    if (!claimed.empty() && claimed != *node) {
      return refuse("spoofed_sender", grpc::StatusCode::PERMISSION_DENIED,
                    "authenticated as '" + *node + "', may not speak as '" + claimed + "'");
    }
    return grpc::Status::OK;
  }
};

// A channel to peer at address: through links when set, plaintext otherwise (in-process
// tests, which set no links).
inline std::shared_ptr<grpc::Channel> DialPeer(const std::optional<PeerLinks>& links,
                                               const std::string& address, const std::string& peer,
                                               grpc::ChannelArguments args) {
  if (links) return links->Dial(address, peer, std::move(args));
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

}  // namespace geodatastore
