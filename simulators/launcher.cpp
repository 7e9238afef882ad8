#include "simulators/launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "simulators/external_process.h"

namespace labloop::simulators {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* const kDefaultSbatchTemplate = R"(#!/bin/bash
#SBATCH --job-name={{job_name}}
#SBATCH --ntasks={{ranks}}
#SBATCH --time={{time_limit}}
#SBATCH --output=slurm-%j.log
{{sbatch_options}}
# Written by labloop: runs labloop-sim on this folder's input.smi, appending to output.jsonl.
# Under Slurm, sbatch submits it; with the mpirun launcher, bash runs it (#SBATCH lines are
# comments then).
cd {{batch_dir_quoted}} || exit 1
{{command}}
)";

const char* BatchStateName(BatchState state) {
  switch (state) {
    case BatchState::kPending:
      return "pending";
    case BatchState::kRunning:
      return "running";
    case BatchState::kFinished:
      return "finished";
    case BatchState::kFailed:
      return "failed";
  }
  return "?";
}

namespace {

// A word for bash, single-quoted.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  auto newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

// labloop-sim's exit status when the batch script recorded it.
std::optional<int> ExitCode(const std::string& batch_dir) {
  std::ifstream in(batch_dir + "/exit_code");
  int code = 0;
  if (in >> code) return code;
  return std::nullopt;
}

// The last thing labloop-sim said in a log (mpirun's banners around it are no use in a message).
std::string LastSimMessage(const std::string& log_text) {
  std::istringstream lines(log_text);
  std::string line, last;
  while (std::getline(lines, line)) {
    if (line.rfind("labloop-sim:", 0) == 0) last = line;
  }
  return last;
}

BatchStatus FromExitCode(int code, const std::string& batch_dir, const std::string& log) {
  if (code == 0) return {BatchState::kFinished, "labloop-sim exited with 0"};
  std::string last = LastSimMessage(ReadTextFile(batch_dir + "/" + log));
  return {BatchState::kFailed,
          "labloop-sim exited with " + std::to_string(code) + (last.empty() ? "" : ": " + last)};
}

Result<std::string> SimProgram(const LauncherOptions& options) {
  if (!options.sim_program.empty()) return FindProgram(options.sim_program);
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / "labloop-sim";
    if (access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return FindProgram("labloop-sim");
}

std::string Render(std::string text,
                   const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [name, value] : values) {
    const std::string key = "{{" + name + "}}";
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
      text.replace(at, key.size(), value);
      at += value.size();
    }
  }
  return text;
}

// --- mpirun: bash runs job.sh in its own session, detached, so that it outlives a controller
// that is killed; the handle is its process id.
class MpirunLauncher final : public Launcher {
 public:
  std::string Kind() const override { return "mpirun"; }

