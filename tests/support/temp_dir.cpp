#include "tests/support/temp_dir.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace labloop::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "labloop-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(const std::string& name, const std::string& text) const {
  std::string path = File(name);
  std::ofstream out(path);
  out << text;
  return path;
}

}  // namespace labloop::testing
