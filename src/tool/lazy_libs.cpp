// libarchive (with libxml2 and ICU behind it), libnftables, libcurl and libcrypto (with TLS,
// HTTP/2, LDAP and Kerberos behind them) and libisal are loaded by the CLI when a command first
// calls them, not at every start: the dynamic linker spent about 4 ms of CPU on them in each
// `gctool run`, which uses none of them (measured on a 2-CPU VM).
//
// Each function the library calls is defined here with the signature of the library's own header
// (the compiler checks it against that declaration) and calls through a table of typed pointers.
// The first call into a library opens it with dlopen and fills its whole table, so a missing
// library or function is a gctool::Error thrown from that first call, which the library makes
// from its own code (a constructor such as Sha256's), never from inside a C callback. Plain C++:
// it builds on every architecture.
//
// The CLI links with --as-needed: a function missing here leaves its library linked as before
// (slower start, same behaviour), never an undefined symbol. benchmarks/run reports that case.
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <isa-l/igzip_lib.h>
#include <nftables/libnftables.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdarg>
#include <gctool/core/error.hpp>

// curl.h turns these into type-checking macros under optimisation; here they are the functions.
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt

// X(return type, function, (parameters), (arguments)); curl's variadic functions are below.
#define GCTOOL_LAZY_ARCHIVE(X)                                                                     \
  X(time_t, archive_entry_atime, (archive_entry * a), (a))                                         \
  X(int, archive_entry_atime_is_set, (archive_entry * a), (a))                                     \
  X(long, archive_entry_atime_nsec, (archive_entry * a), (a))                                      \
  X(void, archive_entry_copy_stat, (archive_entry * a, const struct stat* b), (a, b))              \
  X(mode_t, archive_entry_filetype, (archive_entry * a), (a))                                      \
  X(void, archive_entry_free, (archive_entry * a), (a))                                            \
  X(la_int64_t, archive_entry_gid, (archive_entry * a), (a))                                       \
  X(const char*, archive_entry_hardlink, (archive_entry * a), (a))                                 \
  X(time_t, archive_entry_mtime, (archive_entry * a), (a))                                         \
  X(long, archive_entry_mtime_nsec, (archive_entry * a), (a))                                      \
  X(archive_entry*, archive_entry_new, (), ())                                                     \
  X(const char*, archive_entry_pathname, (archive_entry * a), (a))                                 \
  X(const char*, archive_entry_pathname_utf8, (archive_entry * a), (a))                            \
  X(mode_t, archive_entry_perm, (archive_entry * a), (a))                                          \
  X(dev_t, archive_entry_rdevmajor, (archive_entry * a), (a))                                      \
  X(dev_t, archive_entry_rdevminor, (archive_entry * a), (a))                                      \
  X(void, archive_entry_set_filetype, (archive_entry * a, unsigned int b), (a, b))                 \
  X(void, archive_entry_set_gid, (archive_entry * a, la_int64_t b), (a, b))                        \
  X(void, archive_entry_set_hardlink, (archive_entry * a, const char* b), (a, b))                  \
  X(void, archive_entry_set_mtime, (archive_entry * a, time_t b, long c), (a, b, c))               \
  X(void, archive_entry_set_pathname, (archive_entry * a, const char* b), (a, b))                  \
  X(void, archive_entry_set_perm, (archive_entry * a, mode_t b), (a, b))                           \
  X(void, archive_entry_set_rdevmajor, (archive_entry * a, dev_t b), (a, b))                       \
  X(void, archive_entry_set_rdevminor, (archive_entry * a, dev_t b), (a, b))                       \
  X(void, archive_entry_set_size, (archive_entry * a, la_int64_t b), (a, b))                       \
  X(void, archive_entry_set_symlink, (archive_entry * a, const char* b), (a, b))                   \
  X(void, archive_entry_set_uid, (archive_entry * a, la_int64_t b), (a, b))                        \
  X(la_int64_t, archive_entry_size, (archive_entry * a), (a))                                      \
  X(const char*, archive_entry_symlink, (archive_entry * a), (a))                                  \
  X(const char*, archive_entry_symlink_utf8, (archive_entry * a), (a))                             \
  X(la_int64_t, archive_entry_uid, (archive_entry * a), (a))                                       \
  X(void, archive_entry_xattr_add_entry,                                                           \
    (archive_entry * a, const char* b, const void* c, size_t d), (a, b, c, d))                     \
  X(int, archive_entry_xattr_next, (archive_entry * a, const char** b, const void** c, size_t* d), \
    (a, b, c, d))                                                                                  \
  X(int, archive_entry_xattr_reset, (archive_entry * a), (a))                                      \
  X(const char*, archive_error_string, (archive * a), (a))                                         \
  X(la_ssize_t, archive_read_data, (archive * a, void* b, size_t c), (a, b, c))                    \
  X(int, archive_read_data_block, (archive * a, const void** b, size_t* c, la_int64_t* d),         \
    (a, b, c, d))                                                                                  \
  X(int, archive_read_free, (archive * a), (a))                                                    \
  X(archive*, archive_read_new, (), ())                                                            \
  X(int, archive_read_next_header, (archive * a, archive_entry * *b), (a, b))                      \
  X(int, archive_read_open,                                                                        \
    (archive * a, void* b, archive_open_callback* c, archive_read_callback* d,                     \
     archive_close_callback* e),                                                                   \
    (a, b, c, d, e))                                                                               \
  X(int, archive_read_support_filter_all, (archive * a), (a))                                      \
  X(int, archive_read_support_format_raw, (archive * a), (a))                                      \
  X(int, archive_read_support_format_tar, (archive * a), (a))                                      \
  X(int, archive_write_add_filter_gzip, (archive * a), (a))                                        \
  X(int, archive_write_add_filter_zstd, (archive * a), (a))                                        \
  X(int, archive_write_close, (archive * a), (a))                                                  \
  X(la_ssize_t, archive_write_data, (archive * a, const void* b, size_t c), (a, b, c))             \
  X(int, archive_write_free, (archive * a), (a))                                                   \
  X(int, archive_write_header, (archive * a, archive_entry * b), (a, b))                           \
  X(archive*, archive_write_new, (), ())                                                           \
  X(int, archive_write_open,                                                                       \
    (archive * a, void* b, archive_open_callback* c, archive_write_callback* d,                    \
     archive_close_callback* e),                                                                   \
    (a, b, c, d, e))                                                                               \
  X(int, archive_write_open_fd, (archive * a, int b), (a, b))                                      \
  X(int, archive_write_set_bytes_in_last_block, (archive * a, int b), (a, b))                      \
  X(int, archive_write_set_bytes_per_block, (archive * a, int b), (a, b))                          \
  X(int, archive_write_set_format_pax_restricted, (archive * a), (a))                              \
  X(int, archive_write_set_format_raw, (archive * a), (a))                                         \
  X(int, archive_write_set_options, (archive * a, const char* b), (a, b))