  Result<std::string> Submit(const std::string& batch_dir) override {
    const std::string log = batch_dir + "/launcher.log";
    const std::string script = batch_dir + "/job.sh";
    pid_t pid = fork();  // between fork and exec: async-signal-safe calls only
    if (pid < 0) return MakeError(ErrorCode::kInternal, std::string("fork: ") + strerror(errno));
    if (pid == 0) {
      setsid();  // its own session and group: Ctrl-C on labloop does not reach it
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      int null = open("/dev/null", O_RDONLY);
      if (null >= 0) dup2(null, 0);
      execl("/bin/bash", "bash", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return std::to_string(pid);
  }

  Result<BatchStatus> Poll(const std::string& handle, const std::string& batch_dir) override {
    pid_t pid = static_cast<pid_t>(std::stol(handle));
    int status = 0;
    pid_t reaped = waitpid(pid, &status, WNOHANG);  // our child, unless the controller restarted
    if (auto code = ExitCode(batch_dir)) {
      if (reaped == 0) waitpid(pid, &status, 0);  // the script's last line: no zombie left
      return FromExitCode(*code, batch_dir, "launcher.log");
    }
    if (reaped == 0) return BatchStatus{BatchState::kRunning, "process " + handle};
    if (reaped < 0 && Alive(pid, batch_dir))
      return BatchStatus{BatchState::kRunning, "process " + handle};
    // Gone without an exit code: a race with the script's last line, or killed.
    if (auto code = ExitCode(batch_dir)) return FromExitCode(*code, batch_dir, "launcher.log");
    std::string how = reaped == pid && WIFSIGNALED(status)
                          ? "killed by signal " + std::to_string(WTERMSIG(status))
                          : "gone";
    return BatchStatus{BatchState::kFailed,
                       "the batch process " + handle + " is " + how + " without an exit code"};
  }

  // Stops the batch's whole process group: its script, mpirun and the ranks, which outlive a
  // script killed alone. The group is the batch's while its script is, or while one of its
  // members works in the batch folder (process ids are reused). Up to 5 s to end on SIGTERM, then
  // SIGKILL; the script, when it is this controller's child, is reaped (no zombies pile up in a
  // long-running `labloop serve`).
  Status Cancel(const std::string& handle, const std::string& batch_dir) override {
    pid_t pid = static_cast<pid_t>(std::stol(handle));
    int status = 0;
    if (!Alive(pid, batch_dir) && !GroupWorksIn(pid, batch_dir)) {
      waitpid(pid, &status, WNOHANG);
      return {};
    }
    if (kill(-pid, SIGTERM) != 0 && errno != ESRCH) {
      return MakeError(ErrorCode::kInternal,
                       "cannot stop process group " + handle + ": " + std::string(strerror(errno)));
    }
    for (int i = 0; i < 50 && GroupLives(pid); ++i) {
      waitpid(pid, &status, WNOHANG);
      usleep(100000);
    }
    if (GroupLives(pid)) kill(-pid, SIGKILL);
    for (int i = 0; i < 20 && waitpid(pid, &status, WNOHANG) == 0; ++i) usleep(50000);
    return {};
  }

 private:
  Result<std::optional<std::string>> Find(const std::string& batch_dir) override {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      pid_t pid = static_cast<pid_t>(std::stol(name));
      if (Alive(pid, batch_dir)) return std::optional<std::string>(name);
    }
    return std::optional<std::string>();
  }

 private:
  // The members of process group `group` that are not zombies.
  static std::vector<pid_t> GroupMembers(pid_t group) {
    std::vector<pid_t> members;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string stat = ReadTextFile("/proc/" + name + "/stat");
      const auto paren = stat.rfind(')');  // the command name may hold spaces and parentheses
      if (paren == std::string::npos) continue;
      std::istringstream fields(stat.substr(paren + 1));
      char state = 0;
      long parent = 0, process_group = 0;
      if (!(fields >> state >> parent >> process_group)) continue;
      if (process_group == group && state != 'Z' && state != 'X') {
        members.push_back(static_cast<pid_t>(std::stol(name)));
      }
    }
    return members;
  }
  static bool GroupLives(pid_t group) { return !GroupMembers(group).empty(); }
  // Whether a live member of the group has the batch folder as its working folder.
  static bool GroupWorksIn(pid_t group, const std::string& batch_dir) {
    std::error_code ec;
    const fs::path folder = fs::weakly_canonical(batch_dir, ec);
    for (pid_t member : GroupMembers(group)) {
      const fs::path cwd = fs::read_symlink("/proc/" + std::to_string(member) + "/cwd", ec);
      if (!ec && cwd == folder) return true;
    }
    return false;
  }

  // The process exists and is still this batch's script (process ids are reused).
  static bool Alive(pid_t pid, const std::string& batch_dir) {
    if (kill(pid, 0) != 0) return false;
    std::string cmdline = ReadTextFile("/proc/" + std::to_string(pid) + "/cmdline");
    return cmdline.find(batch_dir + "/job.sh") != std::string::npos;
  }
};

