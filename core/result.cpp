#include "core/result.h"

#include <cstdio>
#include <cstdlib>

namespace labloop {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kAborted:
      return "aborted";
    case ErrorCode::kFailedPrecondition:
      return "failed precondition";
    case ErrorCode::kDeadlineExceeded:
      return "deadline exceeded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Error::ToString() const { return std::string(ErrorCodeName(code)) + ": " + message; }

void CheckFailed(const char* expression, const char* file, int line) {
  std::fprintf(stderr, "labloop: internal check failed: %s at %s:%d\n", expression, file, line);
  std::abort();
}

}  // namespace labloop
