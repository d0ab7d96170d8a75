// Channel arguments for node-to-node gRPC channels (replication, anti-entropy).
#pragma once

#include <grpcpp/support/channel_arguments.h>

namespace geodatastore {

// gRPC's own reconnect backoff starts at 1 s: a peer that came up just after us would stay
// unreachable that long (new calls fail fast meanwhile). Our callers back off themselves.
inline grpc::ChannelArguments PeerChannelArgs() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return args;
}

}  // namespace geodatastore
