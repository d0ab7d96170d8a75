#include "support/test_pki.h"

#include "support/geods_process.h"

namespace geodatastore::testing {

namespace {
constexpr char kKey[] = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
}

TestPki::TestPki() {
  for (const char* ca : {"ca", "rogue-ca"}) {
    if (!Run(std::string("openssl req -x509 ") + kKey + " -days 30 -subj '/CN=" + ca +
             "' -keyout " + dir_.Sub(std::string(ca) + ".key") + " -out " +
             dir_.Sub(std::string(ca) + ".pem"))) {
      return;
    }
  }
}

bool TestPki::Run(const std::string& command) {
  std::string output;
  if (RunCommand(command, &output) == 0) return true;
  error_ = command + ": " + output;
  return false;
}

bool TestPki::Sign(const std::string& ca, const std::string& name, const std::string& cn, int days,
                   const std::string& san) {
  const std::string ext = dir_.Sub(name + ".ext");
  const std::string alt = san == "-" ? ""
                                     : "subjectAltName=DNS:" + (san.empty() ? cn : san) +
                                           ",DNS:localhost,IP:127.0.0.1\\n";
  return Run("printf '" + alt + "extendedKeyUsage=serverAuth,clientAuth\\n' > " + ext) &&
         Run(std::string("openssl req ") + kKey + " -subj '/CN=" + cn + "' -keyout " +
             key_file(name) + " -out " + dir_.Sub(name + ".csr")) &&
         Run("openssl x509 -req -in " + dir_.Sub(name + ".csr") + " -CA " + dir_.Sub(ca + ".pem") +
             " -CAkey " + dir_.Sub(ca + ".key") + " -CAcreateserial -days " + std::to_string(days) +
             " -extfile " + ext + " -out " + cert_file(name));
}

bool TestPki::Issue(const std::string& name, const std::string& cn, int days,
                    const std::string& san) {
  return Sign("ca", name, cn, days, san);
}

bool TestPki::IssueRogue(const std::string& name, const std::string& cn) {
  return Sign("rogue-ca", name, cn, 30, "");
}

bool TestPki::SelfSigned(const std::string& name, const std::string& cn) {
  return Run(std::string("openssl req -x509 ") + kKey + " -days 30 -subj '/CN=" + cn +
             "' -addext 'subjectAltName=DNS:" + cn + ",IP:127.0.0.1' -keyout " + key_file(name) +
             " -out " + cert_file(name));
}

std::string TestPki::TlsYaml(const std::string& name, bool clients) const {
  return "  tls: {ca_file: " + ca_file() + ", cert_file: " + cert_file(name) +
         ", key_file: " + key_file(name) + ", clients: " + (clients ? "true" : "false") + "}\n";
}

}  // namespace geodatastore::testing
