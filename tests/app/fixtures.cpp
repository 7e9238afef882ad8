#include "tests/app/fixtures.h"

#include "tests/support/temp_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace labloop::testing {

std::string EsolConfig(int budget, int batch, int simulator_threads) {
  std::string data = LABLOOP_TEST_DATA;
  return "[campaign]\nname = \"esol-test\"\nseed = 3\n"
         "[library]\nfiles = [\"" +
         data +
         "/esol150.csv\"]\n"
         "[objective]\nproperty = \"logS\"\ndirection = \"maximize\"\n"
         "[model]\nmembers = 3\nhidden = 32\nepochs = 20\nmin_steps = 60\nthreads = 1\n"
         "[acquisition]\nkind = \"ucb\"\nbeta = 1.0\n"
         "[simulator]\nkind = \"lookup\"\ntable = \"" +
         data +
         "/esol150.csv\"\n"
         "value_column = \"logS\"\nthreads = " +
         std::to_string(simulator_threads) +
         "\n"
         "[budget]\ninitial_batch = " +
         std::to_string(batch) + "\nbatch_size = " + std::to_string(batch) +
         "\nmax_evaluations = " + std::to_string(budget) + "\n";
}

std::string LabConfig(const TempDir& dir, const std::string& synth, const std::string& reader,
                      const std::string& reader_driver, const std::string& experiment_extra) {
  std::ifstream zinc(std::string(LABLOOP_SHARED_DATA) + "/generative/zinc_first_1000.smi");
  std::string line, pool;
  for (int i = 0; i < 40 && std::getline(zinc, line); ++i) pool += line + "\n";
  dir.Write("pool.smi", pool);
  const std::string proxy = std::string(LABLOOP_SOURCE_DIR) + "/examples/lab/proxy_pic50.py";
  return "[campaign]\nseed = 3\n[library]\nfiles = [\"pool.smi\"]\n"
         "[objective]\nproperty = \"pic50\"\ndirection = \"maximize\"\n"
         "[model]\nkind = \"tanimoto_gp\"\n"
         "[simulator]\nkind = \"command\"\ncommand = [\"" +
         proxy +
         "\"]\nproperties = [\"pic50\"]\n"
         "[router]\nsimulation_sigma = 0.6\nexperiment_cost = 10.0\nexperiment_sigma = 0.15\n"
         "finalists = 2\n"
         "[instruments.synth]\ndriver = \"scpi\"\naddress = \"" +
         synth +
         "\"\ntimeout = 1.0\nbackoff = 0.05\n"
         "[instruments.reader]\ndriver = \"" +
         reader_driver + "\"\naddress = \"" + (reader_driver == "http" ? "http://" : "") + reader +
         "\"\ntimeout = 1.0\nbackoff = 0.05\n"
         "[experiment]\nsynthesizer = \"synth\"\nreader = \"reader\"\nper_round = 2\n"
         "poll_seconds = 0.05\n" +
         experiment_extra +
         "[budget]\ninitial_batch = 8\nbatch_size = 3\nmax_evaluations = 18\nmax_rounds = 3\n";
}

std::vector<std::vector<std::string>> QueryCampaign(const std::string& path, const std::string& sql,
                                                    const std::vector<std::string>& parameters) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  for (size_t i = 0; i < parameters.size(); ++i) {
    sqlite3_bind_text(stmt, static_cast<int>(i) + 1, parameters[i].c_str(), -1, SQLITE_TRANSIENT);
  }
  std::vector<std::vector<std::string>> rows;
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      const unsigned char* text = sqlite3_column_text(stmt, c);
      row.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

std::string DemoPoolHead(int count) {
  std::ifstream pool(std::string(LABLOOP_SOURCE_DIR) + "/examples/qm9-gap/pool.smi");
  std::ostringstream head;
  std::string line;
  for (int i = 0; i <= count && std::getline(pool, line); ++i) head << line << "\n";  // + comment
  return head.str();
}

CommandResult RunLabloop(const std::vector<std::string>& args, const std::vector<std::string>& env,
                         double kill_after_seconds) {
  return RunProgram(LABLOOP_BINARY, args, env, kill_after_seconds);
}

CommandResult RunProgram(const std::string& program, const std::vector<std::string>& args,
                         const std::vector<std::string>& env, double kill_after_seconds) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    for (const auto& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> argv;
    std::string binary = program;
    argv.push_back(binary.data());
    std::vector<std::string> copies(args);
    for (auto& a : copies) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(binary.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::thread killer;
  if (kill_after_seconds > 0) {
    killer = std::thread([pid, kill_after_seconds] {
      std::this_thread::sleep_for(std::chrono::duration<double>(kill_after_seconds));
      kill(pid, SIGKILL);  // harmless if it already exited and was not yet reaped
    });
  }
  CommandResult result;
  char buffer[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) result.output.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (killer.joinable()) killer.join();
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace labloop::testing
