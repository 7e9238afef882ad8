#pragma once
// `labloop serve`: the campaign's JSON API (docs/api.md) over HTTP or HTTPS, for robots and
// remote GUIs, and the API tokens it accepts. Qt (HttpServer, Network) stays in server.cpp.
//
// Every request needs `Authorization: Bearer TOKEN`. The campaign file stores only each token's
// SHA-256; the hash of a presented token is compared with every stored one in constant time, and
// looked up per request, so a revoked token stops working at once.

#include <string>
#include <vector>

#include "core/result.h"
#include "db/browse.h"

namespace labloop::server {

struct ServeOptions {
  std::string campaign_path;
  std::string bind = "127.0.0.1";  // 0.0.0.0 to serve other machines
  int port = 8080;                 // 0: any free port
  std::string tls_cert, tls_key;   // PEM files: HTTPS when both are given
};

// Serves until SIGINT or SIGTERM; returns the process's exit code. Prints
// "labloop serve: listening on URL" (flushed) once it accepts connections.
int Serve(const ServeOptions& options);

// A new token for `name` with `role` (viewer, operator, admin): returned once, stored hashed.
Result<std::string> AddToken(const std::string& campaign_path, const std::string& name,
                             const std::string& role);
Result<std::vector<db::ApiToken>> ListTokens(const std::string& campaign_path);
Status RevokeToken(const std::string& campaign_path, const std::string& name);

// SHA-256 of a token, lower-case hex.
std::string HashToken(const std::string& token);
// Equal strings, in time that depends only on their lengths.
bool ConstantTimeEqual(const std::string& a, const std::string& b);

}  // namespace labloop::server
