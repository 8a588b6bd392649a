// Owning pointers for libarchive's writers and entries, shared by the code that writes tar
// streams (layers in pack.cpp, image archives in save.cpp).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace gctool::image {

struct ArchiveWriterDeleter {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};
using ArchiveWriterPtr = std::unique_ptr<archive, ArchiveWriterDeleter>;

struct ArchiveEntryDeleter {
  void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};
using ArchiveEntryPtr = std::unique_ptr<archive_entry, ArchiveEntryDeleter>;

inline ArchiveEntryPtr new_archive_entry() {
  return ArchiveEntryPtr(archive_entry_new());
}

}  // namespace gctool::image
