// Binding a listening socket for "host:port" (the gossip transport and the admin server share it).
// Internal to the runtime; node thread.
#pragma once

#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "ringkeeper/status.h"

namespace ringkeeper {

// Resolves `address`, opens, binds and listens `acceptor`: the bound "host:port" (port 0
// resolved), or kIoError naming `what` and the reason ("gossip: cannot listen on ...: ...").
Result<std::string> bind_acceptor(boost::asio::io_context& io, boost::asio::ip::tcp::acceptor& acceptor,
                          const std::string& address, const std::string& what);

}  // namespace ringkeeper
