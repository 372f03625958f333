#pragma once

#include <caf/atom.hpp>

/// Every atom of the worker's actor protocol (at most 10 characters each).
namespace quel {

using take_atom = caf::atom_constant<caf::atom("take")>;
using taken_atom = caf::atom_constant<caf::atom("taken")>;
using job_end_atom = caf::atom_constant<caf::atom("job_end")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using requeue_atom = caf::atom_constant<caf::atom("requeue")>;
using dead_atom = caf::atom_constant<caf::atom("dead")>;
using house_atom = caf::atom_constant<caf::atom("house")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using invalid_atom = caf::atom_constant<caf::atom("invalid")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using renew_atom = caf::atom_constant<caf::atom("renew")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using unhold_atom = caf::atom_constant<caf::atom("unhold")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using exists_atom = caf::atom_constant<caf::atom("exists")>;
using store_atom = caf::atom_constant<caf::atom("store")>;
using generate_atom = caf::atom_constant<caf::atom("generate")>;
using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using made_atom = caf::atom_constant<caf::atom("made")>;
using stage_end_atom = caf::atom_constant<caf::atom("stage_end")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;
using abort_atom = caf::atom_constant<caf::atom("abort")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using keep_atom = caf::atom_constant<caf::atom("keep")>;
using held_atom = caf::atom_constant<caf::atom("held")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;

} // namespace quel