// --- Slurm: sbatch job.sh; the handle is the job id. State from squeue while Slurm lists the
// job, then scontrol (finished jobs stay a few minutes), then sacct (when accounting is on), and
// last the exit code labloop-sim left in the batch folder.
class SlurmLauncher final : public Launcher {
 public:
  explicit SlurmLauncher(LauncherOptions options) : options_(std::move(options)) {}
  std::string Kind() const override { return "slurm"; }

  Result<std::string> Submit(const std::string& batch_dir) override {
    std::vector<std::string> argv = {"sbatch", "--parsable"};
    argv.insert(argv.end(), options_.sbatch_args.begin(), options_.sbatch_args.end());
    argv.push_back(batch_dir + "/job.sh");
    ProcessOptions process;
    process.working_directory = batch_dir;
    process.timeout_seconds = 120;
    auto ran = RunProcess(argv, process);
    if (!ran) return tl::unexpected(ran.error());
    if (ran->exit_code != 0 || ran->signal != 0) {
      return MakeError(ErrorCode::kUnavailable, "sbatch failed: " + DescribeFailure(*ran));
    }
    std::string id = LastLine(ran->out);
    id = id.substr(0, id.find(';'));  // "<id>;<cluster>" on federated clusters
    if (id.empty() || id.find_first_not_of("0123456789_") != std::string::npos) {
      return MakeError(ErrorCode::kInternal, "sbatch answered '" + ran->out + "', not a job id");
    }
    return id;
  }

  Result<BatchStatus> Poll(const std::string& id, const std::string& batch_dir) override {
    // squeue knows the job while it is queued or running; once Slurm has purged a finished job it
    // answers "Invalid job id". Any other failure (slurmctld down, a timeout) says nothing about
    // the job: an error, so that the caller asks again later instead of resubmitting its tasks.
    auto squeue = RunProcess({"squeue", "-h", "-j", id, "-o", "%T"}, ProcessOptions{"", 60, ""});
    if (!squeue) return tl::unexpected(squeue.error());
    if (squeue->exit_code != 0 &&
        (squeue->err + squeue->out).find("Invalid job id") == std::string::npos) {
      return MakeError(ErrorCode::kUnavailable,
                       "squeue failed, Slurm may be down: " + DescribeFailure(*squeue));
    }
    std::string state = squeue->exit_code == 0 ? LastLine(squeue->out) : "";
    if (!state.empty()) {
      if (auto known = Classify(state, id, batch_dir)) return *known;
    }
    std::string shown = Ask({"scontrol", "show", "job", id, "-o"});
    auto at = shown.find("JobState=");
    if (at != std::string::npos) {
      std::string state = shown.substr(at + 9, shown.find(' ', at) - at - 9);
      if (auto known = Classify(state, id, batch_dir)) return *known;
    }
    if (auto state = Ask({"sacct", "-n", "-X", "-P", "-j", id, "-o", "State"}); !state.empty()) {
      if (auto known = Classify(state.substr(0, state.find(' ')), id, batch_dir)) return *known;
    }
    if (auto code = ExitCode(batch_dir)) return FromExitCode(*code, batch_dir, Log(id));
    return BatchStatus{BatchState::kFailed,
                       "Slurm no longer knows job " + id + " and it left no exit code"};
  }

