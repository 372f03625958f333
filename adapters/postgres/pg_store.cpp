#include "adapters/postgres/pg_store.hpp"

#include <nlohmann/json.hpp>

#include "adapters/postgres/pg_connection.hpp"
#include "common/log_text.hpp"

namespace quel {

namespace {

/// A bigint[] literal such as `{1,2,3}`, passed as text and cast in SQL
/// (libpqxx 6 has no array parameters).
template <class Int>
std::string array_literal(const std::vector<Int>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0)
      out += ',';
    out += std::to_string(ids[i]);
  }
  out += '}';
  return out;
}

std::optional<std::string> optional_text(const pqxx::field& f) {
  if (f.is_null())
    return std::nullopt;
  return f.as<std::string>();
}

/// The paying organisation as a nullable uuid parameter.
std::optional<std::string> org_param(const image_identity& image) {
  if (!image.org_id)
    return std::nullopt;
  return image.org_id->str();
}

claimed_job::outcome claim_outcome(const std::string& s) {
  if (s == "claimed")
    return claimed_job::outcome::claimed;
  if (s == "finished")
    return claimed_job::outcome::finished;
  if (s == "leased_elsewhere")
    return claimed_job::outcome::leased_elsewhere;
  if (s == "quarantined")
    return claimed_job::outcome::quarantined;
  if (s == "missing")
    return claimed_job::outcome::missing;
  throw std::logic_error("quel_worker_claim returned an unknown outcome: " + s);
}

hold_outcome hold_outcome_of(const std::string& s) {
  if (s == "held")
    return hold_outcome::held;
  if (s == "insufficient_credits")
    return hold_outcome::insufficient_credits;
  if (s == "lease_lost")
    return hold_outcome::lease_lost;
  throw std::logic_error("quel_worker_hold_images returned an unknown outcome: " + s);
}

commit_result::outcome commit_outcome(const std::string& s) {
  if (s == "committed")
    return commit_result::outcome::committed;
  if (s == "already_committed")
    return commit_result::outcome::already_committed;
  if (s == "lease_lost")
    return commit_result::outcome::lease_lost;
  if (s == "insufficient_credits")
    return commit_result::outcome::insufficient_credits;
  throw std::logic_error("quel_worker_commit_image returned an unknown outcome: " + s);
}

// error_message is read by people and the web app: whatever path a reason
// took (an upstream body, a customer's id or type), no known secret and no
// unbounded text is stored.
std::string stored_message(const std::string& text) {
  return redact_and_clip(text, max_message_chars);
}

std::optional<std::string> stored_message(const std::optional<std::string>& text) {
  if (!text)
    return std::nullopt;
  return stored_message(*text);
}

/// An image's attempts as stored: NULL when not known.
std::optional<int> attempts_param(int attempts) {
  if (attempts <= 0)
    return std::nullopt;
  return attempts;
}

/// quel_worker_finish's p_failed: the given-up images with their attempts
/// and reasons (stored like error_message).
std::string failed_json(const std::vector<image_failure>& failed) {
  auto out = nlohmann::json::array();
  for (const auto& f : failed)
    out.push_back({{"stage", f.stage_index},
                   {"image", f.image_index},
                   {"attempts", f.attempts ? nlohmann::json(*f.attempts) : nlohmann::json(nullptr)},
                   {"reason", stored_message(f.reason)}});
  return out.dump();
}

} // namespace

pg_store::pg_store(const std::string& database_url)
  : db_(std::make_unique<pg_connection>(database_url)) {
  // nop
}

pg_store::~pg_store() = default;

int pg_store::backend_pid() const noexcept {
  return db_->backend_pid();
}

claimed_job pg_store::claim(const ids::job& job_id, const std::string& node_id,
                            std::chrono::milliseconds lease_ttl, int max_attempts) {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto row = tx.exec_params1("SELECT * FROM quel_worker_claim($1::uuid, $2, $3, $4)",
                               job_id.str(), node_id, static_cast<int64_t>(lease_ttl.count()),
                               max_attempts);
    claimed_job job;
    job.result = claim_outcome(row["o_outcome"].as<std::string>());
    job.job_id = job_id;
    job.job_type = row["o_job_type"].as<std::string>("");
    job.input_json = row["o_input"].as<std::string>("");
    job.org_id = ids::optional_org(optional_text(row["o_org_id"]));
    job.production_id = optional_text(row["o_production_id"]);
    job.status = row["o_status"].as<std::string>("");
    job.epoch = row["o_epoch"].as<int64_t>(0);
    job.attempts = row["o_attempts"].as<int>(0);
    job.owner_node = row["o_owner_node"].as<std::string>("");
    job.lease_left = std::chrono::milliseconds(row["o_lease_left_ms"].as<int64_t>(0));
    return job;
  });
}

