// Log throughput: formatting output into CRI records and writing them to a file, against a plain
// write of the same bytes; and the whole path from a pipe (stream_to_log on the io_uring loop)
// against `cat`'s read/write loop. Bytes/s count the container's output.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gctool/container/log_stream.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/sync_wait.hpp"

namespace {

using gctool::container::LogOptions;
using gctool::container::LogStream;
using gctool::container::LogWriter;

constexpr std::size_t kChunk = LogWriter::kReadBufferSize;
// Files start again at this size, so that the benchmark measures the page cache, not the disk
// filling up.
constexpr std::int64_t kFileLimit = 64 * 1024 * 1024;

// 4 MiB of lines of line_size bytes, the last byte of each a newline.
std::string make_output(std::size_t line_size) {
  std::string line(line_size - 1, 'x');
  for (std::size_t i = 0; i < line.size(); ++i) {
    line[i] = static_cast<char>('a' + i % 26);
  }
  line += '\n';
  std::string text;
  while (text.size() < 4 * 1024 * 1024) {
    text += line;
  }
  return text;
}

struct BenchDir {
  BenchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gct-bench-log-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      gctool::throw_errno("mkdtemp");
    }
    path = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

// A file written without formatting; starts again empty past kFileLimit, as the writer's rotation
// with max-file 1 does.
class PlainFile {
 public:
  explicit PlainFile(std::filesystem::path path) : path_(std::move(path)) { open(); }
  void write(std::string_view data) {
    gctool::write_all(fd_, data, "plain file");
    size_ += static_cast<std::int64_t>(data.size());
    if (size_ > kFileLimit) {
      ::unlink(path_.c_str());
      open();
    }
  }

 private:
  void open() {
    fd_ = gctool::UniqueFd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    size_ = 0;
  }
  std::filesystem::path path_;
  gctool::UniqueFd fd_;
  std::int64_t size_ = 0;
};

void BM_LogWriter(benchmark::State& state) {
  const auto output = make_output(static_cast<std::size_t>(state.range(0)));
  BenchDir dir;
  LogOptions options;
  options.max_size = kFileLimit;
  LogWriter writer(dir.path / "container.log", options);
  for (auto _ : state) {
    for (std::size_t pos = 0; pos < output.size(); pos += kChunk) {
      writer.write(LogStream::Stdout, std::string_view(output).substr(pos, kChunk));
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * output.size()));
}

void BM_PlainWrite(benchmark::State& state) {
  const auto output = make_output(static_cast<std::size_t>(state.range(0)));
  BenchDir dir;
  PlainFile file(dir.path / "plain.log");
  for (auto _ : state) {
    for (std::size_t pos = 0; pos < output.size(); pos += kChunk) {
      file.write(std::string_view(output).substr(pos, kChunk));
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * output.size()));
}

// A pipe fed by a thread that writes the output in 64 KiB writes, as a container would.
struct FedPipe {
  explicit FedPipe(const std::string& output) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      gctool::throw_errno("pipe2");
    }
    read_end = gctool::UniqueFd(fds[0]);
    feeder = std::thread([fd = gctool::UniqueFd(fds[1]), &output] {
      for (std::size_t pos = 0; pos < output.size(); pos += kChunk) {
        gctool::write_all(fd, std::string_view(output).substr(pos, kChunk), "pipe");
      }
    });
  }
  ~FedPipe() { feeder.join(); }
  gctool::UniqueFd read_end;
  std::thread feeder;
};

void BM_PipeToLog(benchmark::State& state) {
  const auto output = make_output(static_cast<std::size_t>(state.range(0)));
  BenchDir dir;
  LogOptions options;
  options.max_size = kFileLimit;
  LogWriter writer(dir.path / "container.log", options);
  gctool::io::Loop loop;
  for (auto _ : state) {
    FedPipe pipe(output);
    gctool::io::sync_wait(
        loop, gctool::container::stream_to_log(loop, pipe.read_end, LogStream::Stdout, writer));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * output.size()));
}

// What `cat > file` does: read 128 KiB, write it.
void BM_PipeCat(benchmark::State& state) {
  const auto output = make_output(static_cast<std::size_t>(state.range(0)));
  BenchDir dir;
  PlainFile file(dir.path / "cat.log");
  std::vector<char> buffer(128 * 1024);
  for (auto _ : state) {
    FedPipe pipe(output);
    ssize_t n = 0;
    while ((n = ::read(pipe.read_end.get(), buffer.data(), buffer.size())) > 0) {
      file.write(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * output.size()));
}

}  // namespace

BENCHMARK(BM_PipeToLog)->Arg(80)->Arg(16 * 1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PipeCat)->Arg(80)->Arg(16 * 1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LogWriter)->Arg(80)->Arg(16 * 1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PlainWrite)->Arg(80)->Arg(16 * 1024)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
