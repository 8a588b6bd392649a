// libcurl's multi interface driven by curl_multi_poll on the calling thread: the pull streams
// layer bodies into extraction threads through sockets, and a paused transfer waits on that
// socket's writability through the poll's extra descriptors, so one loop serves every transfer
// with no thread of its own.
#include "gctool/registry/http.hpp"

#include <curl/curl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <thread>

#include "gctool/core/error.hpp"

namespace gctool::registry {
namespace {

// The proxy exceptions: the user's no_proxy list, and loopback always, as Go's net/http (and so
// Docker and Podman) never sends a request for a loopback host through a proxy.
const char* no_proxy_list() {
  static const std::string list = [] {
    std::string hosts = "localhost,127.0.0.0/8,::1";
    for (const char* name : {"no_proxy", "NO_PROXY"}) {
      if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
        return hosts + "," + value;
      }
    }
    return hosts;
  }();
  return list.c_str();
}

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

bool retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool tls_error(CURLcode code) {
  return code == CURLE_SSL_CONNECT_ERROR || code == CURLE_PEER_FAILED_VERIFICATION ||
         code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CACERT_BADFILE;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

// One transfer: its request, response, the curl handle and the retry bookkeeping.
struct Transfer {
  HttpRequest* request = nullptr;
  HttpResponse response;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  int attempt = 0;
  std::uint64_t skip = 0;  // bytes of a resumed body the sink already had (server ignored Range)
  bool body_started = false;
  bool paused = false;
  bool done = false;
  std::chrono::steady_clock::time_point retry_at{};
  bool waiting_retry = false;

  ~Transfer() {
    if (easy != nullptr) {
      curl_easy_cleanup(easy);
    }
    curl_slist_free_all(headers);
  }

  long status() const {
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }

  static size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
      t->response.headers.clear();  // a redirect's or 100-continue's block is not the answer
    } else if (const auto colon = line.find(':'); colon != line.npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      t->response.headers[lower(line.substr(0, colon))] = std::string(value);
    }
    return size * n;
  }

  static size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view chunk(data, size * n);
    const long code = t->status();
    HttpRequest& req = *t->request;
    if (req.sink && code >= 200 && code < 300) {
      if (!t->body_started) {
        t->body_started = true;
        t->skip = code == 206 ? 0 : t->response.streamed;
      }
      const auto drop = static_cast<std::size_t>(std::min<std::uint64_t>(t->skip, chunk.size()));
      chunk.remove_prefix(drop);
      if (chunk.empty()) {
        t->skip -= drop;
        return size * n;
      }
      const SinkResult result = req.sink(chunk);
      if (result == SinkResult::abort) {
        return 0;
      }
      if (result == SinkResult::pause) {
        // curl hands over the whole chunk again after the pause, skipped part included.
        t->paused = true;
        return CURL_WRITEFUNC_PAUSE;
      }
      t->skip -= drop;
      t->response.streamed += chunk.size();
      return size * n;
    }
    if (t->response.body.size() + chunk.size() > req.max_body) {
      return 0;  // too large to keep: fails the transfer with CURLE_WRITE_ERROR
    }
    t->response.body.append(chunk);
    return size * n;
  }

  static size_t on_upload(char* buffer, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    curl_off_t offset = 0;
    curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &offset);
    const ssize_t got =
        ::pread(t->request->upload_fd, buffer, size * n, static_cast<off_t>(offset));
    return got < 0 ? CURL_READFUNC_ABORT : static_cast<size_t>(got);
  }

  static int on_seek(void* user, curl_off_t offset, int origin) {
    // pread from the transfer's upload count needs no seek; curl rewinds to 0 for a retry or an
    // authentication round.
    (void)user;
    return origin == SEEK_SET && offset == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_CANTSEEK;
  }

  void setup() {
    if (easy != nullptr) {
      curl_easy_cleanup(easy);
    }
    curl_slist_free_all(headers);
    headers = nullptr;
    easy = curl_easy_init();
    if (easy == nullptr) {
      throw Error(ENOMEM, "curl_easy_init");
    }
    HttpRequest& req = *request;
    const std::uint64_t streamed = response.streamed;
    response = HttpResponse();
    response.streamed = streamed;
    curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOPROXY, no_proxy_list());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, this);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 30L);
    // A stalled transfer (under 1 byte/s for a minute) fails and is retried.
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "gctool/" GCTOOL_VERSION);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
    if (!req.verify_tls) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!req.ca_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, req.ca_file.c_str());
    }
    for (const auto& h : req.headers) {
      headers = curl_slist_append(headers, h.c_str());
    }
    body_started = false;
    if (response.streamed > 0) {
      // Resume where the sink stopped; a server that ignores Range sends it all again (skipped).
      headers =
          curl_slist_append(headers, fmt::format("Range: bytes={}-", response.streamed).c_str());
    }
    if (req.method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (req.method != "GET") {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      if (req.upload_fd >= 0) {
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Transfer::on_upload);
        curl_easy_setopt(easy, CURLOPT_READDATA, this);
        curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &Transfer::on_seek);
        curl_easy_setopt(easy, CURLOPT_SEEKDATA, this);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.upload_size));
      } else {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(req.body.size()));
      }
      headers = curl_slist_append(headers, "Expect:");
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  }
};