bool pg_store::renew(const ids::job& job_id, int64_t epoch,
                     std::chrono::milliseconds lease_ttl) {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params(
      "UPDATE quel_worker_job"
      "   SET lease_expires_at = now() + $3 * interval '1 millisecond', updated_at = now()"
      " WHERE job_id = $1::uuid AND epoch = $2",
      job_id.str(), epoch, static_cast<int64_t>(lease_ttl.count()));
    return r.affected_rows() == 1;
  });
}

void pg_store::release(const ids::job& job_id, int64_t epoch) {
  db_->run([&](pqxx::nontransaction& tx) {
    // A graceful handover must not count as a crash towards quarantine.
    tx.exec_params("UPDATE quel_worker_job"
                   "   SET lease_expires_at = now(), attempts = greatest(attempts - 1, 0),"
                   "       updated_at = now()"
                   " WHERE job_id = $1::uuid AND epoch = $2",
                   job_id.str(), epoch);
  });
}

std::vector<attach_row> pg_store::attach_rows(const std::vector<int64_t>& ids) {
  if (ids.empty())
    return {};
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params("SELECT attach_id, attach_file_path, attach_directory"
                            "  FROM quel_attach WHERE attach_id = ANY($1::bigint[])"
                            " ORDER BY attach_id",
                            array_literal(ids));
    std::vector<attach_row> rows;
    rows.reserve(r.size());
    for (const auto& row : r) {
      attach_row a;
      a.attach_id = row[0].as<int64_t>();
      a.file_path = optional_text(row[1]);
      a.directory = optional_text(row[2]);
      rows.push_back(std::move(a));
    }
    return rows;
  });
}

bool pg_store::fail_invalid(const ids::job& job_id, int64_t epoch,
                            const std::string& message) {
  return db_->run([&](pqxx::nontransaction& tx) {
    return tx.exec_params1("SELECT quel_worker_fail_invalid($1::uuid, $2, $3)", job_id.str(),
                           epoch, stored_message(message))[0].as<bool>();
  });
}

std::optional<std::vector<committed_image>>
pg_store::start(const ids::job& job_id, int64_t epoch, int total_images) {
  return db_->run([&](pqxx::nontransaction& tx)
                    -> std::optional<std::vector<committed_image>> {
    auto f = tx.exec_params1("SELECT quel_worker_start($1::uuid, $2, $3)", job_id.str(), epoch,
                             total_images)[0];
    if (f.is_null())
      return std::nullopt;
    std::vector<committed_image> images;
    for (const auto& item : nlohmann::json::parse(f.c_str())) {
      committed_image img;
      img.stage_index = item.at(0).get<int>();
      img.image_index = item.at(1).get<int>();
      img.attach_id = item.at(2).get<int64_t>();
      img.object_key = item.at(3).get<std::string>();
      images.push_back(std::move(img));
    }
    return images;
  });
}

bool pg_store::finish(const job_finish& f) {
  return db_->run([&](pqxx::nontransaction& tx) {
    return tx.exec_params1("SELECT quel_worker_finish($1::uuid, $2, $3, $4, $5::bigint[],"
                           " $6::jsonb)",
                           f.job_id.str(), f.epoch, f.completed, stored_message(f.error_message),
                           array_literal(f.ordered_attach_ids),
                           failed_json(f.failed_images))[0].as<bool>();
  });
}

std::vector<hold_outcome> pg_store::hold_images(const image_identity& stage,
                                                const std::vector<int32_t>& images) {
  if (images.empty())
    return {};
  auto outcomes = db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params("SELECT o_image, o_outcome"
                            "  FROM quel_worker_hold_images($1::uuid, $2, $3, $4::integer[],"
                            "                               $5::uuid, $6)",
                            stage.job_id.str(), stage.epoch, stage.stage_index,
                            array_literal(images), org_param(stage), stage.cost);
    std::vector<hold_outcome> out;
    out.reserve(r.size());
    for (const auto& row : r)
      out.push_back(hold_outcome_of(row[1].as<std::string>()));
    return out;
  });
  if (outcomes.size() != images.size())
    throw std::logic_error("quel_worker_hold_images answered for "
                           + std::to_string(outcomes.size()) + " of "
                           + std::to_string(images.size()) + " images");
  return outcomes;
}

