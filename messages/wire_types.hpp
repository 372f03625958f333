#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>

#include "common/blob.hpp"
#include "domain/generation.hpp"
#include "domain/image_identity.hpp"

/// Network serialisation (CAF 0.17 inspect overloads) of the values that
/// cross hosts to and from a generator node (docs/DISTRIBUTED.md): a
/// generation request with its inputs, the generated image, and the
/// image_identity they carry. They must be registered on every node
/// (register_mesh_types) and must NOT be marked CAF_ALLOW_UNSAFE_MESSAGE_TYPE:
/// CAF's serialisers silently skip an "unsafe" type, so it would travel as
/// zero bytes (caf-0.17.md 3.2).
///
/// The domain types stay free of CAF (domain/, common/); these overloads are
/// found by argument-dependent lookup because they live in namespace quel.
/// Every translation unit that puts one of these types into a message must
/// see this header: io_messages.hpp includes it, and without it such a
/// message does not compile (no silent fallback).
namespace quel {

/// What a blob looks like in logs of unexpected messages: its size only,
/// never megabytes of image bytes.
inline std::string to_string(const blob& x) {
  return "blob(" + std::to_string(x.size()) + " bytes)";
}

/// The bytes travel once, as one string; loading makes a new shared blob.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, blob& x) {
  if constexpr (Inspector::reads_state) {
    // Saving only reads the string; the cast does not copy the bytes.
    return f(caf::meta::type_name("quel::blob"), const_cast<std::string&>(x.bytes()));
  } else {
    std::string bytes;
    return f(caf::meta::type_name("quel::blob"), bytes,
             caf::meta::load_callback([&]() -> caf::error {
               x = blob{std::move(bytes)};
               return caf::none;
             }));
  }
}

/// The strong ids and the optional organisation travel as plain text with a
/// presence flag (ids::job is a local-only "unsafe" type elsewhere, which a
/// serialiser would skip).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, image_identity& x) {
  std::string job = x.job_id.str();
  bool has_org = x.org_id.has_value();
  std::string org = has_org ? x.org_id->str() : std::string{};
  int32_t stage = x.stage_index;
  int32_t image = x.image_index;
  return f(caf::meta::type_name("quel::image_identity"), job, x.epoch, stage, image, has_org,
           org, x.cost, caf::meta::load_callback([&]() -> caf::error {
             x.job_id = ids::job{std::move(job)};
             x.org_id = has_org ? std::optional<ids::org>{ids::org{std::move(org)}}
                                : std::nullopt;
             x.stage_index = stage;
             x.image_index = image;
             return caf::none;
           }));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, generation_input& x) {
  return f(caf::meta::type_name("quel::generation_input"), x.category, x.description,
           x.mime_type, x.bytes);
}

// reply_bytes stays out: it is the sending worker's budget, and a node's
// reply is counted by the worker once it has arrived.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, generation_request& x) {
  bool has_ratio = x.aspect_ratio.has_value();
  std::string ratio = has_ratio ? *x.aspect_ratio : std::string{};
  auto format = static_cast<uint8_t>(x.format);
  return f(caf::meta::type_name("quel::generation_request"), x.image, x.prompt, x.inputs,
           has_ratio, ratio, format, caf::meta::load_callback([&]() -> caf::error {
             x.aspect_ratio = has_ratio ? std::optional<std::string>{std::move(ratio)}
                                        : std::nullopt;
             if (format > static_cast<uint8_t>(output_format::jpeg))
               return caf::make_error(caf::sec::invalid_argument, "unknown output format");
             x.format = static_cast<output_format>(format);
             return caf::none;
           }));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, generated_image& x) {
  return f(caf::meta::type_name("quel::generated_image"), x.bytes, x.mime_type,
           x.model_version);
}

} // namespace quel
