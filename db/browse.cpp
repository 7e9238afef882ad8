// CampaignDb's reads for browsing (GUI, server) and its API tokens.

#include <string>

#include "db/campaign_db_impl.h"

namespace labloop::db {

namespace {

std::optional<double> OptionalDouble(const Statement& s, int column) {
  if (s.IsNull(column)) return std::nullopt;
  return s.Double(column);
}

const char* SortColumn(CandidateSort sort) {
  switch (sort) {
    case CandidateSort::kId:
      return "c.id";
    case CandidateSort::kSmiles:
      return "m.smiles";
    case CandidateSort::kSource:
      return "c.source";
    case CandidateSort::kRound:
      return "c.round_added";
    case CandidateSort::kMean:
      return "p.mean";
    case CandidateSort::kSigma:
      return "p.sigma";
    case CandidateSort::kAcquisition:
      return "d.acquisition_value";
    case CandidateSort::kMeasured:
      return "x.value";
  }
  return "c.id";
}

}  // namespace

Result<std::vector<int64_t>> CampaignDb::CandidateIds(const CandidateQuery& query) {
  const bool by_prediction =
      query.sort == CandidateSort::kMean || query.sort == CandidateSort::kSigma;
  const bool by_decision = query.sort == CandidateSort::kAcquisition || !query.route.empty();
  const bool by_measurement = query.sort == CandidateSort::kMeasured || query.measured_only;
  // ?1 (the property) names the latest model of the property and the measured column.
  const bool by_molecule = query.sort == CandidateSort::kSmiles || !query.text.empty();
  // Joins only what the order and the filter need: the plain table is a scan of ids.
  std::string sql = "SELECT c.id FROM candidate c";
  if (by_molecule) sql += " JOIN molecule m ON m.id = c.molecule_id";
  if (by_prediction) {
    sql +=
        " LEFT JOIN prediction p ON p.model_id = (SELECT MAX(id) FROM model WHERE property = "
        "?1) AND p.candidate_id = c.id";
  }
  // The latest decision and measurement of each candidate, found through their candidate_id
  // indexes (a grouped subquery would be scanned once per candidate).
  if (by_decision) {
    sql +=
        " LEFT JOIN decision d ON d.candidate_id = c.id AND d.id = (SELECT MAX(id) FROM "
        "decision WHERE candidate_id = c.id)";
  }
  if (by_measurement) {
    sql +=
        " LEFT JOIN measurement x ON x.candidate_id = c.id AND x.id = (SELECT MAX(id) FROM "
        "measurement WHERE candidate_id = c.id AND property = ?1)";
  }
  std::vector<std::string> where;
  if (!query.text.empty()) {
    where.push_back("(instr(m.smiles, ?2) > 0 OR instr(c.source, ?2) > 0 OR m.inchikey = ?2)");
  }
  if (!query.route.empty()) where.push_back("d.route = ?3");
  if (query.measured_only) where.push_back("x.value IS NOT NULL");
  for (size_t i = 0; i < where.size(); ++i) sql += (i ? " AND " : " WHERE ") + where[i];
  const std::string direction = query.descending ? " DESC" : " ASC";
  sql += std::string(" ORDER BY ") + SortColumn(query.sort) + direction + " NULLS LAST";
  if (query.sort != CandidateSort::kId) sql += ", c.id";

  Statement select(impl_->db, sql.c_str());
  if (!select.ok()) return tl::unexpected(select.error());
  if (by_measurement || by_prediction) select.Bind(1, query.property);
  if (!query.text.empty()) select.Bind(2, query.text);
  if (!query.route.empty()) select.Bind(3, query.route);
  std::vector<int64_t> ids;
  LABLOOP_TRY(select.ForEachRow([&] { ids.push_back(select.Int(0)); }));
  return ids;
}

Result<std::vector<CandidateListRow>> CampaignDb::CandidateRows(const std::vector<int64_t>& ids,
                                                                const std::string& property) {
  Statement select(
      impl_->db,
      "SELECT c.id, m.smiles, c.source, c.round_added, p.mean, p.sigma, "
      "(SELECT route FROM decision WHERE candidate_id = c.id ORDER BY id DESC LIMIT 1), "
      "(SELECT acquisition_value FROM decision WHERE candidate_id = c.id ORDER BY id DESC "
      "LIMIT 1), "
      "(SELECT value FROM measurement WHERE candidate_id = c.id AND property = ?2 "
      "ORDER BY id DESC LIMIT 1), "
      "(SELECT state FROM job WHERE candidate_id = c.id ORDER BY id DESC LIMIT 1) "
      "FROM candidate c JOIN molecule m ON m.id = c.molecule_id "
      "LEFT JOIN prediction p ON p.model_id = (SELECT MAX(id) FROM model WHERE property = ?2) "
      "AND p.candidate_id = c.id WHERE c.id = ?1");
  std::vector<CandidateListRow> rows;
  rows.reserve(ids.size());
  for (int64_t id : ids) {
    select.Reset();
    select.Bind(1, id).Bind(2, property);
    LABLOOP_TRY(select.ForEachRow([&] {
      CandidateListRow r;
      r.id = select.Int(0);
      r.smiles = select.Text(1);
      r.source = select.Text(2);
      r.round_added = static_cast<int>(select.Int(3));
      r.mean = OptionalDouble(select, 4);
      r.sigma = OptionalDouble(select, 5);
      r.route = select.Text(6);
      r.acquisition_value = OptionalDouble(select, 7);
      r.measured = OptionalDouble(select, 8);
      r.job_state = select.Text(9);
      rows.push_back(std::move(r));
    }));
  }
  return rows;
}

Status CampaignDb::ForEachCandidateSmiles(
    int64_t after_id, const std::function<bool(int64_t, const std::string&)>& f) {
  Statement select(impl_->db,
                   "SELECT c.id, m.smiles FROM candidate c JOIN molecule m ON m.id = "
                   "c.molecule_id WHERE c.id > ? ORDER BY c.id");
  select.Bind(1, after_id);
  for (;;) {
    auto more = select.Step();
    if (!more) return tl::unexpected(more.error());
    if (!*more || !f(select.Int(0), select.Text(1))) return {};
  }
}

Result<CandidateDetail> CampaignDb::GetCandidateDetail(int64_t candidate_id) {
  CandidateDetail d;
  {
    Statement s(impl_->db,
                "SELECT c.id, m.smiles, m.inchikey, c.source, COALESCE(c.source_id, ''), "
                "COALESCE(c.location, ''), COALESCE(c.parents, ''), c.round_added "
                "FROM candidate c JOIN molecule m ON m.id = c.molecule_id WHERE c.id = ?");
    s.Bind(1, candidate_id);
    auto row = s.Step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) {
      return MakeError(ErrorCode::kNotFound,
                       "candidate " + std::to_string(candidate_id) + " does not exist");
    }
    d.id = s.Int(0);
    d.smiles = s.Text(1);
    d.inchikey = s.Text(2);
    d.source = s.Text(3);
    d.source_id = s.Text(4);
    d.location = s.Text(5);
    d.parents = s.Text(6);
    d.round_added = static_cast<int>(s.Int(7));
  }
  {
    Statement s(impl_->db,
                "SELECT p.model_id, mo.round, mo.kind, p.mean, p.sigma, p.sigma_epistemic, "
                "p.sigma_aleatoric FROM prediction p JOIN model mo ON mo.id = p.model_id "
                "WHERE p.candidate_id = ? ORDER BY p.model_id DESC");
    s.Bind(1, candidate_id);
    LABLOOP_TRY(s.ForEachRow([&] {
      d.predictions.push_back({s.Int(0), static_cast<int>(s.Int(1)), s.Text(2), s.Double(3),
                               s.Double(4), OptionalDouble(s, 5), OptionalDouble(s, 6)});
    }));
  }
  {
    Statement s(impl_->db,
                "SELECT id, round, route, COALESCE(acquisition, ''), acquisition_value, mean, "
                "sigma, COALESCE(cost, 0), COALESCE(reasons, ''), needs_approval, "
                "COALESCE(approved_by, ''), COALESCE(approved_at, ''), COALESCE(rejected_by, ''), "
                "COALESCE(rejected_reason, ''), created_at FROM decision WHERE candidate_id = ? "
                "ORDER BY id");
    s.Bind(1, candidate_id);
    LABLOOP_TRY(s.ForEachRow([&] {
      CandidateDecision c;
      c.id = s.Int(0);
      c.round = static_cast<int>(s.Int(1));
      c.route = s.Text(2);
      c.acquisition = s.Text(3);
      c.acquisition_value = OptionalDouble(s, 4);
      c.mean = OptionalDouble(s, 5);
      c.sigma = OptionalDouble(s, 6);
      c.cost = s.Double(7);
      c.reasons_json = s.Text(8);
      c.needs_approval = s.Int(9) != 0;
      c.approved_by = s.Text(10);
      c.approved_at = s.Text(11);
      c.rejected_by = s.Text(12);
      c.rejected_reason = s.Text(13);
      c.created_at = s.Text(14);
      d.decisions.push_back(std::move(c));
    }));
  }
  {
    Statement s(impl_->db,
                "SELECT id, job_id, property, value, uncertainty, fidelity, created_at "
                "FROM measurement WHERE candidate_id = ? ORDER BY id");
    s.Bind(1, candidate_id);
    LABLOOP_TRY(s.ForEachRow([&] {
      d.measurements.push_back(
          {s.Int(0), s.Int(1), s.Text(2), s.Double(3), OptionalDouble(s, 4), s.Text(5), s.Text(6)});
    }));
  }
  {
    Statement s(impl_->db,
                "SELECT id, round, kind, backend, state, COALESCE(error, ''), "
                "COALESCE(external_id, ''), updated_at, attempts FROM job WHERE candidate_id = ? "
                "ORDER BY id");
    s.Bind(1, candidate_id);
    LABLOOP_TRY(s.ForEachRow([&] {
      d.jobs.push_back({s.Int(0), static_cast<int>(s.Int(1)), s.Text(2), s.Text(3), s.Text(4),
                        s.Text(5), s.Text(6), s.Text(7), static_cast<int>(s.Int(8))});
    }));
  }
  return d;
}