  Result<std::optional<std::string>> Find(const std::string& batch_dir) override {
    auto ran = RunProcess({"squeue", "-h", "-o", "%i|%o"}, ProcessOptions{"", 60, ""});
    if (!ran || ran->exit_code != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "squeue failed: " + (ran ? DescribeFailure(*ran) : ran.error().message));
    }
    std::istringstream lines(ran->out);
    std::string line;
    while (std::getline(lines, line)) {
      auto bar = line.find('|');
      if (bar != std::string::npos && line.substr(bar + 1) == batch_dir + "/job.sh") {
        return std::optional<std::string>(line.substr(0, bar));
      }
    }
    return std::optional<std::string>();
  }

  Status Cancel(const std::string& id, const std::string&) override {
    auto ran = RunProcess({"scancel", id}, ProcessOptions{"", 60, ""});
    if (!ran) return tl::unexpected(ran.error());
    if (ran->exit_code != 0) {
      return MakeError(ErrorCode::kUnavailable, "scancel failed: " + DescribeFailure(*ran));
    }
    return {};
  }

 private:
  static std::string Log(const std::string& id) { return "slurm-" + id + ".log"; }

  // First line of a command's output; empty when it fails (unknown job, no accounting).
  static std::string Ask(const std::vector<std::string>& argv) {
    auto ran = RunProcess(argv, ProcessOptions{"", 60, ""});
    if (!ran || ran->exit_code != 0) return "";
    std::string line = ran->out.substr(0, ran->out.find('\n'));
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  }

  static std::optional<BatchStatus> Classify(const std::string& state, const std::string& id,
                                             const std::string& batch_dir) {
    if (state == "PENDING" || state == "CONFIGURING" || state == "REQUEUED" ||
        state == "REQUEUE_HOLD" || state == "RESV_DEL_HOLD" || state == "SUSPENDED") {
      return BatchStatus{BatchState::kPending, "Slurm job " + id + " " + state};
    }
    if (state == "RUNNING" || state == "COMPLETING" || state == "STAGE_OUT" ||
        state == "SIGNALING") {
      return BatchStatus{BatchState::kRunning, "Slurm job " + id + " " + state};
    }
    if (state == "COMPLETED") {
      auto code = ExitCode(batch_dir);
      return code ? FromExitCode(*code, batch_dir, Log(id))
                  : BatchStatus{BatchState::kFailed,
                                "Slurm job " + id + " completed without labloop-sim's exit code"};
    }
    if (state.empty()) return std::nullopt;
    return BatchStatus{BatchState::kFailed, "Slurm job " + id + " " + state};
  }

  LauncherOptions options_;
};

}  // namespace

Result<std::unique_ptr<Launcher>> CreateLauncher(const LauncherOptions& options) {
  if (options.kind == "mpirun") {
    if (auto found = FindProgram(options.mpirun); !found) return tl::unexpected(found.error());
    return std::unique_ptr<Launcher>(new MpirunLauncher());
  }
  if (options.kind == "slurm") {
    for (const char* program : {"sbatch", "squeue", "scontrol", "scancel"}) {
      if (auto found = FindProgram(program); !found) {
        return MakeError(ErrorCode::kNotFound,
                         found.error().message + " (the slurm launcher needs Slurm's commands)");
      }
    }
    return std::unique_ptr<Launcher>(new SlurmLauncher(options));
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "launcher '" + options.kind + "' has no batch launcher; allowed: mpirun, slurm");
}