#define GCTOOL_LAZY_NFTABLES(X)                                            \
  X(int, nft_ctx_buffer_error, (nft_ctx * a), (a))                         \
  X(int, nft_ctx_buffer_output, (nft_ctx * a), (a))                        \
  X(void, nft_ctx_free, (nft_ctx * a), (a))                                \
  X(const char*, nft_ctx_get_error_buffer, (nft_ctx * a), (a))             \
  X(const char*, nft_ctx_get_output_buffer, (nft_ctx * a), (a))            \
  X(nft_ctx*, nft_ctx_new, (uint32_t a), (a))                              \
  X(unsigned int, nft_ctx_output_get_flags, (nft_ctx * a), (a))            \
  X(void, nft_ctx_output_set_flags, (nft_ctx * a, unsigned int b), (a, b)) \
  X(int, nft_run_cmd_from_buffer, (nft_ctx * a, const char* b), (a, b))

#define GCTOOL_LAZY_CURL(X)                                                                  \
  X(void, curl_easy_cleanup, (CURL * a), (a))                                                \
  X(char*, curl_easy_escape, (CURL * a, const char* b, int c), (a, b, c))                    \
  X(CURL*, curl_easy_init, (), ())                                                           \
  X(CURLcode, curl_easy_pause, (CURL * a, int b), (a, b))                                    \
  X(const char*, curl_easy_strerror, (CURLcode a), (a))                                      \
  X(void, curl_free, (void* a), (a))                                                         \
  X(CURLcode, curl_global_init, (long a), (a))                                               \
  X(CURLMcode, curl_multi_add_handle, (CURLM * a, CURL * b), (a, b))                         \
  X(CURLMcode, curl_multi_cleanup, (CURLM * a), (a))                                         \
  X(CURLMsg*, curl_multi_info_read, (CURLM * a, int* b), (a, b))                             \
  X(CURLM*, curl_multi_init, (), ())                                                         \
  X(CURLMcode, curl_multi_perform, (CURLM * a, int* b), (a, b))                              \
  X(CURLMcode, curl_multi_poll, (CURLM * a, curl_waitfd * b, unsigned int c, int d, int* e), \
    (a, b, c, d, e))                                                                         \
  X(CURLMcode, curl_multi_remove_handle, (CURLM * a, CURL * b), (a, b))                      \
  X(const char*, curl_multi_strerror, (CURLMcode a), (a))                                    \
  X(curl_slist*, curl_slist_append, (curl_slist * a, const char* b), (a, b))                 \
  X(void, curl_slist_free_all, (curl_slist * a), (a))