struct Http::State {
  CURLM* multi = nullptr;
  ~State() {
    if (multi != nullptr) {
      curl_multi_cleanup(multi);
    }
  }
};

Http::Http() : state_(std::make_unique<State>()) {
  static GlobalInit init;
  state_->multi = curl_multi_init();
  if (state_->multi == nullptr) {
    throw Error(ENOMEM, "curl_multi_init");
  }
}

Http::~Http() = default;

std::vector<HttpResponse> Http::perform(std::vector<HttpRequest*> requests,
                                        const std::function<void()>& tick) {
  CURLM* multi = state_->multi;
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_parallel);
  std::vector<std::unique_ptr<Transfer>> transfers;
  // Removes every handle still in the multi, also when an exception leaves early.
  struct Detach {
    CURLM* multi;
    std::vector<std::unique_ptr<Transfer>>& transfers;
    ~Detach() {
      for (auto& t : transfers) {
        if (t->easy != nullptr && !t->done && !t->waiting_retry) {
          curl_multi_remove_handle(multi, t->easy);
        }
      }
    }
  } detach{multi, transfers};
  for (HttpRequest* request : requests) {
    auto t = std::make_unique<Transfer>();
    t->request = request;
    t->setup();
    curl_multi_add_handle(multi, t->easy);
    transfers.push_back(std::move(t));
  }
  std::size_t remaining = transfers.size();
  auto last_tick = std::chrono::steady_clock::now();
  while (remaining > 0) {
    int running = 0;
    if (const CURLMcode rc = curl_multi_perform(multi, &running); rc != CURLM_OK) {
      throw Error(EIO, fmt::format("curl_multi_perform: {}", curl_multi_strerror(rc)));
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) {
        continue;
      }
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi, t->easy);
      t->response.status = code == CURLE_OK ? t->status() : 0;
      if (code != CURLE_OK) {
        t->response.error = t->error[0] != '\0' ? t->error : curl_easy_strerror(code);
        t->response.tls_failed = tls_error(code);
      }
      if (code == CURLE_OK) {
        curl_off_t length = -1;
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        t->response.content_length = length > 0 ? static_cast<std::uint64_t>(length) : 0;
      }
      const bool again = (code != CURLE_OK && retryable(code)) || t->response.status >= 500;
      if (again && ++t->attempt < t->request->attempts) {
        t->waiting_retry = true;
        t->retry_at = std::chrono::steady_clock::now() + retry_delay * (1 << (t->attempt - 1));
        continue;
      }
      t->done = true;
      --remaining;
    }
    // Transfers due for another try start again (a streamed body resumes with Range).
    const auto now = std::chrono::steady_clock::now();
    for (auto& t : transfers) {
      if (t->waiting_retry && now >= t->retry_at) {
        t->waiting_retry = false;
        t->setup();
        curl_multi_add_handle(multi, t->easy);
      }
    }
    // Paused transfers wait for their sink's descriptor; they resume once it can take more.
    std::vector<curl_waitfd> extra;
    for (auto& t : transfers) {
      if (t->paused && !t->done) {
        pollfd p{t->request->pause_fd, POLLOUT, 0};
        if (t->request->pause_fd < 0 || ::poll(&p, 1, 0) > 0) {
          t->paused = false;
          curl_easy_pause(t->easy, CURLPAUSE_CONT);
        } else {
          extra.push_back(curl_waitfd{t->request->pause_fd, CURL_WAIT_POLLOUT, 0});
        }
      }
    }
    if (remaining == 0) {
      break;
    }
    if (tick && now - last_tick >= std::chrono::milliseconds(100)) {
      last_tick = now;
      tick();
    }
    int ready = 0;
    curl_multi_poll(multi, extra.data(), static_cast<unsigned>(extra.size()), 100, &ready);
  }
  if (tick) {
    tick();
  }
  std::vector<HttpResponse> out;
  for (auto& t : transfers) {
    out.push_back(std::move(t->response));
  }
  return out;
}

}  // namespace gctool::registry
