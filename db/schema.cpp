// The campaign file's schema and its forward migrations.
//
// Migration N takes a file from user_version N-1 to N. Never edit a released migration; add one.

#include "db/schema.h"

namespace labloop::db::detail {

const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> migrations = {
      // 1: the records of DESIGN.md §4.
      R"sql(
CREATE TABLE campaign (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL,
  config_given TEXT NOT NULL,
  config_resolved TEXT NOT NULL,
  created_at TEXT NOT NULL,
  ready INTEGER NOT NULL DEFAULT 0  -- 1 once init has imported the whole library
);
CREATE TABLE molecule (
  id INTEGER PRIMARY KEY,
  smiles TEXT NOT NULL,
  inchikey TEXT NOT NULL UNIQUE,
  fingerprint BLOB
);
CREATE TABLE candidate (
  id INTEGER PRIMARY KEY,
  molecule_id INTEGER NOT NULL UNIQUE REFERENCES molecule(id),
  source TEXT NOT NULL,
  source_id TEXT,
  location TEXT,
  parents TEXT,
  round_added INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE rejected_input (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  location TEXT NOT NULL,
  record_id TEXT,
  input TEXT,
  reason TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE model (
  id INTEGER PRIMARY KEY,
  round INTEGER NOT NULL,
  kind TEXT NOT NULL,
  property TEXT NOT NULL,
  training_size INTEGER NOT NULL,
  metrics TEXT,
  weights BLOB,
  created_at TEXT NOT NULL
);
CREATE TABLE round (
  number INTEGER PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('selecting', 'dispatched', 'done')),
  model_id INTEGER REFERENCES model(id),
  started_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE TABLE prediction (
  model_id INTEGER NOT NULL REFERENCES model(id),
  candidate_id INTEGER NOT NULL REFERENCES candidate(id),
  mean REAL NOT NULL,
  sigma REAL NOT NULL,
  sigma_epistemic REAL,
  sigma_aleatoric REAL,
  PRIMARY KEY (model_id, candidate_id)
) WITHOUT ROWID;
CREATE TABLE decision (
  id INTEGER PRIMARY KEY,
  round INTEGER NOT NULL REFERENCES round(number),
  candidate_id INTEGER NOT NULL REFERENCES candidate(id),
  route TEXT NOT NULL CHECK (route IN ('trust', 'simulate', 'experiment', 'reject')),
  acquisition TEXT,
  acquisition_value REAL,
  mean REAL,
  sigma REAL,
  cost REAL,
  reasons TEXT,
  approved_by TEXT,
  approved_at TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (round, candidate_id)
);
CREATE TABLE job (
  id INTEGER PRIMARY KEY,
  decision_id INTEGER REFERENCES decision(id),
  candidate_id INTEGER NOT NULL REFERENCES candidate(id),
  round INTEGER NOT NULL,
  kind TEXT NOT NULL,
  backend TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN
    ('queued', 'submitted', 'running', 'done', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  external_id TEXT,
  error TEXT,
  raw TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX job_state ON job(state);
CREATE TABLE measurement (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES job(id),
  candidate_id INTEGER NOT NULL REFERENCES candidate(id),
  property TEXT NOT NULL,
  value REAL NOT NULL,
  uncertainty REAL,
  fidelity TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (job_id, candidate_id, property)
);
CREATE INDEX measurement_property ON measurement(property, candidate_id);
CREATE TABLE event (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT
);
)sql",
      // 2: the approval gate: decisions that wait for a person before their job may run.
      R"sql(
ALTER TABLE decision ADD COLUMN needs_approval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE decision ADD COLUMN rejected_by TEXT;
ALTER TABLE decision ADD COLUMN rejected_at TEXT;
ALTER TABLE decision ADD COLUMN rejected_reason TEXT;
)sql",
      // 3: experiments on lab instruments (each a step of an experiment job, with the request id
      // the instrument sees) and the emergency stop.
      R"sql(
CREATE TABLE experiment (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES job(id),
  step INTEGER NOT NULL,
  kind TEXT NOT NULL,
  instrument TEXT NOT NULL,
  request_id TEXT NOT NULL UNIQUE,
  parameters TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN
    ('requested', 'approved', 'sent', 'running', 'done', 'failed', 'aborted')),
  sends INTEGER NOT NULL DEFAULT 0,
  raw TEXT,
  result TEXT,
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (job_id, step)
);
CREATE INDEX experiment_state ON experiment(state);
CREATE TABLE control (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT,
  updated_at TEXT NOT NULL
);
)sql",
      // 4: what the GUI and server need: API tokens (hashed, with a role) and indexes that make
      // a candidate's page and the candidates table fast at a million rows.
      R"sql(
CREATE TABLE api_token (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  hash TEXT NOT NULL UNIQUE,  -- SHA-256 of the token, hex; the token itself is never stored
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX decision_candidate ON decision(candidate_id);
CREATE INDEX job_candidate ON job(candidate_id);
CREATE INDEX measurement_candidate ON measurement(candidate_id);
)sql",
  };
  return migrations;
}

}  // namespace labloop::db::detail