#define GCTOOL_LAZY_CRYPTO(X)                                                                \
  X(int, EVP_DecodeBlock, (unsigned char* a, const unsigned char* b, int c), (a, b, c))      \
  X(int, EVP_DigestFinal_ex, (EVP_MD_CTX * a, unsigned char* b, unsigned int* c), (a, b, c)) \
  X(int, EVP_DigestInit_ex, (EVP_MD_CTX * a, const EVP_MD* b, ENGINE* c), (a, b, c))         \
  X(int, EVP_DigestUpdate, (EVP_MD_CTX * a, const void* b, size_t c), (a, b, c))             \
  X(int, EVP_EncodeBlock, (unsigned char* a, const unsigned char* b, int c), (a, b, c))      \
  X(void, EVP_MD_CTX_free, (EVP_MD_CTX * a), (a))                                            \
  X(EVP_MD_CTX*, EVP_MD_CTX_new, (), ())                                                     \
  X(const EVP_MD*, EVP_sha256, (), ())

#define GCTOOL_LAZY_ISAL(X)                            \
  X(int, isal_inflate, (inflate_state * a), (a))       \
  X(void, isal_inflate_init, (inflate_state * a), (a)) \
  X(void, isal_inflate_reset, (inflate_state * a), (a))

#define GCTOOL_LAZY_CURL_VARIADIC(X)                                   \
  X(CURLcode, curl_easy_getinfo, (CURL * a, CURLINFO b, ...), (a, b))  \
  X(CURLcode, curl_easy_setopt, (CURL * a, CURLoption b, ...), (a, b)) \
  X(CURLMcode, curl_multi_setopt, (CURLM * a, CURLMoption b, ...), (a, b))

namespace {

void* open_library(const char* soname) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw gctool::Error(ELIBACC, fmt::format("load {}", ::dlerror()));
  }
  return handle;
}

template <typename Function>
Function look_up(void* handle, const char* name) {
  void* address = ::dlsym(handle, name);
  if (address == nullptr) {
    throw gctool::Error(ELIBBAD, fmt::format("load {}", ::dlerror()));
  }
  return reinterpret_cast<Function>(address);
}

}  // namespace

#define GCTOOL_LAZY_MEMBER(result, name, parameters, arguments) decltype(&::name) name;
#define GCTOOL_LAZY_LOOK_UP(result, name, parameters, arguments) \
  name = look_up<decltype(&::name)>(handle, #name);

// One library's table: a pointer per function, all looked up when the library is first needed;
// after a failure the next call tries again.
#define GCTOOL_LAZY_TABLE(table, list, soname) \
  namespace {                                  \
  struct table {                               \
    list(GCTOOL_LAZY_MEMBER) table() {         \
      void* handle = open_library(soname);     \
      list(GCTOOL_LAZY_LOOK_UP)                \
    }                                          \
  };                                           \
  const table& lazy_##table() {                \
    static const table loaded;                 \
    return loaded;                             \
  }                                            \
  }

