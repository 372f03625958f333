#pragma once

#include <string>
#include <vector>

/// Files compiled into the binary (see cmake/EmbedFiles.cmake).
namespace quel::embedded {

struct named_text {
  const char* name;
  const char* text;
};

/// The worker's own migrations from config/migrations, in file-name order.
const std::vector<named_text>& migrations();

/// The module definitions shipped in config/modules.ini.
const char* modules_ini();

/// The documented defaults of config/worker.ini.
const char* worker_ini();

/// The dashboard's static files (dashboard/), by file name.
const std::vector<named_text>& dashboard_files();

} // namespace quel::embedded