Result<std::vector<ModelSummary>> CampaignDb::ListModels() {
  // created_at is not read: it follows the weights blob in the row, and reaching it would read
  // every overflow page of the weights (megabytes per model) on each call.
  Statement s(impl_->db,
              "SELECT id, round, kind, property, COALESCE(metrics, ''), training_size "
              "FROM model ORDER BY id");
  std::vector<ModelSummary> models;
  LABLOOP_TRY(s.ForEachRow([&] {
    models.push_back(
        {s.Int(0), static_cast<int>(s.Int(1)), s.Text(2), s.Text(3), s.Text(4), s.Int(5)});
  }));
  return models;
}

Result<std::vector<EventRow>> CampaignDb::ListEvents(int64_t after_id, int limit) {
  Statement s(impl_->db,
              "SELECT id, time, actor, kind, COALESCE(detail, '') FROM event WHERE id > ? "
              "ORDER BY id LIMIT ?");
  s.Bind(1, after_id).Bind(2, limit);
  std::vector<EventRow> events;
  LABLOOP_TRY(s.ForEachRow([&] {
    events.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)});
  }));
  return events;
}

Result<std::vector<RouteCost>> CampaignDb::RouteCosts() {
  Statement s(impl_->db,
              "SELECT route, COUNT(*), COALESCE(SUM(cost), 0) FROM decision "
              "WHERE rejected_by IS NULL GROUP BY route ORDER BY route");
  std::vector<RouteCost> costs;
  LABLOOP_TRY(s.ForEachRow([&] { costs.push_back({s.Text(0), s.Int(1), s.Double(2)}); }));
  return costs;
}

