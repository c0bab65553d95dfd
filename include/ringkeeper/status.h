// Status and Result<T>: how every fallible call of the public API (Node::open, start, the
// writers) and of the runtime behind it says what went wrong — never by throwing. A Status is ok,
// or a code an embedder can act on plus one line for a human; a Result<T> is a T or a non-ok
// Status. Plain values, header-only, usable from any thread. Exit codes are not here: ringd maps
// codes to its own (tools/ringd.cc).
//   auto opened = ringkeeper::Node::open(cfg);
//   if (!opened.ok()) { log(opened.status().to_string()); return; }      // "data_dir_refused: ..."
//   std::unique_ptr<ringkeeper::Node> node = std::move(opened).value();
//   if (ringkeeper::Status s = node->start(); !s.ok()) { /* s.code(), s.message() */ }
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ringkeeper {

// What went wrong, in terms of what the caller can do about it. Each code's message says the rest.
enum class StatusCode : uint8_t {
  kOk = 0,
  // The caller's settings or arguments are malformed, or contradict what the data dir recorded
  // (another cluster name or replication settings, other --tokens than the persisted ones). Fix
  // the settings; retrying as is fails again.
  kInvalidArgument,
  // The data dir cannot be used as it is: a newer, older or unknown format, corrupt, locked by
  // another running node, unreadable, or the dir of a node that left or was removed. Needs an
  // operator (another build, another dir, or stop the other node).
  kDataDirRefused,
  // A store or system I/O operation failed while running (a write the node cannot keep, a port
  // it cannot bind).
  kIoError,
  // The node's or the cluster's state, or the protocol's rules, refuse the operation (already
  // started, a change in flight, a live node to remove, a value over the size bounds, this node
  // removed from the cluster). The message says which; some succeed later, once the state changed.
  kRefused,
  // The node is not running: not started yet, stopping or stopped, or it did not answer in time.
  kNotRunning,
  // Something the runtime did not expect (an exception caught at the API boundary). A bug.
  kInternal,
};

// "ok", "invalid_argument", "data_dir_refused", "io_error", "refused", "not_running", "internal".
constexpr std::string_view to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kDataDirRefused: return "data_dir_refused";
    case StatusCode::kIoError: return "io_error";
    case StatusCode::kRefused: return "refused";
    case StatusCode::kNotRunning: return "not_running";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

// Ok (the default), or a code and a one-line message. Must be looked at ([[nodiscard]]).
//   Status s = Status::refused("a change is in flight");  s.ok() == false
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status data_dir_refused(std::string m) { return {StatusCode::kDataDirRefused, std::move(m)}; }
  static Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status refused(std::string m) { return {StatusCode::kRefused, std::move(m)}; }
  static Status not_running(std::string m) { return {StatusCode::kNotRunning, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // One line, without the code; empty when ok.
  const std::string& message() const { return message_; }
  // "code: message", or "ok".
  std::string to_string() const {
    if (ok()) return "ok";
    return std::string(ringkeeper::to_string(code_)) + ": " + message_;
  }
  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A T, or the non-ok Status that says why there is none. value(), * and -> on an error abort the
// process (a broken precondition, like dereferencing a null pointer): check ok() first.
//   Result<int> parse(std::string_view s);
//   auto r = parse("42");  if (r.ok()) use(*r); else report(r.status());
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Status>, "a Result<Status> would be ambiguous: return Status");
  static_assert(!std::is_reference_v<T>, "Result holds values");

 public:
  // From a value (or anything a T is made from), implicitly: `return value;`.
  template <class U = T>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::remove_cvref_t<U>, Status> &&
             !std::is_same_v<std::remove_cvref_t<U>, Result>)
  Result(U&& value) : value_(std::forward<U>(value)) {}  // NOLINT(google-explicit-constructor)
  // From an error, implicitly: `return Status::refused("...");`. An ok Status carries no value,
  // so it becomes kInternal (a bug in the callee, reported rather than hidden).
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status::internal("Result made from an ok Status without a value");
  }

  bool ok() const { return value_.has_value(); }
  // Ok when there is a value.
  const Status& status() const { return status_; }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &value(); }

 private:
  T& checked() {
    if (!value_) {
      std::fprintf(stderr, "ringkeeper::Result: value() of an error: %s\n", status_.to_string().c_str());
      std::abort();
    }
    return *value_;
  }

  std::optional<T> value_;
  Status status_;  // ok when value_ is set
};

}  // namespace ringkeeper