// The sonames the build linked against (CMake passes them).
GCTOOL_LAZY_TABLE(Archive, GCTOOL_LAZY_ARCHIVE, GCTOOL_LAZY_LIBARCHIVE)
GCTOOL_LAZY_TABLE(Nftables, GCTOOL_LAZY_NFTABLES, GCTOOL_LAZY_LIBNFTABLES)
#define GCTOOL_LAZY_CURL_ALL(X) GCTOOL_LAZY_CURL(X) GCTOOL_LAZY_CURL_VARIADIC(X)
GCTOOL_LAZY_TABLE(Curl, GCTOOL_LAZY_CURL_ALL, GCTOOL_LAZY_LIBCURL)
GCTOOL_LAZY_TABLE(Crypto, GCTOOL_LAZY_CRYPTO, GCTOOL_LAZY_LIBCRYPTO)
GCTOOL_LAZY_TABLE(Isal, GCTOOL_LAZY_ISAL, GCTOOL_LAZY_LIBISAL)

#define GCTOOL_LAZY_DEFINE(table, result, name, parameters, arguments) \
  extern "C" result name parameters {                                  \
    return lazy_##table().name arguments;                              \
  }
#define GCTOOL_LAZY_DEFINE_ARCHIVE(...) GCTOOL_LAZY_DEFINE(Archive, __VA_ARGS__)
#define GCTOOL_LAZY_DEFINE_NFTABLES(...) GCTOOL_LAZY_DEFINE(Nftables, __VA_ARGS__)
#define GCTOOL_LAZY_DEFINE_CURL(...) GCTOOL_LAZY_DEFINE(Curl, __VA_ARGS__)
#define GCTOOL_LAZY_DEFINE_CRYPTO(...) GCTOOL_LAZY_DEFINE(Crypto, __VA_ARGS__)
#define GCTOOL_LAZY_DEFINE_ISAL(...) GCTOOL_LAZY_DEFINE(Isal, __VA_ARGS__)
GCTOOL_LAZY_ARCHIVE(GCTOOL_LAZY_DEFINE_ARCHIVE)
GCTOOL_LAZY_NFTABLES(GCTOOL_LAZY_DEFINE_NFTABLES)
GCTOOL_LAZY_CURL(GCTOOL_LAZY_DEFINE_CURL)
GCTOOL_LAZY_CRYPTO(GCTOOL_LAZY_DEFINE_CRYPTO)
GCTOOL_LAZY_ISAL(GCTOOL_LAZY_DEFINE_ISAL)

// curl's variadic functions take one argument after the option; its type follows from the
// option's number, as curl itself reads it: a long, an object pointer, a function pointer or a
// curl_off_t (a blob is a pointer).
namespace {

template <typename Result, typename Handle, typename Option>
Result forward_option(Result (*function)(Handle*, Option, ...), Handle* handle, Option option,
                      std::va_list& rest) {
  const int kind = static_cast<int>(option) / 10000 * 10000;
  switch (kind) {
    case CURLOPTTYPE_LONG:
      return function(handle, option, va_arg(rest, long));
    case CURLOPTTYPE_FUNCTIONPOINT:
      return function(handle, option, va_arg(rest, void (*)()));
    case CURLOPTTYPE_OFF_T:
      return function(handle, option, va_arg(rest, curl_off_t));
    default:
      return function(handle, option, va_arg(rest, void*));
  }
}

}  // namespace

#define GCTOOL_LAZY_CURL_SETOPT(result, name, handle_type, option_type)      \
  extern "C" result name(handle_type* handle, option_type option, ...) {     \
    const auto function = lazy_Curl().name;                                  \
    std::va_list rest;                                                       \
    va_start(rest, option);                                                  \
    const result forwarded = forward_option(function, handle, option, rest); \
    va_end(rest);                                                            \
    return forwarded;                                                        \
  }
GCTOOL_LAZY_CURL_SETOPT(CURLcode, curl_easy_setopt, CURL, CURLoption)
GCTOOL_LAZY_CURL_SETOPT(CURLMcode, curl_multi_setopt, CURLM, CURLMoption)

// Every CURLINFO takes a pointer to where the answer goes.
extern "C" CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  const auto function = lazy_Curl().curl_easy_getinfo;
  std::va_list rest;
  va_start(rest, info);
  const CURLcode result = function(curl, info, va_arg(rest, void*));
  va_end(rest);
  return result;
}
