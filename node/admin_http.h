// The admin API's requests and answers as values, the call policy, and AdminServer: the admin
// HTTP/1.1 listener (Boost.Beast) that hands each request to a handler on the node thread, over
// TLS when given a certificate and key (HTTPS; a plain-HTTP request to it gets a 400 saying so).
// Requests are small (a body over 1 MiB, or a head over 8 KiB, is answered 413); one request in
// flight per connection, keep-alive honoured, a 10 s deadline per request. Not thread-safe: node
// thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ringkeeper/status.h"

namespace boost::asio {
class io_context;
}

namespace ringkeeper {

struct AdminRequest {
  std::string method;    // "GET", "POST", ...
  std::string target;    // path and query, e.g. "/v1/owners?key=a"
  std::string body;
  std::string authorization;  // the Authorization header, if any
  bool loopback = false;      // the caller connected from a loopback address
  std::string content_type;   // the Content-Type header, if any
  std::string host;           // the Host header, if any
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Read-only calls (GET) are open unless `reads_need_token`; state-changing ones (and then reads)
// need a loopback caller or the admin token ("Authorization: Bearer TOKEN", compared in constant
// time).
bool admin_call_allowed(const AdminRequest& req, const std::string& admin_token, bool reads_need_token = false);

// HTTPS for the admin listener: PEM file paths; both empty: plain HTTP.
struct AdminTls {
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !cert_file.empty(); }
};
// Loads the certificate and key as the server will: ok when usable (or not configured), else
// kInvalidArgument naming the flag and the reason (a missing half, an unreadable or mismatched file).
Status check_admin_tls(const std::string& cert_file, const std::string& key_file);

// What the Env hands the runtime for its admin address (Env::make_admin_listener): something
// that passes requests to the handler on the node thread until closed.
class AdminListener {
 public:
  using Handler = std::function<AdminResponse(const AdminRequest&)>;
  virtual ~AdminListener() = default;
  // Binds: the bound "host:port", or kIoError with the reason (the address does not resolve or
  // cannot be bound; with TLS, a certificate or key that no longer loads).
  virtual Result<std::string> start() = 0;
  virtual void close() = 0;
};

class AdminServer final : public AdminListener {
 public:
  // `tls`'s files are loaded by start().
  AdminServer(boost::asio::io_context& io, std::string listen, Handler handler, AdminTls tls = {});
  ~AdminServer() override;
  Result<std::string> start() override;
  void close() override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ringkeeper
