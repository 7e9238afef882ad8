#pragma once
// ApiHandler: the campaign's JSON API (docs/api.md), without any HTTP.
//
// `labloop serve` puts HTTP, tokens and TLS around it; the GUI calls it directly when it opens a
// file and goes through the server when it attaches to one, so both speak one API. Roles are
// checked here, so every way in enforces the same rules. Not thread-safe: one handler is called
// from one thread (the server's event loop, the GUI's main thread); the engine it starts runs on
// its own worker thread.

#include <map>
#include <memory>
#include <string>

#include "core/result.h"

namespace labloop::engine {

class BackgroundRun;

enum class Role { kViewer = 0, kOperator = 1, kAdmin = 2 };
// "viewer", "operator", "admin".
const char* RoleName(Role role);
Result<Role> ParseRole(const std::string& name);

struct ApiRequest {
  std::string method;  // GET, POST
  std::string path;    // "/api/candidates/12"
  std::map<std::string, std::string> query;
  std::string body;  // JSON for POST
  Role role = Role::kViewer;
  std::string actor;  // who, for the audit log ("token:robot1", "gui:alice")
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class ApiHandler {
 public:
  // Opens a read-only view of the campaign (see CampaignView::Open). Handlers of one campaign
  // (the server's, one per thread) share `engine`; null: the handler makes its own.
  static Result<std::unique_ptr<ApiHandler>> Create(
      const std::string& campaign_path, std::shared_ptr<BackgroundRun> engine = nullptr);
  ~ApiHandler();

  ApiResponse Handle(const ApiRequest& request);

 private:
  struct Impl;
  explicit ApiHandler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The HTTP status for an error code: 400, 404, 409, 503, 504 or 500.
int HttpStatusOf(ErrorCode code);

}  // namespace labloop::engine
