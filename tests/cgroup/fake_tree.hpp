// A fake cgroupfs in a temp dir: plain directories and files that the drivers write into, so a
// test can read back exactly what was written.
#pragma once

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>

namespace gctool::cgroup::test {

inline void put(const std::filesystem::path& file, const std::string& content = "") {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << content;
}

inline std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Creates `dir` with each of `files` empty, as the kernel does on mkdir.
inline void put_dir(const std::filesystem::path& dir, std::initializer_list<const char*> files) {
  std::filesystem::create_directories(dir);
  for (const char* file : files) {
    put(dir / file);
  }
}

// Deletes the files (not the directories) below dir, so the driver's rmdir can succeed.
inline void remove_files(const std::filesystem::path& dir) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      std::filesystem::remove(entry.path());
    }
  }
}

}  // namespace gctool::cgroup::test