Status WriteBatch(const std::string& batch_dir, const std::vector<Task>& tasks,
                  const SimulatorOptions& simulator, const LauncherOptions& launcher,
                  const std::string& job_name) {
  std::error_code ec;
  fs::create_directories(batch_dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kInternal,
                     "cannot create batch folder '" + batch_dir + "': " + ec.message());
  }
  // A batch folder of the same name from before (a campaign created again at the same path):
  // its results and exit code must not be taken for this batch's.
  for (const auto& entry : fs::directory_iterator(batch_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "output.jsonl" || name == "exit_code" || name == "exit_code.tmp" ||
        name == "launcher.log" || (name.rfind("slurm-", 0) == 0)) {
      fs::remove(entry.path(), ec);
    }
  }
  auto sim = SimProgram(launcher);
  if (!sim) return tl::unexpected(sim.error());
  std::string script_template = kDefaultSbatchTemplate;
  if (!launcher.sbatch_template.empty()) {
    std::ifstream in(launcher.sbatch_template);
    if (!in) {
      return MakeError(ErrorCode::kNotFound,
                       "sbatch template '" + launcher.sbatch_template + "' cannot be read");
    }
    script_template = ReadTextFile(launcher.sbatch_template);
  }
  std::ostringstream input;
  for (const auto& t : tasks) input << t.smiles << " " << t.id << "\n";
  std::ostringstream command;
  command << "export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}\n";
  if (geteuid() == 0) {  // OpenMPI refuses root unless told
    command << "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n";
  }
  command << ShellQuote(launcher.mpirun) << " -np " << launcher.ranks;
  for (const auto& a : launcher.mpirun_args) command << " " << ShellQuote(a);
  command << " " << ShellQuote(*sim)
          << " --config simulator.toml --input input.smi --output output.jsonl --timeout "
          << launcher.task_timeout_seconds << "\n"
          << "code=$?\necho $code > exit_code.tmp && mv exit_code.tmp exit_code\nexit $code";
  std::string options;
  if (!launcher.partition.empty()) options += "#SBATCH --partition=" + launcher.partition + "\n";
  if (!launcher.account.empty()) options += "#SBATCH --account=" + launcher.account + "\n";
  std::string script = Render(script_template, {{"job_name", job_name},
                                                {"ranks", std::to_string(launcher.ranks)},
                                                {"batch_dir_quoted", ShellQuote(batch_dir)},
                                                {"batch_dir", batch_dir},
                                                {"time_limit", launcher.time_limit},
                                                {"sbatch_options", options},
                                                {"command", command.str()}});
  const std::vector<std::pair<std::string, std::string>> files = {
      {"input.smi", input.str()},
      {"simulator.toml", SimulatorOptionsToToml(simulator, 1)},
      {"job.sh", script}};
  for (const auto& [name, text] : files) {
    std::ofstream out(batch_dir + "/" + name, std::ios::trunc);
    out << text;
    if (!out)
      return MakeError(ErrorCode::kInternal, "cannot write '" + batch_dir + "/" + name + "'");
  }
  fs::permissions(batch_dir + "/job.sh", fs::perms::owner_exec, fs::perm_options::add, ec);
  return {};
}

Result<std::vector<TaskResult>> ReadBatchResults(const std::string& batch_dir, int64_t& offset) {
  const std::string path = batch_dir + "/output.jsonl";
  std::vector<TaskResult> results;
  std::ifstream in(path, std::ios::binary);
  if (!in) return results;  // nothing written yet
  in.seekg(offset);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  for (size_t end = text.find('\n'); end != std::string::npos;
       start = end + 1, end = text.find('\n', start)) {
    std::string line = text.substr(start, end - start);
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, false);
    // A line that is not JSON is one a kill tore (labloop-sim ends it before appending again):
    // its task has no result in it, and is computed again. Valid JSON without a job id is not
    // labloop-sim's: an error.
    if (j.is_discarded()) continue;
    if (!j.contains("id") || !j["id"].is_string()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": a line at byte " + std::to_string(offset + start) +
                           " is not a labloop-sim result: " + line.substr(0, 200));
    }
    TaskResult r;
    try {
      r.id = std::stoll(j["id"].get<std::string>());
    } catch (const std::exception&) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": result id '" + j["id"].get<std::string>() + "' is not a job id");
    }
    if (j.contains("properties")) {
      SimulationSummary summary;
      for (const auto& [name, value] : j["properties"].items()) {
        if (value.is_number()) summary.properties[name] = value.get<double>();
      }
      if (j.contains("fidelity") && j["fidelity"].is_string()) summary.fidelity = j["fidelity"];
      if (j.contains("raw")) summary.raw_json = j["raw"].dump();
      if (j.contains("seconds") && j["seconds"].is_number()) summary.seconds = j["seconds"];
      r.summary = std::move(summary);
    } else {
      r.summary = MakeError(ErrorCode::kAborted,
                            j.contains("error") && j["error"].is_string()
                                ? j["error"].get<std::string>()
                                : std::string("labloop-sim gave no properties and no error"));
    }
    results.push_back(std::move(r));
  }
  offset += static_cast<int64_t>(start);
  return results;
}

