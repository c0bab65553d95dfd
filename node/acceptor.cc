// bind_acceptor (node/acceptor.h).
#include "node/acceptor.h"

#include "node/address.h"

namespace ringkeeper {

using tcp = boost::asio::ip::tcp;

Result<std::string> bind_acceptor(boost::asio::io_context& io, tcp::acceptor& a, const std::string& address,
                                  const std::string& what) {
  auto hp = parse_host_port(address);
  if (!hp) return Status::io_error(what + ": not a host:port address: " + address);
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || results.empty()) return Status::io_error(what + ": cannot resolve " + address + ": " + ec.message());
  const tcp::endpoint ep = results.begin()->endpoint();
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(boost::asio::socket_base::max_listen_connections, ec);
  tcp::endpoint bound;
  if (!ec) bound = a.local_endpoint(ec);
  if (ec) return Status::io_error(what + ": cannot listen on " + address + ": " + ec.message());
  return HostPort{bound.address().to_string(), bound.port()}.to_string();
}

}  // namespace ringkeeper
