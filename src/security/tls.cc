#include "security/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>

namespace geodatastore::security {

namespace {

using grpc::experimental::FileWatcherCertificateProvider;

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
    const TlsFiles& files, grpc_ssl_client_certificate_request_type request) {
  auto provider = std::make_shared<FileWatcherCertificateProvider>(files.key_file, files.cert_file,
                                                                   files.ca_file, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (request != GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE) options.watch_root_certs();
  options.set_cert_request_type(request);
  return grpc::experimental::TlsServerCredentials(options);
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

StatusOr<X509Ptr> ReadCertificate(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return InvalidArgument("cannot read certificate " + path);
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  fclose(f);
  if (!cert) return InvalidArgument(path + " holds no PEM certificate");
  return cert;
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> PeerServerCredentials(const TlsFiles& files) {
  return ServerCredentials(files, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
}

std::shared_ptr<grpc::ServerCredentials> ClientServerCredentials(const TlsFiles& files) {
  return ServerCredentials(files, GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsFiles& files) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  const bool identity = !files.cert_file.empty();
  options.set_certificate_provider(std::make_shared<FileWatcherCertificateProvider>(
      identity ? files.key_file : "", identity ? files.cert_file : "", files.ca_file,
      kRefreshSeconds));
  options.watch_root_certs();
  if (identity) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

std::string AuthenticatedNode(const grpc::AuthContext& context,
                              const std::set<std::string>& nodes) {
  // Only a handshake that verified the client's certificate fills these properties.
  if (!context.IsPeerAuthenticated()) return "";
  const auto type = context.FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  // "ssl" from SslServerCredentials, "tls" from the TLS credentials API used here.
  const std::string security = type.empty() ? "" : std::string(type[0].data(), type[0].size());
  if (security != "ssl" && security != "tls") return "";
  // Every SAN (DNS names and IP addresses, as text); an address names no node.
  const auto sans = context.FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME);
  if (sans.empty()) return "";
  std::string node;
  for (const grpc::string_ref& san : sans) {
    const std::string name(san.data(), san.size());
    if (!nodes.count(name)) continue;
    if (!node.empty() && node != name) return "";  // one certificate, one node
    node = name;
  }
  return node.empty() ? std::string(sans[0].data(), sans[0].size()) : node;
}

StatusOr<CertificateInfo> InspectCertificate(const std::string& path) {
  GDS_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(path));
  CertificateInfo info;
  char cn[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn)) >
      0) {
    info.common_name = cn;
  }
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                ASN1_STRING_length(dns));
  }
  GENERAL_NAMES_free(names);
  struct tm t = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &t) != 1)
    return InvalidArgument(path + ": unreadable expiry");
  info.not_after_unix = timegm(&t);
  return info;
}

Status CheckTlsFiles(const TlsFiles& files) {
  GDS_ASSIGN_OR_RETURN(X509Ptr ca, ReadCertificate(files.ca_file));
  GDS_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(files.cert_file));
  FILE* f = fopen(files.key_file.c_str(), "r");
  if (f == nullptr) return InvalidArgument("cannot read key " + files.key_file);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  fclose(f);
  if (key == nullptr) return InvalidArgument(files.key_file + " holds no PEM private key");
  const bool matches = X509_check_private_key(cert.get(), key) == 1;
  EVP_PKEY_free(key);
  if (!matches) return InvalidArgument(files.key_file + " is not the key of " + files.cert_file);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert.get(), nullptr);
  const bool verified = X509_verify_cert(ctx) == 1;
  const std::string why =
      verified ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  if (!verified)
    return InvalidArgument(files.cert_file + " is not valid under " + files.ca_file + ": " + why);
  return Status::Ok();
}

StatusOr<std::unique_ptr<ReloadableSslContext>> ReloadableSslContext::Create(TlsFiles files) {
  std::unique_ptr<ReloadableSslContext> ctx(new ReloadableSslContext(std::move(files)));
  GDS_RETURN_IF_ERROR(ctx->Reload());
  return ctx;
}

std::shared_ptr<boost::asio::ssl::context> ReloadableSslContext::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

Status ReloadableSslContext::Reload() {
  GDS_RETURN_IF_ERROR(CheckTlsFiles(files_));
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  // AES-128-GCM first, at the server's choice: as strong as clients need and the cheapest
  // suite per byte with AES-NI (OpenSSL's default order puts AES-256 first).
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_ciphersuites(ctx->native_handle(),
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                           "TLS_CHACHA20_POLY1305_SHA256");
  if (!ec) ctx->use_certificate_chain_file(files_.cert_file, ec);
  if (!ec) ctx->use_private_key_file(files_.key_file, ssl::context::pem, ec);
  if (ec) return InvalidArgument("TLS context from " + files_.cert_file + ": " + ec.message());
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(ctx);
  return Status::Ok();
}

}  // namespace geodatastore::security
