// A broken or hostile etcd against daemon::EtcdClient and EtcdWatch: the
// sans-I/O readers (etcd_parse.hpp) fed hostile text directly, then both
// clients against a fake etcd on loopback (support/fake_etcd.hpp) that sends
// a huge plain body, a deeply nested line, an over-long line or nothing at
// all. Each is refused and counted by reason; the process stays up, its
// memory bounded, and nothing waits forever.
#include <gtest/gtest.h>

#include <fstream>

#include "daemon/etcd.hpp"
#include "daemon/etcd_watch.hpp"
#include "support/fake_etcd.hpp"
#include "tund/limits.hpp"

namespace tund {
namespace {

using daemon::EtcdClient;
using daemon::EtcdWatch;
using daemon::etcd::Fault;
using daemon::etcd::WatchStream;
using nlohmann::json;
using test::FakeEtcd;
namespace etcd = daemon::etcd;
using namespace std::chrono_literals;

constexpr std::size_t kHuge = 96u << 20;  // the review's 96 MiB plain body

std::string nested(std::size_t depth) { return "{\"error\":" + std::string(depth, '[') + std::string(depth, ']') + "}"; }

std::string event_line(const std::string& key, const std::string& value, int revision) {
  return json{{"result",
               {{"header", {{"revision", std::to_string(revision)}}},
                {"events", {{{"kv", {{"key", etcd::base64(key)}, {"value", etcd::base64(value)},
                                     {"mod_revision", std::to_string(revision)}}}}}}}}}
      .dump();
}

// Peak resident memory (kB) since the last reset_peak(): /proc/self/status's
// VmHWM, reset by writing 5 to clear_refs.
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }
long status_kb(const std::string& field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// --- the sans-I/O readers -----------------------------------------------------

TEST(EtcdParse, DepthIsCountedOutsideStringsOnly) {
  EXPECT_TRUE(etcd::depth_within("{\"a\":[1,{\"b\":2}]}", 3));
  EXPECT_FALSE(etcd::depth_within("{\"a\":[1,{\"b\":2}]}", 2));
  EXPECT_TRUE(etcd::depth_within("{\"a\":\"[[[[[[\\\"[[[[\"}", 1));  // brackets in a string, an escaped quote
  Fault why{};
  EXPECT_FALSE(etcd::parse_json(nested(400000), why));
  EXPECT_EQ(why, Fault::kTooDeep);
  EXPECT_FALSE(etcd::parse_json("{\"a\":", why));
  EXPECT_EQ(why, Fault::kNotJson);
  EXPECT_TRUE(etcd::parse_json(nested(limits::kEtcdMaxDepth - 1), why));
}

TEST(EtcdParse, LogExcerptsAreBoundedAndCannotForgeLines) {
  const auto e = etcd::excerpt(std::string(1000, 'x') + "\n<3>forged");
  EXPECT_EQ(e.size(), limits::kEtcdLogExcerpt + 3);
  EXPECT_EQ(etcd::excerpt("a\nb\x01\xff"), "a?b??");
  std::string error;
  Fault why{};
  EXPECT_FALSE(etcd::parse_answer(503, "busy\n", why, error));
  EXPECT_EQ(why, Fault::kStatus);
  EXPECT_EQ(error, "etcd 503: busy?");
}

TEST(EtcdParse, TheWatchStreamCutAnywhereGivesTheSameEvents) {
  const std::string text = json{{"result", {{"header", {{"revision", "9"}}}, {"created", true}}}}.dump() + "\n" +
                           event_line("/t/owner/a", "m2", 10) + "\n" + event_line("/t/owner/b", "m3", 11) + "\n";
  for (std::size_t piece : {1u, 2u, 7u, 64u, 100000u}) {
    WatchStream w;
    w.reset(0);
    std::vector<etcd::WatchEvent> events;
    for (std::size_t i = 0; i < text.size(); i += piece) {
      auto step = w.feed(std::string_view(text).substr(i, piece));
      ASSERT_FALSE(step.end) << step.error;
      for (auto& e : step.events) events.push_back(e);
    }
    ASSERT_EQ(events.size(), 2u) << piece;
    EXPECT_EQ(events[1].key, "/t/owner/b");
    EXPECT_EQ(events[1].value, "m3");
    EXPECT_EQ(w.seen_revision(), 11);
  }
}

TEST(EtcdParse, HostileWatchLinesEndTheStreamOrAreSkippedAndCounted) {
  WatchStream w;
  w.reset(0);
  // The review's crash: {"error": 400,000 nested arrays}, under the line limit.
  auto step = w.feed(nested(400000) + "\n");
  EXPECT_EQ(step.end, Fault::kTooDeep);
  EXPECT_LT(step.error.size(), 300u);
  // A line over the limit ends the stream without being kept.
  w.reset(0);
  step = w.feed(std::string(limits::kEtcdMaxLine / 2, 'a'));
  EXPECT_FALSE(step.end);
  step = w.feed(std::string(limits::kEtcdMaxLine / 2 + 1, 'a'));
  EXPECT_EQ(step.end, Fault::kTooLarge);
  // An event whose key is not base64 is skipped and counted; its neighbour counts.
  w.reset(0);
  json bad = json::parse(event_line("/t/owner/a", "m2", 5));
  bad["result"]["events"].push_back({{"kv", {{"key", "%%%"}, {"value", ""}}}});
  step = w.feed(bad.dump() + "\n");
  EXPECT_FALSE(step.end);
  EXPECT_EQ(step.events.size(), 1u);
  EXPECT_EQ(step.bad_events, 1u);
  // A progress notification moves the revision a new watch resumes from.
  step = w.feed(json{{"result", {{"header", {{"revision", "77"}}}}}}.dump() + "\n");
  EXPECT_EQ(w.seen_revision(), 77);
  // A past watch's "created" revision says nothing; a new one's does.
  w.reset(40);
  w.feed(json{{"result", {{"header", {{"revision", "90"}}}, {"created", true}}}}.dump() + "\n");
  EXPECT_EQ(w.seen_revision(), 40);
  // etcd's own error, not dumped: its raw text, bounded.
  step = w.feed("{\"error\":{\"grpc_code\":14,\"message\":\"" + std::string(5000, 'z') + "\"}}\n");
  EXPECT_EQ(step.end, Fault::kEtcdError);
  EXPECT_LT(step.error.size(), 300u);
  step = w.feed("[1,2]\nnot json\n");  // a non-object is no event; then garbage ends it
  EXPECT_EQ(step.end, Fault::kNotJson);
}

// --- the client and the watch against a fake etcd -------------------------------------

struct HostileEtcd : ::testing::Test {
  asio::io_context io;
  // Runs the loop until `done` or `limit` passes.
  template <class F>
  void run_until(F done, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) {
      io.restart();
      io.run_for(10ms);
    }
  }
};

TEST_F(HostileEtcd, TheWatchRefusesAHugePlainBodyWithoutBufferingIt) {
  FakeEtcd fake([](const std::string&, const std::string&) {
    FakeEtcd::Answer a;  // 200, 96 MiB of plain body, then silence with the connection open
    a.head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(kHuge) + "\r\n\r\n";
    a.filler = kHuge;
    a.filler_byte = '[';
    a.hold = true;
    return a;
  });
  std::string ended;
  EtcdWatch w(io, {fake.endpoint()}, [](const std::string&, const std::string&, bool, std::int64_t) {},
              [&](const std::string& why) { ended = why; });
  const long rss = status_kb("VmRSS");
  reset_peak();
  w.start("/t/owner/", 0);
  run_until([&] { return !ended.empty(); }, 3s);
  const long grown_kb = status_kb("VmHWM") - rss;
  std::printf("watch, 96 MiB plain body: peak RSS grew %ld KiB; ended: %s\n", grown_kb, ended.c_str());
  EXPECT_EQ(w.faults()[Fault::kNotChunked], 1u);
  EXPECT_NE(ended.find("not a chunked stream"), std::string::npos);
  EXPECT_LT(grown_kb, 8 * 1024);  // the old watch buffered the body whole: ~96 MiB and more
}

TEST_F(HostileEtcd, TheWatchEndsOnADeeplyNestedLineAndAnOverlongOne) {
  for (const bool deep : {true, false}) {
    FakeEtcd fake([deep](const std::string&, const std::string&) {
      auto a = FakeEtcd::stream({json{{"result", {{"header", {{"revision", "3"}}}, {"created", true}}}}.dump()});
      if (deep) {
        a.head += FakeEtcd::chunk(nested(400000) + "\n");  // 800 KB: under the line limit
      } else {
        a.head += FakeEtcd::chunk(std::string(limits::kEtcdMaxLine + 10, 'a'));
      }
      return a;
    });
    std::string ended;
    EtcdWatch w(io, {fake.endpoint()}, [](const std::string&, const std::string&, bool, std::int64_t) {},
                [&](const std::string& why) { ended = why; });
    w.start("/t/owner/", 0);
    run_until([&] { return !ended.empty(); }, 3s);
    EXPECT_EQ(w.faults()[deep ? Fault::kTooDeep : Fault::kTooLarge], 1u) << ended;
    EXPECT_LT(ended.size(), 300u);
  }
}

TEST_F(HostileEtcd, ASilentWatchEndsAtTheDeadlineAndAnIdleOneIsReestablished) {
  {
    FakeEtcd fake([](const std::string&, const std::string&) {
      FakeEtcd::Answer a;
      a.never = true;  // accepts, reads the request, answers nothing
      return a;
    });
    std::string ended;
    EtcdWatch w(io, {fake.endpoint()}, [](const std::string&, const std::string&, bool, std::int64_t) {},
                [&](const std::string& why) { ended = why; });
    const auto t0 = std::chrono::steady_clock::now();
    w.start("/t/owner/", 0);
    run_until([&] { return !ended.empty(); }, 5s);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(w.faults()[Fault::kDeadline], 1u) << ended;
    EXPECT_LT(took, limits::kEtcdTimeout + 500ms);  // the old watch waited forever (expires_never)
  }
  // Up and then silent (no progress notification): re-established by
  // itself, from the revision it had seen, and asking for notifications.
  FakeEtcd fake([](const std::string&, const std::string&) {
    return FakeEtcd::stream({json{{"result", {{"header", {{"revision", "41"}}}, {"created", true}}}}.dump()});
  });
  bool ended = false;
  EtcdWatch w(io, {fake.endpoint()}, [](const std::string&, const std::string&, bool, std::int64_t) {},
              [&](const std::string&) { ended = true; }, 300ms);
  w.start("/t/owner/", 0);
  run_until([&] { return fake.count("watch") >= 2; }, 3s);
  ASSERT_GE(fake.count("watch"), 2u);
  EXPECT_FALSE(ended);
  EXPECT_GE(w.faults()[Fault::kWatchIdle], 1u);
  const auto first = json::parse(fake.requests()[0].second), second = json::parse(fake.requests()[1].second);
  EXPECT_TRUE(first["create_request"].value("progress_notify", false));
  EXPECT_EQ(second["create_request"].value("start_revision", ""), "42");
}

TEST_F(HostileEtcd, TheClientRefusesHugeDeepAndLateAnswersAndCountsThem) {
  FakeEtcd fake([](const std::string& path, const std::string&) {
    if (path == "kv/deep") return FakeEtcd::json(std::string(400000, '[') + std::string(400000, ']'));
    if (path == "kv/huge") {
      FakeEtcd::Answer a;
      a.head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kHuge) + "\r\n\r\n";
      a.filler = kHuge;
      return a;
    }
    if (path == "kv/status") {
      FakeEtcd::Answer a;
      a.head = "HTTP/1.1 500 Internal\r\nContent-Length: 5\r\n\r\noops\n";
      return a;
    }
    if (path == "kv/silent") {
      FakeEtcd::Answer a;
      a.never = true;
      return a;
    }
    return FakeEtcd::json("{\"ok\":true}");
  });
  EtcdClient c(io, {fake.endpoint()}, 500ms);
  std::string e;
  const long rss = status_kb("VmRSS");
  reset_peak();
  EXPECT_FALSE(c.call_now("kv/huge", json::object(), e));
  const long grown_kb = status_kb("VmHWM") - rss;
  std::printf("client, 96 MiB answer: peak RSS grew %ld KiB; faults %s; error: %.120s\n", grown_kb,
              c.faults().to_json().dump().c_str(), e.c_str());
  EXPECT_LT(grown_kb, 8 * 1024);
  EXPECT_EQ(c.faults()[Fault::kTooLarge], 1u);
  // The old client parsed it and copied it (call_now): a recursive copy, SIGSEGV.
  EXPECT_FALSE(c.call_now("kv/deep", json::object(), e));
  EXPECT_EQ(c.faults()[Fault::kTooDeep], 1u);
  EXPECT_FALSE(c.call_now("kv/status", json::object(), e));
  EXPECT_EQ(c.faults()[Fault::kStatus], 1u);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.call_now("kv/silent", json::object(), e));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(c.faults()[Fault::kDeadline], 1u);
  // And it still works.
  const auto ok = c.call_now("kv/fine", json::object(), e);
  ASSERT_TRUE(ok) << e;
  EXPECT_TRUE(etcd::flag(*ok, "ok"));
}

}  // namespace
}  // namespace tund
