#include "tests/app/slurm_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/app/fixtures.h"

namespace labloop::testing {

namespace {

namespace fs = std::filesystem;

// A TCP port nobody listens on now (the kernel's pick).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::string line, tail;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  for (size_t i = lines.size() > 8 ? lines.size() - 8 : 0; i < lines.size(); ++i) {
    tail += "  " + lines[i] + "\n";
  }
  return path + ":\n" + tail;
}

void StopPid(const std::string& pid_file) {
  std::ifstream in(pid_file);
  pid_t pid = 0;
  if (in >> pid && pid > 0) kill(pid, SIGTERM);
}

}  // namespace

SlurmCluster::SlurmCluster() {
  char pattern[] = "/tmp/labloop-slurm-XXXXXX";
  folder_ = mkdtemp(pattern);
  const std::string d = folder_;
  if (const char* conf = std::getenv("SLURM_CONF")) {
    had_conf_ = true;
    previous_conf_ = conf;
  }
  fs::create_directories(d + "/state");
  fs::create_directories(d + "/spool");
  {
    std::ofstream key(d + "/munge.key", std::ios::binary);
    std::ifstream random("/dev/urandom", std::ios::binary);
    char bytes[128];
    random.read(bytes, sizeof(bytes));
    key.write(bytes, sizeof(bytes));
  }
  fs::permissions(d + "/munge.key", fs::perms::owner_read | fs::perms::owner_write);
  auto munged =
      RunProgram("munged", {"--key-file=" + d + "/munge.key", "--socket=" + d + "/munge.socket",
                            "--pid-file=" + d + "/munged.pid", "--log-file=" + d + "/munged.log",
                            "--seed-file=" + d + "/munged.seed", "--force"});
  if (munged.exit_code != 0) {
    error_ = "munged did not start: " + munged.output;
    return;
  }
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string node = std::string(host).substr(0, std::string(host).find('.'));
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  std::ofstream conf(d + "/slurm.conf");
  conf << "ClusterName=labloop-test\n"
       << "SlurmctldHost=" << node << "(127.0.0.1)\n"
       << "SlurmUser=root\nSlurmdUser=root\n"
       << "AuthType=auth/munge\nCredType=cred/munge\n"
       << "AuthInfo=socket=" << d << "/munge.socket\n"
       << "StateSaveLocation=" << d << "/state\nSlurmdSpoolDir=" << d << "/spool\n"
       << "SlurmctldPidFile=" << d << "/slurmctld.pid\nSlurmdPidFile=" << d << "/slurmd.pid\n"
       << "SlurmctldLogFile=" << d << "/slurmctld.log\nSlurmdLogFile=" << d << "/slurmd.log\n"
       << "SlurmctldPort=" << FreePort() << "\nSlurmdPort=" << FreePort() << "\n"
       << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
       << "JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n"
       << "JobCompType=jobcomp/none\nSchedulerType=sched/builtin\n"
       << "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
       << "ReturnToService=2\nMpiDefault=none\nMinJobAge=600\n"
       << "NodeName=" << node << " NodeAddr=127.0.0.1 CPUs=" << (cpus > 0 ? cpus : 1)
       << " State=UNKNOWN\n"
       << "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n";
  conf.close();
  setenv("SLURM_CONF", (d + "/slurm.conf").c_str(), 1);
  auto ctld = RunProgram("slurmctld", {"-i"});
  auto slurmd = RunProgram("slurmd", {});
  if (ctld.exit_code != 0 || slurmd.exit_code != 0) {
    error_ = "slurm daemons did not start: " + ctld.output + slurmd.output;
    return;
  }
  for (int i = 0; i < 150; ++i) {  // up to 30 s for the node to come up
    auto state = RunProgram("sinfo", {"-h", "-o", "%T"});
    if (state.exit_code == 0 && state.output.find("idle") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  error_ = "the Slurm node did not become idle in 30 s\n" + Tail(d + "/slurmctld.log") +
           Tail(d + "/slurmd.log");
}

SlurmCluster::~SlurmCluster() {
  RunProgram("scancel", {"--full", "--user=root"});
  StopPid(folder_ + "/slurmd.pid");
  StopPid(folder_ + "/slurmctld.pid");
  StopPid(folder_ + "/munged.pid");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (had_conf_) {
    setenv("SLURM_CONF", previous_conf_.c_str(), 1);
  } else {
    unsetenv("SLURM_CONF");
  }
  std::error_code ignored;
  fs::remove_all(folder_, ignored);
}

}  // namespace labloop::testing
