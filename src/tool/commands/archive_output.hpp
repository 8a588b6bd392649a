// Where `image save` and `export` write their tar: stdout (never a terminal) or a file that
// appears only once complete.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::tool {

// Calls write with stdout for "" or "-", else with a temporary file beside output that is renamed
// to output once write returned; a failed write leaves no half archive behind.
template <typename Write>
void write_archive_output(const std::string& output, Write write) {
  if (output.empty() || output == "-") {
    if (::isatty(1)) {
      throw_invalid("refusing to write an archive to a terminal; use -o FILE or redirect stdout");
    }
    write(BorrowedFd(1));
    return;
  }
  const std::string tmp = output + ".tmp";
  UniqueFd file(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!file) {
    throw_errno("create \"{}\"", tmp);
  }
  try {
    write(file.borrow());
    check(::fsync(file.get()), "fsync \"{}\"", tmp);
    check(::rename(tmp.c_str(), output.c_str()), "rename \"{}\"", tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace gctool::tool
