// libarchive (with libxml2 and ICU behind it), libnftables, libcurl and libcrypto (with TLS,
// HTTP/2, LDAP and Kerberos behind them) and libisal are loaded by the CLI when a
// command first calls them, not at every start: the dynamic linker spent about 4 ms of CPU on
// them in each `gctool run`, which uses neither. Each function below is a stub that jumps
// through a pointer; the pointer first leads to a resolver that dlopens the library, looks the
// function up and stores it, so later calls cost one indirect jump.
// The CLI links with --as-needed: a function missing here leaves the library linked as before
// (slower start, same behaviour), never an undefined symbol. benchmarks/run reports that case.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && defined(__linux__)

// X(function, library index)
#define GCTOOL_LAZY_FUNCTIONS(X)                \
  X(archive_entry_atime, 0)                     \
  X(archive_entry_atime_is_set, 0)              \
  X(archive_entry_atime_nsec, 0)                \
  X(archive_entry_copy_stat, 0)                 \
  X(archive_entry_filetype, 0)                  \
  X(archive_entry_free, 0)                      \
  X(archive_entry_gid, 0)                       \
  X(archive_entry_hardlink, 0)                  \
  X(archive_entry_mtime, 0)                     \
  X(archive_entry_mtime_nsec, 0)                \
  X(archive_entry_new, 0)                       \
  X(archive_entry_pathname, 0)                  \
  X(archive_entry_pathname_utf8, 0)             \
  X(archive_entry_perm, 0)                      \
  X(archive_entry_rdevmajor, 0)                 \
  X(archive_entry_rdevminor, 0)                 \
  X(archive_entry_set_filetype, 0)              \
  X(archive_entry_set_gid, 0)                   \
  X(archive_entry_set_hardlink, 0)              \
  X(archive_entry_set_mtime, 0)                 \
  X(archive_entry_set_pathname, 0)              \
  X(archive_entry_set_perm, 0)                  \
  X(archive_entry_set_rdevmajor, 0)             \
  X(archive_entry_set_rdevminor, 0)             \
  X(archive_entry_set_size, 0)                  \
  X(archive_entry_set_symlink, 0)               \
  X(archive_entry_set_uid, 0)                   \
  X(archive_entry_size, 0)                      \
  X(archive_entry_symlink, 0)                   \
  X(archive_entry_symlink_utf8, 0)              \
  X(archive_entry_uid, 0)                       \
  X(archive_entry_xattr_add_entry, 0)           \
  X(archive_entry_xattr_next, 0)                \
  X(archive_entry_xattr_reset, 0)               \
  X(archive_error_string, 0)                    \
  X(archive_read_data, 0)                       \
  X(archive_read_data_block, 0)                 \
  X(archive_read_free, 0)                       \
  X(archive_read_new, 0)                        \
  X(archive_read_next_header, 0)                \
  X(archive_read_open, 0)                       \
  X(archive_read_support_filter_all, 0)         \
  X(archive_read_support_format_raw, 0)         \
  X(archive_read_support_format_tar, 0)         \
  X(archive_write_add_filter_gzip, 0)           \
  X(archive_write_add_filter_zstd, 0)           \
  X(archive_write_close, 0)                     \
  X(archive_write_data, 0)                      \
  X(archive_write_free, 0)                      \
  X(archive_write_header, 0)                    \
  X(archive_write_new, 0)                       \
  X(archive_write_open, 0)                      \
  X(archive_write_open_fd, 0)                   \
  X(archive_write_set_bytes_in_last_block, 0)   \
  X(archive_write_set_bytes_per_block, 0)       \
  X(archive_write_set_format_pax_restricted, 0) \
  X(archive_write_set_format_raw, 0)            \
  X(archive_write_set_options, 0)               \
  X(nft_ctx_buffer_error, 1)                    \
  X(nft_ctx_buffer_output, 1)                   \
  X(nft_ctx_free, 1)                            \
  X(nft_ctx_get_error_buffer, 1)                \
  X(nft_ctx_get_output_buffer, 1)               \
  X(nft_ctx_new, 1)                             \
  X(nft_ctx_output_get_flags, 1)                \
  X(nft_ctx_output_set_flags, 1)                \
  X(nft_run_cmd_from_buffer, 1)                 \
  X(curl_easy_cleanup, 2)                       \
  X(curl_easy_escape, 2)                        \
  X(curl_easy_getinfo, 2)                       \
  X(curl_easy_init, 2)                          \
  X(curl_easy_pause, 2)                         \
  X(curl_easy_setopt, 2)                        \
  X(curl_easy_strerror, 2)                      \
  X(curl_free, 2)                               \
  X(curl_global_init, 2)                        \
  X(curl_multi_add_handle, 2)                   \
  X(curl_multi_cleanup, 2)                      \
  X(curl_multi_info_read, 2)                    \
  X(curl_multi_init, 2)                         \
  X(curl_multi_perform, 2)                      \
  X(curl_multi_poll, 2)                         \
  X(curl_multi_remove_handle, 2)                \
  X(curl_multi_setopt, 2)                       \
  X(curl_multi_strerror, 2)                     \
  X(curl_slist_append, 2)                       \
  X(curl_slist_free_all, 2)                     \
  X(EVP_DecodeBlock, 3)                         \
  X(EVP_DigestFinal_ex, 3)                      \
  X(EVP_DigestInit_ex, 3)                       \
  X(EVP_DigestUpdate, 3)                        \
  X(EVP_EncodeBlock, 3)                         \
  X(EVP_MD_CTX_free, 3)                         \
  X(EVP_MD_CTX_new, 3)                          \
  X(EVP_sha256, 3)                              \
  X(isal_inflate, 4)                            \
  X(isal_inflate_init, 4)                       \
  X(isal_inflate_reset, 4)

