#include "daemon/dns_lookup.hpp"

#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>

#include "tund/limits.hpp"

namespace tund::daemon {

struct DnsLookup::State : std::enable_shared_from_this<DnsLookup::State> {
  State(asio::io_context& io, std::string n, std::vector<Endpoint> s, std::uint32_t m, std::shared_ptr<dns::Drops> d,
        Done f)
      : name(std::move(n)), servers(std::move(s)), mark(m), drops(std::move(d)), done(std::move(f)), socket(io),
        timer(io) {}

  // One question of the two, to the server being asked.
  struct Question {
    std::uint16_t type = 0;
    std::uint16_t id = 0;
    bool answered = false;
    std::uint8_t rcode = 0;
  };

  std::string name;
  std::vector<Endpoint> servers;
  std::uint32_t mark;
  std::shared_ptr<dns::Drops> drops;
  Done done;
  asio::ip::udp::socket socket;
  asio::steady_timer timer;
  std::size_t at = 0;
  std::array<Question, 2> questions{Question{dns::kTypeA}, Question{dns::kTypeAaaa}};
  std::vector<Endpoint> found;
  std::string failures;
  bool finished = false;
  std::array<std::uint8_t, limits::kDnsMaxMessage + 1> buffer{};

  void start() {
    asio::post(socket.get_executor(), [self = shared_from_this()] {
      if (!self->finished) self->ask(self->at);
    });
  }

  void finish(std::vector<Endpoint> addresses, std::string error) {
    if (finished) return;
    finished = true;
    timer.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    if (auto d = std::move(done)) d(std::move(addresses), std::move(error));
  }

  void cancel() {
    finished = true;
    done = nullptr;
    timer.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
  }

  void failed(const std::string& why) {
    failures += (failures.empty() ? "" : ", ") + servers[at].address_string() + " " + why;
    boost::system::error_code ignored;
    socket.close(ignored);
    timer.cancel();
    ask(at + 1);
  }

  // Server i: a fresh socket (a fresh source port), both questions at once.
  void ask(std::size_t i) {
    at = i;
    if (at >= servers.size()) {
      if (!found.empty()) return finish(found, "");
      return finish({}, servers.empty() ? "no DNS server outside the tunnel (resolv.conf names none)"
                                        : "no answer (" + failures + ")");
    }
    const Endpoint& server = servers[at];
    boost::system::error_code ec;
    socket.open(server.family == 4 ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
    if (!ec && mark && ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
      ec = boost::system::error_code(errno, boost::system::system_category());
    asio::ip::address address;
    if (server.family == 4) {
      asio::ip::address_v4::bytes_type b{};
      std::copy_n(server.addr.begin(), 4, b.begin());
      address = asio::ip::address_v4(b);
    } else {
      asio::ip::address_v6::bytes_type b{};
      std::copy_n(server.addr.begin(), 16, b.begin());
      address = asio::ip::address_v6(b);
    }
    if (!ec) socket.connect(asio::ip::udp::endpoint(address, server.port ? server.port : 53), ec);
    for (auto& q : questions) {
      q.answered = false;
      std::uint16_t id = 0;
      if (::getrandom(&id, sizeof id, 0) != sizeof id) id = static_cast<std::uint16_t>(q.id * 7919u + 1);
      q.id = id;
      if (ec) break;
      const auto query = dns::build_query(q.id, name, q.type);
      if (!query) return finish({}, "'" + name + "' cannot be asked in DNS (a label empty or over 63 bytes)");
      socket.send(asio::buffer(*query), 0, ec);
    }
    if (ec) return failed("(" + ec.message() + ")");
    timer.expires_after(limits::kDnsTimeout);
    timer.async_wait([self = shared_from_this(), i](boost::system::error_code e) {
      if (e || self->finished || self->at != i) return;
      // One family answered, the other not: what came is the answer.
      if (!self->found.empty()) return self->finish(self->found, "");
      self->failed("(no answer in " + std::to_string(limits::kDnsTimeout.count()) + " s)");
    });
    receive(i);
  }

  void receive(std::size_t i) {
    socket.async_receive(asio::buffer(buffer), [self = shared_from_this(), i](boost::system::error_code ec, std::size_t n) {
      if (self->finished || self->at != i || ec == asio::error::operation_aborted) return;
      // A connected UDP socket reports the server's port unreachable: next.
      if (ec) return self->failed("(" + ec.message() + ")");
      self->on_datagram(n);
      if (!self->finished && self->at == i) self->receive(i);
    });
  }

  void on_datagram(std::size_t n) {
    if (n > limits::kDnsMaxMessage) return drops->add(dns::Drop::kTooLong);
    const Bytes message(buffer.data(), n);
    // The question it answers, by its id; a stray id is refused by the parser.
    const std::uint16_t id = n >= 2 ? static_cast<std::uint16_t>(buffer[0] << 8 | buffer[1]) : 0;
    Question& q = id == questions[1].id ? questions[1] : questions[0];
    const auto r = dns::parse_answer(message, q.id, name, q.type);
    if (!r.answer) return drops->add(r.why);
    if (q.answered) return;  // a duplicate of an answer taken
    q.answered = true;
    q.rcode = r.answer->rcode;
    for (const auto& a : r.answer->addresses)
      if (std::find(found.begin(), found.end(), a) == found.end()) found.push_back(a);
    if (!questions[0].answered || !questions[1].answered) return;
    if (!found.empty()) return finish(found, "");
    const auto definitive = [](const Question& x) { return x.rcode == dns::kRcodeNoError || x.rcode == dns::kRcodeNxDomain; };
    if (definitive(questions[0]) && definitive(questions[1]))
      return finish({}, questions[0].rcode == dns::kRcodeNxDomain ? "no such name (" + servers[at].address_string() + ")"
                                                                  : "no A or AAAA records (" + servers[at].address_string() + ")");
    failed("(server failure, rcode " + std::to_string(questions[0].rcode ? questions[0].rcode : questions[1].rcode) + ")");
  }
};

DnsLookup::DnsLookup(asio::io_context& io, std::string name, std::vector<Endpoint> servers, std::uint32_t fwmark,
                     std::shared_ptr<dns::Drops> drops, Done done)
    : state_(std::make_shared<State>(io, std::move(name), std::move(servers), fwmark, std::move(drops), std::move(done))) {
  state_->start();
}

DnsLookup::~DnsLookup() { state_->cancel(); }

}  // namespace tund::daemon