Result<std::vector<DecisionOutcome>> CampaignDb::DecisionOutcomes(const std::string& property) {
  Statement s(impl_->db,
              "SELECT d.candidate_id, d.round, mo.smiles, d.mean, d.sigma, x.value, "
              "x.uncertainty, x.fidelity, x.job_id FROM measurement x "
              "JOIN job j ON j.id = x.job_id JOIN decision d ON d.id = j.decision_id "
              "JOIN candidate c ON c.id = d.candidate_id JOIN molecule mo ON mo.id = "
              "c.molecule_id WHERE x.property = ? AND d.mean IS NOT NULL AND d.sigma IS NOT NULL "
              "ORDER BY x.id");
  s.Bind(1, property);
  std::vector<DecisionOutcome> outcomes;
  LABLOOP_TRY(s.ForEachRow([&] {
    outcomes.push_back({s.Int(0), static_cast<int>(s.Int(1)), s.Text(2), s.Double(3), s.Double(4),
                        s.Double(5), OptionalDouble(s, 6), s.Text(7), s.Int(8)});
  }));
  return outcomes;
}

Result<int64_t> CampaignDb::DataVersion() {
  Statement s(impl_->db, "PRAGMA data_version");
  auto row = s.Step();
  if (!row) return tl::unexpected(row.error());
  return s.Int(0);
}