Result<LauncherOptions> ParseLauncherOptions(const Config& config, const std::string& base_dir) {
  LauncherOptions o;
  LABLOOP_ASSIGN(o.kind, config.GetEnum("launcher.kind", {"threads", "mpirun", "slurm"}, o.kind));
  int64_t ranks = 0;
  LABLOOP_ASSIGN(ranks, config.GetInt("launcher.ranks", o.ranks, 1, 100000));
  o.ranks = static_cast<int>(ranks);
  LABLOOP_ASSIGN(o.poll_seconds,
                 config.GetDouble("launcher.poll_seconds", o.poll_seconds, 0.01, 3600));
  LABLOOP_ASSIGN(o.task_timeout_seconds,
                 config.GetDouble("launcher.task_timeout", o.task_timeout_seconds, 0.001, 1e7));
  LABLOOP_ASSIGN(o.isolate, config.GetBool("launcher.isolate", o.isolate));
  std::string path;
  LABLOOP_ASSIGN(path, config.GetString("launcher.program", ""));
  o.sim_program = path.find('/') != std::string::npos ? ResolvePath(path, base_dir) : path;
  LABLOOP_ASSIGN(o.mpirun, config.GetString("launcher.mpirun", o.mpirun));
  LABLOOP_ASSIGN(o.mpirun_args, config.GetStringList("launcher.mpirun_args"));
  LABLOOP_ASSIGN(path, config.GetString("launcher.template", ""));
  o.sbatch_template = ResolvePath(path, base_dir);
  LABLOOP_ASSIGN(o.partition, config.GetString("launcher.partition", ""));
  LABLOOP_ASSIGN(o.account, config.GetString("launcher.account", ""));
  LABLOOP_ASSIGN(o.time_limit, config.GetString("launcher.time_limit", o.time_limit));
  LABLOOP_ASSIGN(o.sbatch_args, config.GetStringList("launcher.sbatch_args"));
  // These go into #SBATCH lines of the batch script: one word of Slurm's own characters, so that
  // no value can end the line and add shell commands to the script.
  for (const auto& [key, value] :
       {std::pair<std::string, const std::string&>{"partition", o.partition},
        {"account", o.account},
        {"time_limit", o.time_limit}}) {
    const bool plain = std::all_of(value.begin(), value.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_.,:+-", c) != nullptr;
    });
    if (!plain) {
      return MakeError(ErrorCode::kInvalidArgument,
                       config.Source() + ": key 'launcher." + key + "': '" + value +
                           "' may hold only letters, digits and _ . , : + -");
    }
  }
  if (!o.sbatch_template.empty() && !fs::exists(o.sbatch_template)) {
    return MakeError(ErrorCode::kNotFound, config.Source() + ": key 'launcher.template': '" +
                                               o.sbatch_template + "' does not exist");
  }
  return o;
}

std::string LauncherOptionsToToml(const LauncherOptions& o) {
  std::ostringstream out;
  out << "[launcher]\nkind = " << TomlString(o.kind) << "\nranks = " << o.ranks
      << "\npoll_seconds = " << TomlFloat(o.poll_seconds)
      << "\ntask_timeout = " << TomlFloat(o.task_timeout_seconds)
      << "\nisolate = " << (o.isolate ? "true" : "false")
      << "\nprogram = " << TomlString(o.sim_program) << "\nmpirun = " << TomlString(o.mpirun)
      << "\nmpirun_args = " << TomlList(o.mpirun_args)
      << "\ntemplate = " << TomlString(o.sbatch_template)
      << "\npartition = " << TomlString(o.partition) << "\naccount = " << TomlString(o.account)
      << "\ntime_limit = " << TomlString(o.time_limit)
      << "\nsbatch_args = " << TomlList(o.sbatch_args) << "\n";
  return out.str();
}

std::string FormatBatchRef(const BatchRef& ref) {
  return ref.kind + " " + ref.handle + " " + ref.name;
}

Result<BatchRef> ParseBatchRef(const std::string& external_id) {
  std::istringstream in(external_id);
  BatchRef ref;
  if (!(in >> ref.kind >> ref.handle >> ref.name) ||
      (ref.kind != "mpirun" && ref.kind != "slurm")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + external_id + "' is not a batch reference (kind handle name)");
  }
  return ref;
}

}  // namespace labloop::simulators