// Per function: the stub, a slot that holds where the stub jumps (first the function's
// resolver entry), and the resolver entry, which hands the slot's address to the common part.
#define GCTOOL_LAZY_STUB(name, library)                            \
  asm(".text\n"                                                    \
      ".globl " #name                                              \
      "\n"                                                         \
      ".type " #name ", @function\n" #name                         \
      ":\n"                                                        \
      "  jmp *gctool_lazy_slot_" #name                             \
      "(%rip)\n"                                                   \
      "gctool_lazy_first_" #name                                   \
      ":\n"                                                        \
      "  leaq gctool_lazy_slot_" #name                             \
      "(%rip), %r11\n"                                             \
      "  jmp gctool_lazy_common\n"                                 \
      ".data\n"                                                    \
      ".balign 8\n"                                                \
      ".globl gctool_lazy_slot_" #name                             \
      "\n"                                                         \
      ".hidden gctool_lazy_slot_" #name                            \
      "\n"                                                         \
      "gctool_lazy_slot_" #name ": .quad gctool_lazy_first_" #name \
      "\n"                                                         \
      ".text\n");
GCTOOL_LAZY_FUNCTIONS(GCTOOL_LAZY_STUB)

// Saves the argument registers (integer and vector), resolves, restores and jumps to the
// function with the caller's arguments and return address untouched.
asm(".text\n"
    "gctool_lazy_common:\n"
    "  pushq %rdi\n"
    "  pushq %rsi\n"
    "  pushq %rdx\n"
    "  pushq %rcx\n"
    "  pushq %r8\n"
    "  pushq %r9\n"
    "  pushq %rax\n"
    "  pushq %r11\n"
    "  subq $136, %rsp\n"
    "  movdqu %xmm0, 0(%rsp)\n"
    "  movdqu %xmm1, 16(%rsp)\n"
    "  movdqu %xmm2, 32(%rsp)\n"
    "  movdqu %xmm3, 48(%rsp)\n"
    "  movdqu %xmm4, 64(%rsp)\n"
    "  movdqu %xmm5, 80(%rsp)\n"
    "  movdqu %xmm6, 96(%rsp)\n"
    "  movdqu %xmm7, 112(%rsp)\n"
    "  movq %r11, %rdi\n"
    "  call gctool_lazy_resolve\n"
    "  movq %rax, %r10\n"
    "  movdqu 0(%rsp), %xmm0\n"
    "  movdqu 16(%rsp), %xmm1\n"
    "  movdqu 32(%rsp), %xmm2\n"
    "  movdqu 48(%rsp), %xmm3\n"
    "  movdqu 64(%rsp), %xmm4\n"
    "  movdqu 80(%rsp), %xmm5\n"
    "  movdqu 96(%rsp), %xmm6\n"
    "  movdqu 112(%rsp), %xmm7\n"
    "  addq $136, %rsp\n"
    "  popq %r11\n"
    "  popq %rax\n"
    "  popq %r9\n"
    "  popq %r8\n"
    "  popq %rcx\n"
    "  popq %rdx\n"
    "  popq %rsi\n"
    "  popq %rdi\n"
    "  jmp *%r10\n");

#define GCTOOL_LAZY_SLOT_DECLARATION(name, library) extern "C" void* gctool_lazy_slot_##name;
GCTOOL_LAZY_FUNCTIONS(GCTOOL_LAZY_SLOT_DECLARATION)

namespace {

struct LazyFunction {
  void** slot;
  const char* name;
  int library;
};

#define GCTOOL_LAZY_ENTRY(name, library) {&gctool_lazy_slot_##name, #name, library},
const LazyFunction kFunctions[] = {GCTOOL_LAZY_FUNCTIONS(GCTOOL_LAZY_ENTRY)};

// The sonames the build linked against (CMake passes them).
const char* const kLibraries[] = {GCTOOL_LAZY_LIBARCHIVE, GCTOOL_LAZY_LIBNFTABLES,
                                  GCTOOL_LAZY_LIBCURL, GCTOOL_LAZY_LIBCRYPTO, GCTOOL_LAZY_LIBISAL};
void* handles[5] = {};

[[noreturn]] void lazy_failure(const char* what, const char* detail) {
  std::fprintf(stderr, "gctool: %s: %s\n", what, detail != nullptr ? detail : "unknown error");
  std::exit(125);
}

}  // namespace

extern "C" __attribute__((used)) void* gctool_lazy_resolve(void** slot) {
  for (const auto& function : kFunctions) {
    if (function.slot != slot) {
      continue;
    }
    void*& handle = handles[function.library];
    if (handle == nullptr) {
      handle = ::dlopen(kLibraries[function.library], RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        lazy_failure(kLibraries[function.library], ::dlerror());
      }
    }
    void* address = ::dlsym(handle, function.name);
    if (address == nullptr) {
      lazy_failure(function.name, ::dlerror());
    }
    *slot = address;
    return address;
  }
  lazy_failure("lazy library function", "unknown slot");
}

#endif
