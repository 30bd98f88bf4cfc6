// The data stream both session types carry: sequences, delivery at most once,
// and the switching exchange resending exactly what the other side lacks.
#include <gtest/gtest.h>

#include <vector>

#include "session/data_stream.hpp"
#include "tund/wire.hpp"

namespace tund::session {
namespace {

const Time t0 = Time{} + std::chrono::seconds(100);

// A data message's plaintext: sequence, then a minimal IPv4 header whose
// last byte of the source address says which packet it is.
std::vector<std::uint8_t> plaintext(std::uint64_t seq, std::uint8_t tag) {
  std::vector<std::uint8_t> p(wire::transport::kSeqSize + 20, 0);
  store_le64(p.data(), seq);
  std::uint8_t* ip = p.data() + wire::transport::kSeqSize;
  ip[0] = 0x45;
  ip[3] = 20;  // total length
  ip[15] = tag;
  return p;
}

Bytes inner_of(const std::vector<std::uint8_t>& plain) {
  return Bytes(plain.data() + wire::transport::kSeqSize, plain.size() - wire::transport::kSeqSize);
}

TEST(DataStream, DeliversEachSequenceOnceAndRefusesShortOrMalformedOnes) {
  DataStream rx({});
  DropReason why{};
  const auto p = plaintext(1, 7);
  ASSERT_TRUE(rx.receive(p, t0, 1, why));
  EXPECT_FALSE(rx.receive(p, t0, 1, why));
  EXPECT_EQ(why, DropReason::kDuplicateData);
  const std::vector<std::uint8_t> short_one(wire::transport::kSeqSize - 1, 0);
  EXPECT_FALSE(rx.receive(short_one, t0, 1, why));
  EXPECT_EQ(why, DropReason::kBadInnerPacket);
  auto bad = plaintext(2, 7);
  bad[wire::transport::kSeqSize] = 0x15;  // version 1
  EXPECT_FALSE(rx.receive(bad, t0, 1, why));
  EXPECT_EQ(why, DropReason::kBadInnerPacket);
  // A refused packet was not counted as received: the same sequence, well
  // formed, is still delivered.
  EXPECT_TRUE(rx.receive(plaintext(2, 7), t0, 1, why));
}

TEST(DataStream, AcknowledgementsWaitAShareOfThePathsRoundTrip) {
  using std::chrono::milliseconds;
  DropReason why{};
  const auto delay_of = [&](std::optional<Duration> rtt) {
    DataStream rx({});
    if (rtt) rx.set_round_trip(*rtt, milliseconds(500));
    EXPECT_TRUE(rx.receive(plaintext(1, 1), t0, 1, why));
    return rx.ack_deadline() - t0;
  };
  EXPECT_EQ(delay_of(std::nullopt), limits::kAckDelay) << "unmeasured: the floor";
  EXPECT_EQ(delay_of(milliseconds(1)), limits::kAckDelay) << "an ideal link's";
  EXPECT_EQ(delay_of(milliseconds(48)), milliseconds(12)) << "an LTE path's: a quarter";
  EXPECT_EQ(delay_of(milliseconds(600)), limits::kAckDelayCeiling) << "a satellite's: the ceiling";
  // And a burst is acknowledged at once whatever the delay.
  DataStream rx({});
  rx.set_round_trip(milliseconds(600), milliseconds(500));
  for (std::uint64_t seq = 1; seq <= limits::kAckEveryPackets; ++seq) ASSERT_TRUE(rx.receive(plaintext(seq, 1), t0, 1, why));
  EXPECT_TRUE(rx.ack_due(t0));
}

TEST(DataStream, TheSwitchingExchangeResendsExactlyWhatThePeerLacks) {
  DataStream client({}), hub({});
  client.restart(42);
  hub.restart(42);
  DropReason why{};
  // The client sends 1..10; the hub receives the odd ones.
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint8_t i = 1; i <= 10; ++i) {
    sent.push_back(plaintext(client.send(inner_of(plaintext(0, i)), t0), i));
    if (i % 2) {
      ASSERT_TRUE(hub.receive(sent.back(), t0, 1, why));
    }
  }
  // The hub sends 1..4; the client receives none of them.
  for (std::uint8_t i = 1; i <= 4; ++i) hub.send(inner_of(plaintext(0, i)), t0);

  client.begin_switch(t0, false);
  EXPECT_TRUE(client.switching());
  EXPECT_TRUE(client.holds_new_data());
  // The client's receive state reaches the hub: it resends all four.
  ASSERT_TRUE(hub.on_ack(client.make_ack(wire::control::kAckFlagSwitch)));
  ASSERT_TRUE(hub.answer_switch(t0, false));
  std::vector<std::uint8_t> out(64);
  std::uint64_t seq = 0;
  std::vector<std::uint64_t> hub_resent;
  while (hub.next_resend(out, seq)) hub_resent.push_back(seq);
  EXPECT_EQ(hub_resent, (std::vector<std::uint64_t>{1, 2, 3, 4}));

  // The hub's answer reaches the client: it resends the even ones only.
  ASSERT_TRUE(client.on_ack(hub.make_ack(wire::control::kAckFlagSwitch)));
  const auto done = client.complete_switch(t0 + std::chrono::milliseconds(9));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->resent, 5u);
  EXPECT_EQ(done->took, std::chrono::milliseconds(9));
  EXPECT_FALSE(client.switching());
  std::vector<std::uint64_t> client_resent;
  while (auto n = client.next_resend(out, seq)) {
    client_resent.push_back(seq);
    EXPECT_EQ(out[15], seq);  // the packet kept for that sequence
  }
  EXPECT_EQ(client_resent, (std::vector<std::uint64_t>{2, 4, 6, 8, 10}));
  // A second answer with no exchange under way schedules nothing.
  EXPECT_FALSE(client.complete_switch(t0));
}

