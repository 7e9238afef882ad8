#pragma once
// A real one-node Slurm cluster for the launcher tests: munged, slurmctld and slurmd started
// from a private folder on loopback, with free ports, so it touches nothing of the machine's
// own Slurm (if any). SLURM_CONF points at it while the object lives, so sbatch, squeue and
// scancel (and labloop processes started meanwhile) talk to it. Needs root (slurmd runs jobs as
// their user) and the Debian packages slurm-wlm and munge.

#include <string>

namespace labloop::testing {

class SlurmCluster {
 public:
  SlurmCluster();
  ~SlurmCluster();
  SlurmCluster(const SlurmCluster&) = delete;
  SlurmCluster& operator=(const SlurmCluster&) = delete;

  // Empty when the cluster is up (its node idle); otherwise what went wrong, with the logs' tail.
  const std::string& error() const { return error_; }
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_, error_, previous_conf_;
  bool had_conf_ = false;
};

}  // namespace labloop::testing
