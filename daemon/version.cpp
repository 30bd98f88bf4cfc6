#include "daemon/version.hpp"

namespace tund {

const char* version() { return TUND_VERSION; }

}  // namespace tund