// A planned switch (the old path still carries) holds no new data and
// schedules no resends on either side, whatever went unacknowledged.
TEST(DataStream, PlannedSwitchResendsNothingAndHoldsNothing) {
  DataStream client({}), hub({});
  client.restart(1);
  hub.restart(1);
  for (std::uint8_t i = 1; i <= 4; ++i) {
    client.send(inner_of(plaintext(0, i)), t0);
    hub.send(inner_of(plaintext(0, i)), t0);
  }
  client.begin_switch(t0, true);
  EXPECT_TRUE(client.switching());
  EXPECT_FALSE(client.holds_new_data());
  ASSERT_TRUE(hub.on_ack(client.make_ack(wire::control::kAckFlagSwitch | wire::control::kAckFlagPlanned)));
  ASSERT_TRUE(hub.answer_switch(t0, true));
  EXPECT_FALSE(hub.has_resend());
  // Never refused either: it schedules nothing, so it cannot multiply sends.
  EXPECT_TRUE(hub.answer_switch(t0, true));
  const auto done = client.complete_switch(t0 + std::chrono::milliseconds(3));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->resent, 0u);
  EXPECT_FALSE(client.has_resend());
  // A sudden switch afterwards is not refused for it.
  EXPECT_TRUE(hub.answer_switch(t0, false));
  EXPECT_TRUE(hub.has_resend());
}

TEST(DataStream, AnswersAtMostOneExchangePerIntervalAndNoneWhileResending) {
  DataStream hub({});
  hub.restart(1);
  for (std::uint8_t i = 1; i <= 3; ++i) hub.send(inner_of(plaintext(0, i)), t0);
  ASSERT_TRUE(hub.answer_switch(t0, false));
  std::vector<std::uint8_t> out(64);
  std::uint64_t seq = 0;
  ASSERT_TRUE(hub.next_resend(out, seq));
  // Resends still leaving: refused, whatever the time.
  EXPECT_FALSE(hub.answer_switch(t0 + limits::kSwitchExchangeInterval, false));
  while (hub.next_resend(out, seq)) {
  }
  EXPECT_FALSE(hub.answer_switch(t0 + limits::kSwitchExchangeInterval / 2, false));
  EXPECT_TRUE(hub.answer_switch(t0 + limits::kSwitchExchangeInterval, false));
}

TEST(DataStream, APacketSentAlsoAsACopyGivesNoRoundTrip) {
  // Its acknowledgement cannot tell which of the two arrived: the copy's
  // path may be the quicker one (Karn's rule, as for a resend).
  DataStream tx({}), rx({});
  DropReason why{};
  const std::uint64_t once = tx.send(inner_of(plaintext(0, 1)), t0, 1);
  const std::uint64_t twice = tx.send(inner_of(plaintext(0, 2)), t0, 1);
  tx.copied(twice);
  tx.copied(once);  // not the newest: a copy goes right after its original, so this changes nothing
  ASSERT_TRUE(rx.receive(plaintext(once, 1), t0, 1, why));
  ResendBuffer::AckOutcome first;
  ASSERT_TRUE(tx.on_ack(rx.make_ack(0), &first));
  EXPECT_EQ(first.newest_sent, t0) << "sent once: a round trip";
  ASSERT_TRUE(rx.receive(plaintext(twice, 2), t0, 1, why));
  ResendBuffer::AckOutcome second;
  ASSERT_TRUE(tx.on_ack(rx.make_ack(0), &second));
  EXPECT_EQ(second.acked, 1u);
  EXPECT_FALSE(second.newest_sent) << "sent twice: none";
  EXPECT_FALSE(second.highest_sent) << "nor a one-way delay";
}

TEST(DataStream, AnAckForDataNeverSentChangesNothing) {
  DataStream tx({}), rx({});
  DropReason why{};
  for (std::uint8_t i = 1; i <= 3; ++i) tx.send(inner_of(plaintext(0, i)), t0);
  for (std::uint64_t s = 1; s <= 9; ++s) ASSERT_TRUE(rx.receive(plaintext(s, 1), t0, 1, why));
  EXPECT_FALSE(tx.on_ack(rx.make_ack(0)));  // claims 9 of 3 sent
  EXPECT_EQ(tx.resend_buffer().packets(), 3u);
}

TEST(DataStream, ARestartForgetsThePeerAndStartsSequencesAgain) {
  DataStream s({});
  DropReason why{};
  s.restart(5);
  EXPECT_EQ(s.send(inner_of(plaintext(0, 1)), t0), 1u);
  EXPECT_EQ(s.send(inner_of(plaintext(0, 2)), t0), 2u);
  ASSERT_TRUE(s.receive(plaintext(1, 1), t0, 1, why));
  s.restart(6);
  EXPECT_EQ(s.id(), 6u);
  EXPECT_EQ(s.send(inner_of(plaintext(0, 1)), t0), 1u);
  EXPECT_EQ(s.resend_buffer().packets(), 1u);
  EXPECT_TRUE(s.receive(plaintext(1, 1), t0, 1, why));  // the peer's new stream
}

}  // namespace
}  // namespace tund::session
