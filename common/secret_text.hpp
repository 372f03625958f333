#pragma once

#include <string>
#include <string_view>
#include <vector>

/// Keeping secrets out of everything the worker writes (docs/SECURITY.md).
///
/// Two defences that complement each other:
/// - masking by *form*: connection strings (URI userinfo, `?password=`,
///   libpq `password=...` keywords, quoted or not), `?key=`-style query
///   parameters and `Authorization`/`apikey`/`x-goog-api-key` headers have
///   their values replaced by `***` wherever they appear in a text;
/// - redaction by *value*: every secret the worker was configured with (the
///   database and Redis passwords, the Supabase and Gemini keys) is
///   registered at start-up, and any occurrence of it in any text is replaced,
///   whatever form the text has (e.g. an upstream error body that echoes the
///   key inside a sentence).
/// The logger and the code that stores error_message call redact_secrets().
namespace quel {

/// What replaces a secret.
inline constexpr std::string_view secret_mask = "***";

/// A connection string (PostgreSQL URI or keyword form, Redis URL) with its
/// password replaced: `postgresql://u:***@h/db`, `host=h password=***`,
/// `redis://:***@h`, `...?password=***&sslmode=require`.
std::string mask_connection_string(std::string_view dsn);

/// The password values a connection string carries, in the forms they may be
/// echoed in: as written and decoded (percent-decoding for URIs, quote
/// unescaping for keywords). Empty when it carries none.
std::vector<std::string> secrets_in_connection_string(std::string_view dsn);

/// Registers a secret value so redact_secrets() removes it from any text.
/// Values shorter than 4 bytes are ignored: redacting them would destroy
/// every log line while protecting nothing (such a password is guessable).
/// Thread-safe; meant for start-up.
void register_secret(std::string_view value);

/// Registers every password of a connection string (see above).
void register_connection_secrets(std::string_view dsn);

/// Forgets every registered secret (tests).
void clear_registered_secrets();

/// `prefix` without a trailing part of a registered secret (the start of a
/// secret that a cut at this point would leave half shown).
std::string_view trim_partial_secret(std::string_view prefix);

/// `text` with every registered secret value and every secret-bearing form
/// (see mask_connection_string and the header forms above) masked.
/// Thread-safe; cheap for texts that contain none.
std::string redact_secrets(std::string_view text);

} // namespace quel
