// Reading a file a user named, for every kniommu tool: only regular files, never blocking (a FIFO
// or device is refused before it is read: opened O_NONBLOCK, then checked with fstat), bounded in
// size (a huge or sparse file is refused by its length before anything is read), not empty.
// Each refusal is a one-line message for the tool to print before exiting with status 2.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace kniommu {

inline const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Whether `path` names an existing regular file, checked without blocking (for paths handed to
// another reader, e.g. dlopen); false with `error` ("PATH: why").
inline bool is_regular_input(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (!ok) error = path + ": is " + file_kind(st.st_mode) + ", expected a regular file";
  ::close(fd);
  return ok;
}

// Whether a tool may write its output to `path`: absent, or a regular file (never a directory,
// FIFO or device, which would fail or block); false with `error`.
inline bool is_writable_output(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return true;  // created by the writer
  if (S_ISREG(st.st_mode)) return true;
  error = path + ": is " + std::string(file_kind(st.st_mode)) + ", not a file to write";
  return false;
}

// Reads all of `path` into `out`; false with `error` ("PATH: why") when it cannot or must not.
inline bool read_input_file(const std::string& path, std::uint64_t max_bytes, std::string& out,
                            std::string& error) {
  out.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  bool ok = false;
  if (::fstat(fd, &st) != 0) {
    error = path + ": cannot stat: " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = path + ": is " + file_kind(st.st_mode) + ", expected a regular file";
  } else if (st.st_size == 0) {
    error = path + ": is empty";
  } else if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    error = path + ": is too large (" + std::to_string(st.st_size) + " bytes, at most " +
            std::to_string(max_bytes) + " accepted)";
  } else {
    out.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    ok = true;
    while (done < out.size()) {
      const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = path + ": cannot read: " + std::strerror(errno);
        ok = false;
        break;
      }
      if (n == 0) break;  // shrank while reading: keep what is there
      done += static_cast<size_t>(n);
    }
    out.resize(done);
    if (ok && done == 0) {
      error = path + ": is empty";
      ok = false;
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace kniommu
