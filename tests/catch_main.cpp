// Catch2's main for every test executable, with one addition: tests never reach a registry off
// this machine. A bare image name means Docker Hub, so a test that runs an image it lacks would
// ask DNS for registry-1.docker.io; with a proxy on a closed loopback port, libcurl (and the Go
// peers: podman, skopeo, buildah) fail at once without a lookup, while the tests' own loopback
// registries are reached directly.
#define CATCH_CONFIG_RUNNER
#include <stdlib.h>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  for (const char* name :
       {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}) {
    ::setenv(name, "http://127.0.0.1:9", 1);
  }
  for (const char* name : {"no_proxy", "NO_PROXY"}) {
    ::setenv(name, "127.0.0.1,localhost,::1", 1);
  }
  return Catch::Session().run(argc, argv);
}
