// How each front end says a Status: one table for REST (HTTP status and the error body's
// code), gRPC (status code) and RESP (the error's prefix), so that the three agree.
//
// Thread safety: constant data.
#pragma once

#include <grpcpp/support/status.h>

#include <string_view>

#include "common/status.h"

namespace geodatastore::server {

struct FrontEndStatus {
  StatusCode code;
  int http;
  grpc::StatusCode grpc;
  std::string_view resp_prefix;  // "ERR", "NOAUTH", "NOPERM", ...
};

// The row of code (kInternal's for an unknown one).
const FrontEndStatus& StatusFor(StatusCode code);
// The Status a gRPC answer stands for (the first row with that gRPC code).
Status FromGrpcStatus(const grpc::Status& status);
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace geodatastore::server
