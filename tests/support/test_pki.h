// TestPki: certificates for TLS tests, made with the openssl command line in a temporary
// directory: a cluster CA, certificates it signs (valid or expired), certificates of a second
// CA nobody trusts, and self-signed ones. Every certificate names its common name (or another
// name) as a DNS subject alternative name, plus localhost and 127.0.0.1.
#pragma once

#include <string>

#include "support/temp_dir.h"

namespace geodatastore::testing {

class TestPki {
 public:
  TestPki();  // makes the cluster CA and the rogue CA; check ok()
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  std::string ca_file() const { return dir_.Sub("ca.pem"); }
  std::string cert_file(const std::string& name) const { return dir_.Sub(name + ".pem"); }
  std::string key_file(const std::string& name) const { return dir_.Sub(name + ".key"); }

  // A certificate with common name cn, signed by the cluster CA, valid for days (negative:
  // expired). Files: cert_file(name), key_file(name). False on failure (see error()).
  // san: its DNS subject alternative name, if not cn ("-": none at all).
  bool Issue(const std::string& name, const std::string& cn, int days = 30,
             const std::string& san = "");
  // The same signed by a CA the cluster does not trust.
  bool IssueRogue(const std::string& name, const std::string& cn);
  // A self-signed certificate.
  bool SelfSigned(const std::string& name, const std::string& cn);

  // YAML for a node's security.tls section with this node's certificate.
  std::string TlsYaml(const std::string& name, bool clients) const;

 private:
  bool Run(const std::string& command);
  bool Sign(const std::string& ca, const std::string& name, const std::string& cn, int days,
            const std::string& san);

  TempDir dir_;
  std::string error_;
};

}  // namespace geodatastore::testing
