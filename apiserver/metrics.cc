#include "apiserver/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>

namespace solti::api {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("solti_apiserver_requests_total")
          .Help("HTTP requests by verb, resource and response code")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("solti_apiserver_request_duration_seconds")
          .Help("Time to answer a request, by verb and resource (watches excluded)")
          .Register(*registry);
  prometheus::Gauge& watchers = prometheus::BuildGauge()
                                    .Name("solti_apiserver_watchers")
                                    .Help("Watch streams open now")
                                    .Register(*registry)
                                    .Add({});
  prometheus::Family<prometheus::Gauge>& store_gauges = prometheus::BuildGauge()
                                                            .Name("solti_store_revision")
                                                            .Help("Latest committed revision")
                                                            .Register(*registry);
  prometheus::Gauge& revision = store_gauges.Add({});
  prometheus::Gauge& compacted = prometheus::BuildGauge()
                                     .Name("solti_store_compacted_revision")
                                     .Help("History at or below this revision is compacted")
                                     .Register(*registry)
                                     .Add({});
  prometheus::Counter& writes = prometheus::BuildCounter()
                                    .Name("solti_store_writes_total")
                                    .Help("Acknowledged (durable) writes")
                                    .Register(*registry)
                                    .Add({});
  prometheus::Counter& batches = prometheus::BuildCounter()
                                     .Name("solti_store_commit_batches_total")
                                     .Help("WAL writes; each serves a group of writes")
                                     .Register(*registry)
                                     .Add({});
  prometheus::Family<prometheus::Gauge>& memory =
      prometheus::BuildGauge()
          .Name("solti_store_memory_bytes")
          .Help(
              "Memory the store holds, by part: memtables, table_readers (index and filter "
              "blocks), block_cache, watch_cache")
          .Register(*registry);
  std::mutex render_mu;  // the store counters advance by deltas between scrapes
  store::Stats last;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe_request(const std::string& verb, const std::string& resource, int code,
                              std::chrono::duration<double> latency) {
  impl_->requests.Add({{"verb", verb}, {"resource", resource}, {"code", std::to_string(code)}})
      .Increment();
  if (verb == "watch") return;
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  impl_->latency.Add({{"verb", verb}, {"resource", resource}}, kBuckets).Observe(latency.count());
}

void Metrics::set_watchers(size_t open) { impl_->watchers.Set(double(open)); }

std::string Metrics::render(store::Store& store) {
  {
    std::lock_guard lock(impl_->render_mu);
    store::Stats stats = store.stats();
    impl_->writes.Increment(double(stats.writes - impl_->last.writes));
    impl_->batches.Increment(double(stats.commit_batches - impl_->last.commit_batches));
    impl_->last = stats;
    impl_->revision.Set(double(store.revision()));
    impl_->compacted.Set(double(store.compacted_revision()));
    for (auto [part, bytes] : {std::pair{"memtables", stats.memtable_bytes},
                               {"table_readers", stats.table_reader_bytes},
                               {"block_cache", stats.block_cache_bytes},
                               {"watch_cache", stats.watch_cache_bytes}}) {
      impl_->memory.Add({{"part", part}}).Set(double(bytes));
    }
  }
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace solti::api
