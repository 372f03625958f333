#include "adapters/storage/disk_sync.hpp"

#include <cerrno>

#include <unistd.h>

namespace quel {

int sync_to_disk(int fd, sync_target what) {
  int rc;
  do {
    // fdatasync skips only metadata a read does not need (times); the size
    // and block map of the file are written with its bytes.
    rc = what == sync_target::file ? ::fdatasync(fd) : ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

} // namespace quel
