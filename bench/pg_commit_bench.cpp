// Images per second committed to PostgreSQL: the old design's statement
// sequence against this worker's pg_store, on the same data set, with 1 and
// 2 client connections, runs interleaved; medians and ratios (bench/README.md).
#include <atomic>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_database.hpp"
#include "bench/bench_stats.hpp"
#include "bench/legacy_job_runner.hpp"
#include "bench/worker_job_runner.hpp"

namespace {

using namespace quel::bench;

struct options {
  std::string url;
  int jobs = 250;
  int orgs = 5;
  int runs = 5;
  std::vector<int> clients{1, 2};
  bool markdown = false;
};

enum class design { baseline, ours, ours_grouped, ours_commit_only };

const char* name_of(design d) {
  switch (d) {
    case design::baseline: return "baseline (old design, 31 statements/job)";
    case design::ours: return "ours (stage hold + commit per image)";
    case design::ours_grouped: return "ours (stage hold + grouped commit per stage)";
    case design::ours_commit_only: return "ours, commit per image only";
  }
  return "?";
}

quel::bench::worker_flow flow_of(design d) {
  switch (d) {
    case design::ours_grouped: return quel::bench::worker_flow::grouped;
    case design::ours_commit_only: return quel::bench::worker_flow::commit_only;
    default: return quel::bench::worker_flow::stage_holds;
  }
}

/// One job runner of either design behind one interface for the threads.
struct runner {
  std::unique_ptr<legacy_job_runner> legacy;
  std::unique_ptr<worker_job_runner> worker;
  int run(const bench_job& j) { return legacy ? legacy->run_job(j) : worker->run_job(j); }
};

runner make_runner(design d, const std::string& url) {
  runner r;
  if (d == design::baseline) {
    r.legacy = std::make_unique<legacy_job_runner>(url);
  } else {
    r.worker = std::make_unique<worker_job_runner>(url, flow_of(d));
    r.worker->connect();
  }
  return r;
}

struct run_result {
  double images_per_second = 0;
  double trips_per_image = 0;
  double server_xacts_per_image = -1;  // measured in the first round only
};

run_result run_once(bench_database& db, const options& opt, design d, int clients,
                    bool count_server) {
  auto data = db.reset(opt.jobs, opt.orgs);
  int64_t before = count_server ? db.server_transactions() : 0;
  std::vector<runner> runners;
  for (int c = 0; c < clients; ++c)
    runners.push_back(make_runner(d, db.url()));
  // worker_job_runner::connect sends one statement per client.
  const int64_t warm_up = d == design::baseline ? 0 : clients;

  // Contiguous halves, so that both clients touch every organisation (their
  // row locks are where two clients meet).
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<int> trips(static_cast<size_t>(clients), 0);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  const size_t n = data.jobs.size();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      size_t from = n * static_cast<size_t>(c) / static_cast<size_t>(clients);
      size_t to = n * static_cast<size_t>(c + 1) / static_cast<size_t>(clients);
      ++ready;
      while (!go)
        std::this_thread::yield();
      try {
        for (size_t j = from; j < to; ++j)
          trips[static_cast<size_t>(c)] += runners[static_cast<size_t>(c)].run(data.jobs[j]);
      } catch (...) {
        errors[static_cast<size_t>(c)] = std::current_exception();
      }
    });
  }
  while (ready < clients)
    std::this_thread::yield();
  double start = now_seconds();
  go = true;
  for (auto& t : threads)
    t.join();
  double took = now_seconds() - start;
  for (auto& e : errors)
    if (e)
      std::rethrow_exception(e);

  const double images = 4.0 * static_cast<double>(n);
  run_result r;
  r.images_per_second = images / took;
  int total_trips = 0;
  for (int t : trips)
    total_trips += t;
  r.trips_per_image = total_trips / images;
  runners.clear();
  if (count_server)
    r.server_xacts_per_image
      = static_cast<double>(db.server_transactions() - before - warm_up) / images;

  // The work must really have been done, whatever the design.
  auto expect = [&](const std::string& what, int64_t got, int64_t want) {
    if (got != want)
      throw std::runtime_error(std::string(name_of(d)) + ": " + what + " is "
                               + std::to_string(got) + ", expected " + std::to_string(want));
  };
  const auto want_images = static_cast<int64_t>(images);
  expect("credit log rows", db.count("SELECT count(*) FROM quel_credit_log"), want_images);
  expect("output attach rows",
         db.count("SELECT count(*) FROM quel_attach WHERE attach_file_type = 'image/webp'"),
         want_images);
  expect("completed jobs",
         db.count("SELECT count(*) FROM quel_production_jobs WHERE job_status = 'completed'"
                  " AND completed_images = 4 AND jsonb_array_length(generated_attach_ids) = 4"),
         static_cast<int64_t>(n));
  expect("productions with 4 ids",
         db.count("SELECT count(*) FROM quel_production_photo WHERE production_status ="
                  " 'completed' AND jsonb_array_length(attach_ids) = 4"),
         static_cast<int64_t>(n));
  return r;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    out.push_back(std::stoi(item));
  return out;
}

