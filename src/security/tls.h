// TLS for every listener and every node-to-node link (API.md, "Security"): gRPC credentials
// for the peer listener (mutual TLS, client certificate required and verified), for the
// client listener and for channels to peers; Boost.Asio SSL contexts for REST and RESP; and
// what a certificate says (its node id, its expiry).
//
// A node's identity is the DNS subject alternative name of its certificate that names a
// node of the cluster (API.md: "its SAN names the node id"); the common name is never read
// for identity, and a certificate without such a SAN is no node's. A peer is dialled with
// its id as the TLS target name, which gRPC checks against the same SANs, so a node checks
// it reached the peer it meant. `scripts/cluster.sh` makes certificates with
// subjectAltName=DNS:<node id>,DNS:localhost,IP:127.0.0.1.
//
// Rotation: gRPC credentials watch their files (re-read every kRefreshSeconds); the
// Asio contexts are rebuilt by ReloadableSslContext::Reload (SIGHUP, or a changed file).
//
// Thread safety: free functions are thread-safe; ReloadableSslContext is internally locked.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace geodatastore::security {

struct TlsFiles {
  std::string ca_file;    // PEM: the CA peers and clients are verified against
  std::string cert_file;  // PEM: this node's (or client's) certificate chain
  std::string key_file;   // PEM: its private key
};

// Seconds between gRPC's checks of the certificate files for changes.
inline constexpr unsigned kRefreshSeconds = 2;

// Node-to-node server: TLS, a client certificate required and verified against the CA.
std::shared_ptr<grpc::ServerCredentials> PeerServerCredentials(const TlsFiles& files);
// Client-facing gRPC server: TLS, no client certificate asked for (clients authenticate
// with credentials in metadata).
std::shared_ptr<grpc::ServerCredentials> ClientServerCredentials(const TlsFiles& files);
// A channel to a peer (or, for tools, to a node): verifies the server against the CA and
// presents this node's certificate when cert_file is set. Dial with the channel argument
// SetSslTargetNameOverride(node id) to check the server's certificate for that name.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsFiles& files);

// The node a call's TLS peer authenticated as: the one subject alternative name of its
// verified client certificate that is in nodes (every node id of the cluster). If none is,
// the certificate's first SAN (a certificate of no node, which callers refuse as an unknown
// peer); "" if the call did not come over TLS with a verified client certificate, if the
// certificate has no SAN, or if its SANs name more than one node.
std::string AuthenticatedNode(const grpc::AuthContext& context, const std::set<std::string>& nodes);

struct CertificateInfo {
  std::string common_name;             // for messages only
  std::vector<std::string> dns_names;  // DNS subject alternative names
  int64_t not_after_unix = 0;          // expiry, seconds since the epoch
};
// Reads the first certificate of a PEM file.
StatusOr<CertificateInfo> InspectCertificate(const std::string& path);
// Checks that the three files exist and hold a certificate, a key that matches it and a CA
// that verifies it; the error names the file.
Status CheckTlsFiles(const TlsFiles& files);

// A server-side SSL context (TLS 1.2+) that can be rebuilt from its files while connections
// that started on the old one finish on it.
class ReloadableSslContext {
 public:
  static StatusOr<std::unique_ptr<ReloadableSslContext>> Create(TlsFiles files);
  // The context new connections use.
  std::shared_ptr<boost::asio::ssl::context> Current() const;
  // Rebuilds from the files; on error keeps the old context and returns the error.
  Status Reload();

 private:
  explicit ReloadableSslContext(TlsFiles files) : files_(std::move(files)) {}
  const TlsFiles files_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mu_
};

}  // namespace geodatastore::security
