// Binding a listening socket for "host:port" (the gossip transport and the admin server share it).
// Internal to the runtime; node thread.
#pragma once

#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace ringkeeper {

// Resolves `address`, opens, binds and listens `acceptor`; returns the bound "host:port" (port 0
// resolved). Throws std::runtime_error naming `what` and the reason.
std::string bind_acceptor(boost::asio::io_context& io, boost::asio::ip::tcp::acceptor& acceptor,
                          const std::string& address, const std::string& what);

}  // namespace ringkeeper
