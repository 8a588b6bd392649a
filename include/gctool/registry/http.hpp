// HTTP for the registry client, over libcurl's multi interface: several transfers at once on the
// calling thread, each response body kept in memory or streamed to a sink that may push back
// (pause) until a file descriptor is writable. Transfers that fail at the transport level or get a
// 5xx are retried with back-off; a streamed body resumes with Range where it stopped (or skips what
// it had when the server ignores Range). Redirects are followed without the Authorization header
// leaving the original host.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gctool::registry {

// What a sink did with the bytes it was given.
enum class SinkResult { taken, pause, abort };

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent with POST, PUT and PATCH unless upload_fd is set
  int upload_fd = -1;                // a file sent as the body (read with pread from offset 0)
  std::uint64_t upload_size = 0;
  bool verify_tls = true;
  std::string ca_file;  // extra CA bundle (else the system's store)
  // A 2xx body goes here when set: pause makes the same bytes come again once pause_fd is
  // writable, abort fails the transfer; otherwise it is kept in the response, up to max_body.
  std::function<SinkResult(std::string_view)> sink;
  int pause_fd = -1;
  std::uint64_t max_body = std::uint64_t{16} << 20;
  int attempts = 3;  // transport errors and 5xx: tries in all
};

struct HttpResponse {
  long status = 0;                             // 0 when no response came (see error)
  std::map<std::string, std::string> headers;  // names in lower case; the last value of each
  std::string body;                            // when not streamed, or not a 2xx
  std::string error;                           // the transport failure, when status is 0
  bool tls_failed = false;                     // the error was in the TLS handshake
  std::uint64_t streamed = 0;                  // bytes handed to the sink
  std::uint64_t content_length = 0;            // of the whole entity, when the server said it

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Http {
 public:
  Http();
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  // Runs the requests to completion, at most max_parallel at once per host; tick is called at
  // least every 100 ms (progress, checks). Throws only for failures of the client itself;
  // responses carry HTTP and transport errors.
  std::vector<HttpResponse> perform(std::vector<HttpRequest*> requests,
                                    const std::function<void()>& tick = {});
  HttpResponse perform(HttpRequest& request) {
    return std::move(perform(std::vector<HttpRequest*>{&request}).front());
  }

  std::chrono::milliseconds retry_delay{250};
  long max_parallel = 4;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gctool::registry
