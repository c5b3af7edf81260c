#include "reconciler/runners/embedded_runner.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fstream>
#include <thread>

namespace solti::runners {
namespace {

namespace asio = boost::asio;

class EmbeddedAttempt final : public Attempt, public std::enable_shared_from_this<EmbeddedAttempt> {
 public:
  EmbeddedAttempt(asio::io_context& loop, AttemptRequest request, EmbeddedFunction function,
                  std::function<void(AttemptResult)> done)
      : loop_(loop),
        request_(std::move(request)),
        function_(std::move(function)),
        done_(std::move(done)),
        timeout_(loop) {}

  ~EmbeddedAttempt() override {
    if (worker_.joinable()) worker_.join();
  }

  void begin() {
    auto self = shared_from_this();
    if (request_.spec.timeout && request_.spec.timeout->millis().count() > 0) {
      timeout_.expires_after(request_.spec.timeout->millis());
      timeout_.async_wait([self](const boost::system::error_code& ec) {
        if (!ec) self->stop(Outcome::kTimedOut);
      });
    }
    worker_ = std::thread([self] {
      Result<std::string> result = self->function_(self->stop_);
      asio::post(self->loop_, [self, result = std::move(result)] { self->finish(result); });
    });
  }

  void cancel(std::chrono::milliseconds) override {
    asio::post(loop_, [self = shared_from_this()] { self->stop(Outcome::kCanceled); });
  }

 private:
  void stop(Outcome why) {
    if (finished_ || stop_reason_) return;
    stop_reason_ = why;
    stop_ = true;
  }

  void finish(const Result<std::string>& result) {
    worker_.join();
    timeout_.cancel();
    finished_ = true;
    AttemptResult r;
    if (stop_reason_ == Outcome::kTimedOut) {
      r = {Outcome::kTimedOut,
           {},
           {},
           "Timeout",
           "attempt exceeded its timeout of " + request_.spec.timeout->text()};
    } else if (stop_reason_ == Outcome::kCanceled) {
      r = {Outcome::kCanceled, {}, {}, "Canceled", "attempt canceled"};
    } else if (result.ok()) {
      r = {Outcome::kSucceeded, {}, {}, "Completed", *result};
    } else {
      r = {Outcome::kFailed,
           {},
           {},
           std::string(status_reason(result.status().code())),
           result.status().message()};
    }
    if (!request_.log_path.empty()) std::ofstream(request_.log_path) << r.message << "\n";
    done_(std::move(r));
  }

  asio::io_context& loop_;
  AttemptRequest request_;
  EmbeddedFunction function_;
  std::function<void(AttemptResult)> done_;
  asio::steady_timer timeout_;
  std::thread worker_;
  StopFlag stop_{false};
  std::optional<Outcome> stop_reason_;
  bool finished_ = false;
};

}  // namespace

void EmbeddedRunner::register_function(std::string name, EmbeddedFunction function) {
  functions_[std::move(name)] = std::move(function);
}

bool EmbeddedRunner::supports(const TaskSpec& spec) const {
  return spec.embedded && functions_.count(spec.embedded->function);
}

std::shared_ptr<Attempt> EmbeddedRunner::start(AttemptRequest request,
                                               std::function<void(AttemptResult)> done) {
  auto function = functions_.at(request.spec.embedded->function);
  auto attempt = std::make_shared<EmbeddedAttempt>(loop_, std::move(request), std::move(function),
                                                   std::move(done));
  asio::post(loop_, [attempt] { attempt->begin(); });
  return attempt;
}

}  // namespace solti::runners
