// Status and StatusOr<T>: the error values passed across module boundaries.
//
// Thread safety: plain values; distinct objects may be used from distinct threads.
// Exceptions from third-party libraries (yaml-cpp, protobuf, Boost) stop at the edge that
// calls them and become a Status there.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace geodatastore {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from a caller: negative amount, self-loop, over a limit
  kFailedPrecondition,  // valid, but not allowed in this state: re-adding a removed 2P-Set element
  kNotFound,
  kAlreadyExists,
  kWrongType,          // the name exists with another CRDT type
  kOutOfRange,         // arithmetic overflow
  kResourceExhausted,  // a budget or cap of the node reached: a path search, a full collection
  kCorruption,         // undecodable or non-canonical bytes from disk or a peer
  kUnavailable,
  kDeadlineExceeded,
  kInternal,
  kUnauthenticated,   // no credentials, or wrong ones
  kPermissionDenied,  // authenticated, but the role does not allow it
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  bool operator==(const Status&) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status WrongType(std::string m) { return {StatusCode::kWrongType, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : rep_(std::move(value)) {}        // NOLINT: implicit by design
  StatusOr(Status status) : rep_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(rep_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(rep_); }
  Status status() const { return ok() ? Status() : std::get<Status>(rep_); }

  // REQUIRES: ok()
  const T& value() const& { return std::get<T>(rep_); }
  T& value() & { return std::get<T>(rep_); }
  T&& value() && { return std::get<T>(std::move(rep_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> rep_;
};

inline std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kWrongType:
      return "wrong_type";
    case StatusCode::kOutOfRange:
      return "out_of_range";
    case StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case StatusCode::kInternal:
      return "internal";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
  }
  return "unknown";
}

inline std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

}  // namespace geodatastore

// Evaluates expr (a Status); returns it from the enclosing function when not OK.
#define GDS_RETURN_IF_ERROR(expr)                \
  do {                                           \
    ::geodatastore::Status gds_status_ = (expr); \
    if (!gds_status_.ok()) return gds_status_;   \
  } while (0)

#define GDS_CONCAT_INNER_(a, b) a##b
#define GDS_CONCAT_(a, b) GDS_CONCAT_INNER_(a, b)
// Declares lhs from a StatusOr expression, or returns its error.
#define GDS_ASSIGN_OR_RETURN(lhs, expr)                   \
  auto GDS_CONCAT_(gds_statusor_, __LINE__) = (expr);     \
  if (!GDS_CONCAT_(gds_statusor_, __LINE__).ok())         \
    return GDS_CONCAT_(gds_statusor_, __LINE__).status(); \
  lhs = std::move(GDS_CONCAT_(gds_statusor_, __LINE__)).value()
