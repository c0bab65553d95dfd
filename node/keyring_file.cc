// DIR/keyring (node/keyring_file.h).
#include "node/keyring_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace ringkeeper {

namespace {

using json = nlohmann::json;

Status corrupt(const std::string& path, const std::string& why) {
  return Status::data_dir_refused("keyring " + path + " is corrupt: " + why +
                                  " (restore it, or move it away and start with --gossip-key-file)");
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes `text` to `path` (created 0600, replaced), synced; kIoError naming the step that failed.
Status write_synced(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error(errno_text("cannot create " + path));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status failed = Status::io_error(errno_text("cannot write " + path));
      ::close(fd);
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  // The mode holds whatever the umask or an earlier file said.
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    Status failed = Status::io_error(errno_text("cannot sync " + path));
    ::close(fd);
    return failed;
  }
  ::close(fd);
  return {};
}

}  // namespace

std::string keyring_path(const std::string& data_dir) { return data_dir + "/keyring"; }

Result<gossip::Keyring> load_keyring(const std::string& data_dir) {
  const std::string path = keyring_path(data_dir);
  std::ifstream in(path);
  if (!in) {
    if (::access(path.c_str(), F_OK) != 0) return gossip::Keyring{};
    return Status::data_dir_refused("cannot read keyring " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  const json j = json::parse(text.str(), nullptr, false);
  if (!j.is_object() || j.value("format", 0) != 1 || !j.contains("keys") || !j["keys"].is_array()) {
    return corrupt(path, "not a keyring of format 1");
  }
  gossip::Keyring keyring;
  for (const json& k : j["keys"]) {
    auto raw = gossip::decode_key_base64(k.is_string() ? k.get<std::string>() : std::string());  // "": not base64
    if (!raw.ok()) return corrupt(path, "a key that is not a base64 32-byte key");
    if (std::string err = keyring.install(std::move(*raw)); !err.empty()) return corrupt(path, err);
  }
  const std::string primary = j.value("primary", "");
  if (!primary.empty()) {
    if (std::string err = keyring.use(primary); !err.empty()) return corrupt(path, "its primary key is not among its keys");
  }
  return keyring;
}

Status save_keyring(const std::string& data_dir, const gossip::Keyring& keyring) {
  json keys = json::array();
  for (const std::string& k : keyring.keys()) keys.push_back(gossip::encode_key_base64(k));
  const json j{{"format", 1}, {"primary", keyring.primary_fingerprint()}, {"keys", keys}};
  const std::string path = keyring_path(data_dir);
  const std::string tmp = path + ".tmp";
  if (Status written = write_synced(tmp, j.dump(2) + "\n"); !written.ok()) return written;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::io_error(errno_text("cannot replace " + path));
  const int dir = ::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Status::io_error(errno_text("cannot open " + data_dir));
  const int rc = ::fsync(dir);
  ::close(dir);
  if (rc != 0) return Status::io_error(errno_text("cannot sync " + data_dir));
  return {};
}

std::string keyring_permission_warning(const std::string& data_dir) {
  const std::string path = keyring_path(data_dir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0) return "";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return "keyring " + path + " has mode " + mode + ": its group or others may read or change the gossip keys it "
         "holds; make it owner-only (chmod 600 " + path + ") and, if others could read it, rotate the key "
         "(ringctl keys install/use/remove)";
}

Result<gossip::Keyring> open_keyring(const NodeConfig& config) {
  Result<gossip::Keyring> loaded = load_keyring(config.data_dir);
  if (!loaded.ok() || config.gossip_key.empty()) return loaded;
  gossip::Keyring keyring = std::move(*loaded);
  auto key = gossip::decode_key_base64(config.gossip_key);
  if (!key.ok()) return Status::invalid_argument("--gossip-key-file: " + key.status().message());
  if (keyring.holds(*key)) return keyring;  // given again: nothing to do
  if (!keyring.empty()) {
    return Status::invalid_argument("--gossip-key-file: the keyring in " + config.data_dir + " (" + keyring_path(config.data_dir) +
                          ") does not hold this key (" + gossip::key_fingerprint(*key) +
                          "); the file only starts a keyring: change keys with `ringctl keys install` and `ringctl "
                          "keys use`, or start without --gossip-key-file");
  }
  const std::string fingerprint = gossip::key_fingerprint(*key);
  (void)keyring.install(std::move(*key));
  (void)keyring.use(fingerprint);
  if (Status saved = save_keyring(config.data_dir, keyring); !saved.ok()) return saved;
  return keyring;
}

}  // namespace ringkeeper
