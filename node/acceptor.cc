#include "node/acceptor.h"

#include <stdexcept>

#include "node/address.h"

namespace ringkeeper {

using tcp = boost::asio::ip::tcp;

std::string bind_acceptor(boost::asio::io_context& io, tcp::acceptor& a, const std::string& address,
                          const std::string& what) {
  auto hp = parse_host_port(address);
  if (!hp) throw std::runtime_error(what + ": not a host:port address: " + address);
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || results.empty()) throw std::runtime_error(what + ": cannot resolve " + address + ": " + ec.message());
  const tcp::endpoint ep = results.begin()->endpoint();
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(what + ": cannot listen on " + address + ": " + ec.message());
  const tcp::endpoint bound = a.local_endpoint();
  return HostPort{bound.address().to_string(), bound.port()}.to_string();
}

}  // namespace ringkeeper