options parse_options(int argc, char** argv) {
  options opt;
  for (const char* var : {"QUEL_BENCH_DATABASE_URL", "QUEL_DATABASE_URL"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
      opt.url = v;
      break;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (a.rfind(flag + "=", 0) == 0)
        return a.substr(flag.size() + 1);
      return {};
    };
    if (auto v = value("--jobs"); !v.empty()) opt.jobs = std::stoi(v);
    else if (auto v = value("--orgs"); !v.empty()) opt.orgs = std::stoi(v);
    else if (auto v = value("--runs"); !v.empty()) opt.runs = std::stoi(v);
    else if (auto v = value("--clients"); !v.empty()) opt.clients = parse_list(v);
    else if (auto v = value("--database-url"); !v.empty()) opt.url = v;
    else if (a == "--markdown") opt.markdown = true;
    else
      throw std::invalid_argument("unknown argument " + a
                                  + " (--jobs=N --orgs=N --runs=N --clients=1,2"
                                    " --database-url=URL --markdown)");
  }
  if (opt.url.empty())
    throw std::invalid_argument("set QUEL_DATABASE_URL (or QUEL_BENCH_DATABASE_URL)");
  if (opt.jobs < 1 || opt.orgs < 1 || opt.runs < 1)
    throw std::invalid_argument("--jobs, --orgs and --runs must be at least 1");
  return opt;
}

} // namespace

int main(int argc, char** argv) {
  try {
    auto opt = parse_options(argc, argv);
    bench_database db{opt.url};
    const std::vector<design> designs{design::baseline, design::ours, design::ours_grouped,
                                      design::ours_commit_only};
    std::map<std::pair<int, design>, std::vector<run_result>> results;
    std::cerr << "pg_commit_bench: " << opt.jobs << " jobs x 4 images, " << opt.orgs
              << " orgs, " << opt.runs << " interleaved runs\n";
    for (int r = 0; r < opt.runs; ++r) {
      for (int clients : opt.clients) {
        for (design d : designs) {
          auto res = run_once(db, opt, d, clients, r == 0);
          std::cerr << "  run " << r + 1 << ", " << clients << " client(s), " << name_of(d)
                    << ": " << fixed(res.images_per_second) << " images/s\n";
          results[{clients, d}].push_back(res);
        }
      }
    }

    text_table table({"clients", "design", "round trips/image", "server xacts/image",
                      "images/s (median)", "min..max", "ours/baseline"});
    for (int clients : opt.clients) {
      double base = 0;
      for (design d : designs) {
        const auto& rs = results[{clients, d}];
        std::vector<double> ips;
        for (const auto& x : rs)
          ips.push_back(x.images_per_second);
        double m = median(ips);
        if (d == design::baseline)
          base = m;
        table.add({std::to_string(clients), name_of(d), fixed(rs.front().trips_per_image, 2),
                   fixed(rs.front().server_xacts_per_image, 2), fixed(m), spread(ips),
                   d == design::baseline ? "1.00" : fixed(m / base, 2)});
      }
    }
    std::cout << "PostgreSQL commit throughput (" << opt.jobs << " jobs x 4 images, "
              << opt.orgs << " orgs, median of " << opt.runs << " interleaved runs)\n"
              << "machine: " << machine_summary() << "\n\n"
              << table.render();
    if (opt.markdown)
      std::cout << '\n' << table.markdown();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pg_commit_bench: " << e.what() << '\n';
    return 1;
  }
}
