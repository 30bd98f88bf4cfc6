// The one way to include Boost.Asio here. Boost 1.74's awaitable.hpp uses
// std::exchange without including <utility>, which GCC 12 in C++20 mode no
// longer pulls in transitively.
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace tund {
namespace asio = boost::asio;
}
