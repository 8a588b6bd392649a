// `gctool login [-u USER] [-p PASS | --password-stdin] [SERVER]` and `gctool logout [SERVER]`:
// credentials checked against the registry, then kept in Docker's config.json (see
// registry/auth.hpp for where) so that pull and push use them, as do Docker and Podman.
#include <unistd.h>

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/registry/auth.hpp"
#include "gctool/registry/client.hpp"
#include "pull_output.hpp"

namespace gctool::tool {
namespace {

struct LoginOptions {
  std::string server;
  std::string username;
  std::string password;
  bool password_stdin = false;
  RegistryCliOptions registry;
};

// "https://index.docker.io/v1/", "docker.io" or "" -> "docker.io"; "http://h:5000/" -> "h:5000".
std::string server_domain(std::string server) {
  if (const auto scheme = server.find("://"); scheme != std::string::npos) {
    server.erase(0, scheme + 3);
  }
  server = server.substr(0, server.find('/'));
  if (server.empty() || server == "index.docker.io" || server == "registry-1.docker.io") {
    return "docker.io";
  }
  if (has_control_char(server) || server.find_first_of(" @") != std::string::npos) {
    throw_invalid("invalid registry \"{}\"", server);
  }
  return server;
}

void run_login(Globals& globals, LoginOptions o) {
  try {
    const std::string domain = server_domain(o.server);
    if (o.password_stdin) {
      if (!o.password.empty()) {
        throw_invalid("--password and --password-stdin are mutually exclusive");
      }
      std::getline(std::cin, o.password);
      if (!o.password.empty() && o.password.back() == '\r') {
        o.password.pop_back();
      }
    }
    if (o.username.empty() || o.password.empty()) {
      throw_invalid(
          "login to {}: a username (-u) and a password (-p or --password-stdin) are "
          "required",
          domain);
    }
    if (o.username.find(':') != std::string::npos) {
      throw_invalid("login to {}: a username cannot contain ':'", domain);
    }
    auto client_options = o.registry.client();
    client_options.login = registry::Credentials{o.username, o.password};
    registry::Client client(registry::RemoteReference{domain, "", "", ""}, client_options);
    client.verify_login();
    registry::store_credentials(registry::login_file(o.registry.authfile), domain,
                                *client_options.login);
    fmt::print("Login Succeeded\n");
  } catch (const Error& e) {
    std::fflush(stdout);
    print_error(e.what());
    globals.exit_code = 1;
  }
}

void run_logout(Globals& globals, const LoginOptions& o) {
  try {
    const std::string domain = server_domain(o.server);
    if (registry::erase_credentials(registry::login_file(o.registry.authfile), domain)) {
      fmt::print("Removing login credentials for {}\n", domain);
    } else {
      fmt::print("Not logged in to {}\n", domain);
    }
  } catch (const Error& e) {
    std::fflush(stdout);
    print_error(e.what());
    globals.exit_code = 1;
  }
}

void setup_login(CLI::App& app, Globals& globals) {
  auto* login = app.add_subcommand("login", "Log in to a registry");
  auto o = std::make_shared<LoginOptions>();
  login->add_option("SERVER", o->server, "Registry (default: Docker Hub)");
  login->add_option("-u,--username", o->username, "Username");
  login->add_option("-p,--password", o->password, "Password");
  login->add_flag("--password-stdin", o->password_stdin, "Take the password from stdin");
  add_registry_options(login, o->registry);
  login->callback([&globals, o] { run_login(globals, *o); });

  auto* logout = app.add_subcommand("logout", "Log out from a registry");
  auto lo = std::make_shared<LoginOptions>();
  logout->add_option("SERVER", lo->server, "Registry (default: Docker Hub)");
  logout->add_option("--authfile", lo->registry.authfile, "Credentials file");
  logout->callback([&globals, lo] { run_logout(globals, *lo); });
}

GCTOOL_REGISTER_COMMAND(setup_login, "login", "logout");

}  // namespace
}  // namespace gctool::tool