Status CampaignDb::AddApiToken(const std::string& name, const std::string& role,
                               const std::string& hash) {
  const bool plain_name =
      !name.empty() && name.size() <= 64 &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
          std::string::npos;
  if (!plain_name) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "token name '" + name + "' must be 1 to 64 letters, digits, '_', '.' or '-'");
  }
  if (role != "viewer" && role != "operator" && role != "admin") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "token role '" + role + "' is not one of viewer, operator, admin");
  }
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement exists(impl_->db, "SELECT COUNT(*) FROM api_token WHERE name = ?");
  exists.Bind(1, name);
  LABLOOP_TRY(exists.Step());
  if (exists.Int(0) > 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a token named '" + name +
                         "' exists (names are never reused, revoked or "
                         "not); pick another name");
  }
  Statement insert(impl_->db,
                   "INSERT INTO api_token (name, role, hash, created_at) VALUES (?, ?, ?, ?)");
  insert.Bind(1, name).Bind(2, role).Bind(3, hash).Bind(4, NowUtc());
  LABLOOP_TRY(insert.Run());
  LABLOOP_TRY(
      LogEvent("labloop", "token_added", "{\"name\":\"" + name + "\",\"role\":\"" + role + "\"}"));
  return tx.Commit();
}

Result<std::vector<ApiToken>> CampaignDb::ListApiTokens() {
  Statement s(impl_->db,
              "SELECT id, name, role, hash, created_at, COALESCE(revoked_at, '') FROM api_token "
              "ORDER BY id");
  std::vector<ApiToken> tokens;
  LABLOOP_TRY(s.ForEachRow([&] {
    tokens.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5)});
  }));
  return tokens;
}

Status CampaignDb::RevokeApiToken(const std::string& name, const std::string& who) {
  Transaction tx(impl_->db);
  LABLOOP_TRY(tx.begun());
  Statement update(impl_->db,
                   "UPDATE api_token SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL");
  update.Bind(1, NowUtc()).Bind(2, name);
  LABLOOP_TRY(update.Run());
  Statement changed(impl_->db, "SELECT changes()");
  auto row = changed.Step();
  if (!row) return tl::unexpected(row.error());
  if (changed.Int(0) == 0) {
    return MakeError(ErrorCode::kNotFound, "no active token named '" + name + "'");
  }
  LABLOOP_TRY(LogEvent(who, "token_revoked", "{\"name\":\"" + name + "\"}"));
  return tx.Commit();
}

}  // namespace labloop::db
