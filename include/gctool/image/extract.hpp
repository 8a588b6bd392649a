// Safe layer extraction: a (compressed) tar stream becomes a directory tree that overlayfs can use
// as a lower layer. Nothing outside the layer directory is ever created, changed or followed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "gctool/core/fd.hpp"

namespace gctool::image {

// A stream of bytes: fills (part of) the buffer and returns the byte count, 0 at the end.
using ByteSource = std::function<std::size_t(std::span<std::byte>)>;

// Reads a file descriptor to its end (EINTR retried).
ByteSource fd_source(BorrowedFd fd);

// Stops decompression bombs and archives made to exhaust inodes.
struct ExtractLimits {
  std::uint64_t max_bytes = std::uint64_t{256} << 30;  // uncompressed tar stream
  std::uint64_t max_entries = 4'000'000;
};

struct ExtractedLayer {
  std::string diff_id;          // "sha256:<hex>" of the uncompressed tar stream
  std::string digest;           // "sha256:<hex>" of the bytes as read (the compressed blob)
  std::uint64_t size = 0;       // bytes of regular file content
  std::uint64_t tar_bytes = 0;  // length of the uncompressed tar stream
  std::uint64_t entries = 0;
};

// Extracts the tar stream (plain, gzip, zstd, xz, bzip2) from source into the directory layer_dir.
// Paths are confined to layer_dir: leading '/' is stripped, ".." components are refused, no
// symlink is followed (symlinks are stored as written), hardlink targets must lie inside the
// layer. Modes, owners, mtimes and xattrs are kept (except trusted.overlay.*); AUFS whiteouts
// become overlay whiteouts (".wh.NAME" a 0/0 char device, ".wh..wh..opq" the opaque xattr on the
// directory); other device nodes and sockets are skipped. Throws gctool::Error on malformed input,
// a limit or a failing syscall; layer_dir then holds a partial tree the caller removes.
ExtractedLayer extract_layer(const ByteSource& source, BorrowedFd layer_dir,
                             const ExtractLimits& limits = {});

// Reads a stream to its end and returns the digest of its bytes ("sha256:<hex>") and length.
struct StreamDigest {
  std::string digest;
  std::uint64_t bytes = 0;
};
StreamDigest digest_stream(const ByteSource& source);

}  // namespace gctool::image
