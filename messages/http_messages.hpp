#pragma once

#include <caf/all.hpp>

#include "adapters/http/http_message.hpp"

/// The protocol of the HTTP engine actor: one typed request per transfer.
/// http_request and http_response never leave the process (local-only).
namespace quel {

using http_atom = caf::atom_constant<caf::atom("http")>;
/// Self-sent while transfers are in flight: one turn of the curl loop.
using http_poll_atom = caf::atom_constant<caf::atom("http_poll")>;

/// Runs HTTP transfers on one libcurl multi handle (detached). The poll
/// message is internal: only the actor itself sends it.
using http_engine_actor = caf::typed_actor<
  caf::replies_to<http_atom, http_request>::with<http_response>,
  caf::reacts_to<http_poll_atom>>;

} // namespace quel

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::http_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::http_response)
