#pragma once
// Private to db/: the SQL of each schema migration; entry i brings user_version i to i + 1.

#include <string>
#include <vector>

namespace labloop::db::detail {

const std::vector<std::string>& Migrations();

}  // namespace labloop::db::detail
