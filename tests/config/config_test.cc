#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace geodatastore::config {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const std::string& yaml) {
  auto c = ParseConfig(yaml);
  EXPECT_FALSE(c.ok()) << yaml;
  return c.ok() ? "" : c.status().message();
}

TEST(Config, ExampleFilesParse) {
  for (const char* name : {"single-node.yaml", "full.yaml"}) {
    auto c = LoadConfig(std::string(GDS_SOURCE_DIR) + "/config/examples/" + name);
    ASSERT_TRUE(c.ok()) << name << ": " << c.status().ToString();
    EXPECT_EQ(c->node.id, "us-east-1");
  }
  auto full = LoadConfig(std::string(GDS_SOURCE_DIR) + "/config/examples/full.yaml");
  ASSERT_EQ(full->cluster.peers.size(), 2u);
  EXPECT_EQ(full->cluster.peers[1].grpc, "127.0.0.1:9092");
  EXPECT_EQ(full->limits.max_collection_elements, 1000000u);
  EXPECT_EQ(full->limits.max_path_steps, 100000u);
}

TEST(Config, DefaultsFillWhatIsNotGiven) {
  auto c = ParseConfig("node: {id: n1, region: r1}");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->node.data_dir, "./data/n1");
  EXPECT_EQ(c->listen.http, "127.0.0.1:8080");
  EXPECT_EQ(c->consistency.timeout_ms, 2000u);
  EXPECT_EQ(c->limits.max_request_bytes, 1048576u);
  EXPECT_EQ(c->limits.max_collection_elements, 1000000u);
  EXPECT_EQ(c->limits.max_paths, 1000u);
  EXPECT_EQ(c->limits.max_path_steps, 100000u);
  EXPECT_FALSE(c->storage.sync_writes);
}

TEST(Config, EveryErrorIsOneLineNamingTheKey) {
  EXPECT_THAT(ErrorOf("node: {id: n1}"), HasSubstr("node.region: is required"));
  EXPECT_THAT(ErrorOf("listen: {}"), HasSubstr("node: is required"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nlisten: {htp: x}"),
              HasSubstr("listen.htp: unknown key"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nbogus: 1"), HasSubstr("bogus: unknown key"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nlisten: {http: nowhere}"),
              HasSubstr("listen.http: expected host:port"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nconsistency: {timeout_ms: -5}"),
              HasSubstr("consistency.timeout_ms: bad value"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nconsistency: {default_read: strong}"),
              HasSubstr("consistency.default_read: 'strong' is not one of"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nstorage: {sync_writes: maybe}"),
              HasSubstr("storage.sync_writes: bad value"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\ncluster: {peers: [{id: n2, region: r}]}"),
              HasSubstr("cluster.peers[0].grpc: is required"));
  EXPECT_THAT(
      ErrorOf("node: {id: n1, region: r}\ncluster: {peers: [{id: n1, region: r, grpc: 'h:1'}]}"),
      HasSubstr("appears twice"));
  EXPECT_THAT(ErrorOf("node: [1, 2"), HasSubstr("not valid YAML"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nlimits: {max_key_bytes: 0}"),
              HasSubstr("limits.max_key_bytes: must be greater than 0"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nlimits: {max_paths: 0}"),
              HasSubstr("limits.max_paths: must be greater than 0"));
  EXPECT_THAT(ErrorOf("node: {id: n1, region: r}\nlimits: {max_path_steps: -1}"),
              HasSubstr("limits.max_path_steps: bad value"));
  for (const char* yaml : {"node: {id: n1}", "node: {id: n1, region: r}\nlisten: {htp: x}"}) {
    EXPECT_EQ(ErrorOf(yaml).find('\n'), std::string::npos);
  }
}

TEST(Config, SecureByDefault) {
  const std::string node = "node: {id: n1, region: r, data_dir: /d/n1}\n";
  // Non-loopback client listeners need TLS for clients and users; the peer listener TLS.
  EXPECT_THAT(ErrorOf(node + "listen: {http: \"0.0.0.0:8080\"}"),
              HasSubstr("listen.http: binds 0.0.0.0, which is not loopback"));
  EXPECT_THAT(ErrorOf(node + "listen: {resp: \"10.1.2.3:6379\"}"), HasSubstr("listen.resp"));
  EXPECT_THAT(ErrorOf(node + "listen: {peer: \"0.0.0.0:7070\"}"),
              HasSubstr("listen.peer: binds 0.0.0.0, which is not loopback, without security.tls"));
  const std::string tls =
      "security:\n  tls: {ca_file: ca.pem, cert_file: n1.pem, key_file: n1.key, clients: true}\n";
  EXPECT_THAT(ErrorOf(node + "listen: {grpc: \"0.0.0.0:9090\"}\n" + tls),
              HasSubstr("security.users_file"));
  auto secured = ParseConfig(node + "listen: {grpc: \"0.0.0.0:9090\", peer: \"0.0.0.0:7070\"}\n" +
                             tls + "  users_file: users.yaml\n");
  ASSERT_TRUE(secured.ok()) << secured.status().ToString();
  EXPECT_TRUE(secured->security.tls_enabled());
  auto insecure =
      ParseConfig(node + "listen: {http: \"0.0.0.0:8080\"}\nsecurity: {insecure: true}");
  EXPECT_TRUE(insecure.ok()) << insecure.status().ToString();
  // Loopback needs nothing; the backup directory defaults next to the data directory.
  auto local = ParseConfig(node + "listen: {http: \"localhost:8080\", grpc: \"[::1]:9090\"}");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(local->security.backup_dir, "/d/backups");
  // With TLS and peers, node-to-node traffic needs its own listener; TLS needs all files.
  EXPECT_THAT(ErrorOf(node + tls + "cluster: {peers: [{id: n2, region: r, grpc: 'h:1'}]}"),
              HasSubstr("listen.peer: is required with security.tls"));
  EXPECT_THAT(ErrorOf(node + "security: {tls: {ca_file: ca.pem}}"),
              HasSubstr("security.tls.cert_file: is required"));
  EXPECT_THAT(ErrorOf(node + "security: {tls: {ca_file: a, cert_file: b, key_file: c, x: 1}}"),
              HasSubstr("security.tls.x: unknown key"));
}

TEST(Config, HostPort) {
  std::string host;
  uint16_t port = 0;
  EXPECT_TRUE(SplitHostPort("127.0.0.1:8080", &host, &port));
  EXPECT_EQ(port, 8080);
  EXPECT_FALSE(SplitHostPort("127.0.0.1:99999", &host, &port));
  EXPECT_FALSE(SplitHostPort(":80", &host, &port));
  EXPECT_FALSE(SplitHostPort("host:", &host, &port));
}

}  // namespace
}  // namespace geodatastore::config