void pg_store::release_holds(const image_identity& stage, const std::vector<int32_t>& images) {
  if (images.empty())
    return;
  db_->run([&](pqxx::nontransaction& tx) {
    tx.exec_params("DELETE FROM quel_worker_credit_hold h"
                   " WHERE h.job_id = $1::uuid AND h.stage_index = $3"
                   "   AND h.image_index = ANY($4::integer[])"
                   "   AND EXISTS (SELECT 1 FROM quel_worker_job w"
                   "                WHERE w.job_id = h.job_id AND w.epoch = $2)",
                   stage.job_id.str(), stage.epoch, stage.stage_index, array_literal(images));
  });
}

namespace {

/// One image: quel_worker_commit_image itself.
commit_result commit_one(pg_connection& db, const image_commit& c) {
  return db.run([&](pqxx::nontransaction& tx) {
    auto row = tx.exec_params1(
      "SELECT * FROM quel_worker_commit_image($1::uuid, $2, $3, $4, $5, $6, $7, $8,"
      " $9::uuid, $10, $11::integer)",
      c.image.job_id.str(), c.image.epoch, c.image.stage_index, c.image.image_index,
      c.object_key, c.file_name, c.mime_type, c.size_bytes, org_param(c.image),
      c.image.cost, attempts_param(c.attempts));
    commit_result r;
    r.result = commit_outcome(row["o_outcome"].as<std::string>());
    r.attach_id = row["o_attach_id"].as<int64_t>(0);
    r.completed_images = row["o_completed"].as<int>(0);
    r.total_images = row["o_total"].as<int>(0);
    if (!row["o_balance"].is_null())
      r.balance_after = row["o_balance"].as<int64_t>();
    return r;
  });
}

} // namespace

std::vector<commit_result> pg_store::commit_images(const std::vector<image_commit>& commits) {
  if (commits.empty())
    return {};
  // A lone commit skips the JSON and the grouping function's loop.
  if (commits.size() == 1)
    return {commit_one(*db_, commits.front())};
  // Each answer carries its element's "i": the function commits in its own
  // lock order (migration 006), and results are paired by that tag.
  auto batch = nlohmann::json::array();
  for (size_t i = 0; i < commits.size(); ++i) {
    const auto& c = commits[i];
    batch.push_back({{"i", i},
                     {"job_id", c.image.job_id.str()},
                     {"epoch", c.image.epoch},
                     {"stage", c.image.stage_index},
                     {"image", c.image.image_index},
                     {"object_key", c.object_key},
                     {"file_name", c.file_name},
                     {"mime_type", c.mime_type},
                     {"size", c.size_bytes},
                     {"org_id", c.image.org_id ? nlohmann::json(c.image.org_id->str())
                                               : nlohmann::json(nullptr)},
                     {"cost", c.image.cost},
                     {"attempts", c.attempts > 0 ? nlohmann::json(c.attempts)
                                                 : nlohmann::json(nullptr)}});
  }
  return db_->run([&](pqxx::nontransaction& tx) {
    auto rows = tx.exec_params("SELECT * FROM quel_worker_commit_images($1::jsonb)",
                               batch.dump());
    std::vector<commit_result> results(commits.size());
    std::vector<bool> answered(commits.size(), false);
    for (const auto& row : rows) {
      auto i = row["o_i"].as<size_t>();
      if (i >= commits.size() || answered[i])
        throw std::logic_error("quel_worker_commit_images answered out of turn");
      answered[i] = true;
      auto& r = results[i];
      r.result = commit_outcome(row["o_outcome"].as<std::string>());
      r.attach_id = row["o_attach_id"].as<int64_t>(0);
      r.completed_images = row["o_completed"].as<int>(0);
      r.total_images = row["o_total"].as<int>(0);
      if (!row["o_balance"].is_null())
        r.balance_after = row["o_balance"].as<int64_t>();
    }
    if (rows.size() != commits.size())
      throw std::logic_error("quel_worker_commit_images answered for "
                             + std::to_string(rows.size()) + " of "
                             + std::to_string(commits.size()) + " images");
    return results;
  });
}

} // namespace quel
