#pragma once
// Result<T> and Error: how labloop reports expected failures.
//
// An operation that can fail for reasons outside the program (bad input, a missing file, a busy
// database, a simulation that crashed) returns Result<T>. The Error's code tells the caller what to
// do; its message is lower-case, specific and names the record or key at fault.

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace labloop {

enum class ErrorCode {
  kInvalidArgument,     // the input is wrong: reject it, do not retry
  kNotFound,            // a file, record or key does not exist
  kUnavailable,         // transient: retry the call (busy database, lost connection)
  kAborted,             // the step was interrupted: retry the step
  kFailedPrecondition,  // the system is not in a state to do this: stop and ask a person
  kDeadlineExceeded,    // a timeout
  kInternal,            // a bug or a foreign library failed unexpectedly
};

// A short lower-case name for the code ("invalid argument"), for messages and the database.
const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // "invalid argument: line 3: unparsable smiles 'C1CC'".
  std::string ToString() const;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Status is a Result with no value.
using Status = Result<void>;

inline tl::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

// Prefixes the message of an error with context ("reading pool.smi: ...").
inline Error WithContext(Error error, const std::string& context) {
  error.message = context + ": " + error.message;
  return error;
}

// Returns the error of a Result-returning expression from the enclosing function, which must
// itself return a Result.
#define LABLOOP_TRY(expr)                                \
  do {                                                   \
    auto labloop_try_result = (expr);                    \
    if (!labloop_try_result) {                           \
      return tl::unexpected(labloop_try_result.error()); \
    }                                                    \
  } while (false)

// Aborts with a message when a true invariant is broken. Never reachable from user input.
[[noreturn]] void CheckFailed(const char* expression, const char* file, int line);
#define LABLOOP_CHECK(condition) \
  ((condition) ? (void)0 : ::labloop::CheckFailed(#condition, __FILE__, __LINE__))

}  // namespace labloop
