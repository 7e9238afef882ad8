#pragma once
// Generators in the campaign loop: each model-guided round, the configured generators propose new
// molecules steered by the round's acquisition values; the proposals pass the campaign's
// [filters] and come back as new candidates (with their provenance) or as rejected inputs (with
// every reason). The engine then stores, predicts and scores them like library candidates.

#include <cstdint>
#include <string>
#include <vector>

#include "app/engine/campaign_config.h"
#include "db/records.h"
#include "generators/generator.h"

namespace labloop::engine {

struct RoundProposals {
  std::vector<db::NewCandidate> candidates;  // passed the filters, fingerprint filled in
  std::vector<db::RejectedInput> rejected;   // failed a filter
  std::vector<std::string> reports;          // per generator: "NAME: {report JSON}"
};

// Runs every generator of `config` for `round` with `fitness` (higher better). graph_ga without a
// pool starts from `seeds` (the round's best-scored candidates). Generator seeds derive from the
// campaign seed and the round, so a resumed round proposes the same molecules.
Result<RoundProposals> ProposeForRound(const CampaignConfig& config, int round,
                                       const generators::Fitness& fitness,
                                       const std::vector<std::string>& seeds);

}  // namespace labloop::engine
