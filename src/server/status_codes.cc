#include "server/status_codes.h"

#include <array>

namespace geodatastore::server {

namespace {

using G = grpc::StatusCode;
using S = StatusCode;

constexpr std::array<FrontEndStatus, 15> kTable = {{
    {S::kOk, 200, G::OK, ""},
    {S::kInvalidArgument, 400, G::INVALID_ARGUMENT, "ERR"},
    {S::kOutOfRange, 400, G::OUT_OF_RANGE, "ERR"},
    {S::kNotFound, 404, G::NOT_FOUND, "ERR"},
    {S::kFailedPrecondition, 409, G::FAILED_PRECONDITION, "ERR"},
    {S::kWrongType, 409, G::FAILED_PRECONDITION, "WRONGTYPE"},
    {S::kAlreadyExists, 409, G::ALREADY_EXISTS, "ERR"},
    {S::kResourceExhausted, 422, G::RESOURCE_EXHAUSTED, "ERR"},  // a limit: retrying won't help
    {S::kUnavailable, 503, G::UNAVAILABLE, "ERR"},
    {S::kDeadlineExceeded, 504, G::DEADLINE_EXCEEDED, "ERR"},
    {S::kUnauthenticated, 401, G::UNAUTHENTICATED, "NOAUTH"},
    {S::kPermissionDenied, 403, G::PERMISSION_DENIED, "NOPERM"},
    {S::kCorruption, 500, G::INTERNAL, "ERR"},
    {S::kInternal, 500, G::INTERNAL, "ERR"},
    {S::kInternal, 500, G::UNKNOWN, "ERR"},
}};

}  // namespace

const FrontEndStatus& StatusFor(StatusCode code) {
  for (const FrontEndStatus& row : kTable) {
    if (row.code == code) return row;
  }
  return StatusFor(S::kInternal);
}

Status FromGrpcStatus(const grpc::Status& status) {
  for (const FrontEndStatus& row : kTable) {
    if (row.grpc == status.error_code()) {
      return row.code == S::kOk ? Status::Ok() : Status(row.code, status.error_message());
    }
  }
  return Internal(status.error_message());
}

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(StatusFor(status.code()).grpc, status.message());
}

}  // namespace geodatastore::server
