#include "gctool/net/ipam_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool::net {
namespace {

static_assert(std::endian::native == std::endian::little, "IPAM files are little-endian");

constexpr std::string_view kMagic = "GCTIPAM3";
// Snapshot: a header, the bitmap (8 bytes a word), a bucket index and the owners.
//
// Header (80 bytes): magic, subnet address, prefix, has-gateway, gateway, cursor, word count,
// sequence, owner count, owner bytes, bucket bits, (unused), checksum of the owners, checksum of
// the header, the words and the index.
constexpr std::size_t kHeaderSize = 80;
constexpr std::size_t kHeaderChecksumAt = 72;
// Owners are sorted by (hash of the id, id) and split into 2^bits buckets by the hash's top bits;
// the index holds buckets + 1 byte offsets into the owners, where each bucket starts. So a writer
// reads the header, bitmap and index with one pread and one bucket (about 16 owners) with
// another, whatever the number of owners.
constexpr std::size_t kOwnersPerBucket = 16;
constexpr int kMaxBucketBits = 24;
// Owner record: address, hash of the id, id length, id (no padding).
constexpr std::size_t kOwnerHeaderSize = 12;
// What a writer reads at once past the bitmap: the index of up to 16,384 owners (1,025 offsets),
// with the start of the owners.
constexpr std::size_t kIndexReadAhead = 4 * 1024 + 64;
// Journal record: tag, address, sequence, cursor after the change, id length, id, checksum. 128
// divides the page size, so no record straddles two pages (a write killed by a signal stops
// between pages, never inside one).
constexpr std::size_t kRecordSize = 128;
constexpr std::size_t kRecordIdAt = 24;
constexpr std::size_t kRecordChecksumAt = kRecordIdAt + IpamStore::kMaxIdLength;
static_assert(kRecordChecksumAt + 8 == kRecordSize);
constexpr std::uint32_t kAllocTag = 0x32434c41;    // "ALC2"
constexpr std::uint32_t kReleaseTag = 0x32534c52;  // "RLS2"

template <typename T>
T load_at(std::string_view data, std::size_t offset) {
  T value;
  std::memcpy(&value, data.data() + offset, sizeof value);
  return value;
}

template <typename T>
void store_at(char* out, std::size_t offset, T value) {
  std::memcpy(out + offset, &value, sizeof value);
}

template <typename T>
void store_at(std::string& out, std::size_t offset, T value) {
  store_at(out.data(), offset, value);
}

constexpr std::uint64_t mix(std::uint64_t h) {
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}

// The high and low halves of a 128-bit product, folded.
std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) {
  const auto product = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

constexpr std::uint64_t kMixA = 0xa0761d6478bd642fULL;
constexpr std::uint64_t kMixB = 0xe7037ed1a0b428dbULL;

// A fast checksum that tells torn or corrupt data from what was written; not a cryptographic
// hash. Four independent lanes, each folding 16 bytes into one 128-bit multiplication, so the
// multiplications overlap: about 12 bytes a nanosecond here (the bitmap, the journal and
// compaction are checksummed on every change).
std::uint64_t checksum(std::string_view data) {
  std::uint64_t lane[4] = {0x9e3779b97f4a7c15ULL ^ data.size(), 0x6a09e667f3bcc909ULL,
                           0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL};
  const auto step = [&](std::uint64_t& h, std::size_t at) {
    h = fold_multiply(load_at<std::uint64_t>(data, at) ^ h ^ kMixA,
                      load_at<std::uint64_t>(data, at + 8) ^ kMixB);
  };
  std::size_t i = 0;
  for (; i + 64 <= data.size(); i += 64) {
    for (std::size_t j = 0; j < 4; ++j) {
      step(lane[j], i + 16 * j);
    }
  }
  for (; i + 16 <= data.size(); i += 16) {
    step(lane[0], i);
  }
  if (i < data.size()) {
    char tail[16] = {};
    std::memcpy(tail, data.data() + i, data.size() - i);
    const std::string_view rest(tail, sizeof tail);
    lane[1] = fold_multiply(load_at<std::uint64_t>(rest, 0) ^ lane[1] ^ kMixA,
                            load_at<std::uint64_t>(rest, 8) ^ kMixB);
  }
  return mix(fold_multiply(lane[0] ^ kMixA, lane[1] ^ kMixB) ^
             fold_multiply(lane[2] ^ kMixB, lane[3] ^ kMixA));
}

std::uint32_t id_hash(std::string_view id) {
  return static_cast<std::uint32_t>(checksum(id) >> 32);
}

std::uint32_t bucket_of(std::uint32_t hash, int bits) {
  return bits == 0 ? 0 : hash >> (32 - bits);
}

// Enough buckets for about kOwnersPerBucket owners each.
int bucket_bits_for(std::size_t owners) {
  const auto buckets = (owners + kOwnersPerBucket - 1) / kOwnersPerBucket;
  return std::min(static_cast<int>(std::bit_width(buckets > 0 ? buckets - 1 : 0)), kMaxBucketBits);
}

[[noreturn]] void corrupt(const std::string& what, std::string_view why) {
  throw_invalid("corrupt IPAM file {}: {}", what, why);
}

void check_id(const std::string& id) {
  if (id.empty() || id.size() > IpamStore::kMaxIdLength) {
    throw_invalid("invalid container id \"{}\" for IPAM: it must have 1 to {} characters", id,
                  IpamStore::kMaxIdLength);
  }
}

// One owner record.
struct Owner {
  std::uint32_t hash = 0;
  std::string_view id;
  Ipv4Address address;
};

// Owner order in a snapshot: by hash, then id.
bool owner_before(std::uint32_t hash, std::string_view id, std::uint32_t other_hash,
                  std::string_view other_id) {
  return hash != other_hash ? hash < other_hash : id < other_id;
}

// Reads the owner record at `at` of owners (throws when it does not fit); advances `at`.
Owner read_owner(std::string_view owners, std::size_t& at, const std::string& what) {
  if (owners.size() - at < kOwnerHeaderSize) {
    corrupt(what, "bad owner record");
  }
  const auto length = load_at<std::uint32_t>(owners, at + 8);
  if (length == 0 || length > IpamStore::kMaxIdLength ||
      owners.size() - at - kOwnerHeaderSize < length) {
    corrupt(what, "bad owner record");
  }
  Owner owner{load_at<std::uint32_t>(owners, at + 4),
              owners.substr(at + kOwnerHeaderSize, length),
              {load_at<std::uint32_t>(owners, at)}};
  at += kOwnerHeaderSize + length;
  return owner;
}

// The header of a snapshot and the sizes it gives.
struct SnapshotHeader {
  Ipv4Network subnet;
  std::optional<Ipv4Address> gateway;
  std::uint32_t cursor = 0;
  std::uint64_t sequence = 0;
  std::size_t owner_count = 0;
  std::size_t owners_bytes = 0;
  int bucket_bits = 0;
  std::uint64_t owners_checksum = 0;
  std::size_t words_bytes = 0;

  std::size_t index_at() const { return kHeaderSize + words_bytes; }
  std::size_t buckets() const { return std::size_t{1} << bucket_bits; }
  std::size_t owners_at() const { return index_at() + (buckets() + 1) * 4; }
  std::size_t file_size() const { return owners_at() + owners_bytes; }
};

// Parses the header at the start of data (at least kHeaderSize bytes), checking that its sizes
// are sane; the checksum is checked by check_head once the index is read too.
SnapshotHeader parse_header(std::string_view data, const std::string& what) {
  if (data.substr(0, kMagic.size()) == "GCTIPAM2") {
    corrupt(what, "written by an older gctool (format 2): remove and create the network again");
  }
  if (data.size() < kHeaderSize || data.substr(0, kMagic.size()) != kMagic) {
    corrupt(what, "not an IPAM snapshot");
  }
  SnapshotHeader h;
  h.subnet = {{load_at<std::uint32_t>(data, 8)},
              static_cast<int>(load_at<std::uint32_t>(data, 12))};
  if (load_at<std::uint32_t>(data, 16) != 0) {
    h.gateway = Ipv4Address{load_at<std::uint32_t>(data, 20)};
  }
  h.cursor = load_at<std::uint32_t>(data, 24);
  const std::size_t word_count = load_at<std::uint32_t>(data, 28);
  h.sequence = load_at<std::uint64_t>(data, 32);
  h.owner_count = load_at<std::uint64_t>(data, 40);
  h.owners_bytes = load_at<std::uint64_t>(data, 48);
  h.bucket_bits = static_cast<int>(load_at<std::uint32_t>(data, 56));
  h.owners_checksum = load_at<std::uint64_t>(data, 64);
  if (h.subnet.prefix < 8 || h.subnet.prefix > 30) {
    corrupt(what, "bad prefix");
  }
  if (word_count != (h.subnet.size() + 63) / 64) {
    corrupt(what, "the bitmap does not fit the subnet");
  }
  h.words_bytes = word_count * 8;
  if (h.bucket_bits < 0 || h.bucket_bits > kMaxBucketBits || h.owner_count > h.subnet.size() ||
      h.owners_bytes < h.owner_count * (kOwnerHeaderSize + 1) ||
      h.owners_bytes > h.owner_count * (kOwnerHeaderSize + IpamStore::kMaxIdLength)) {
    corrupt(what, "bad sizes");
  }
  return h;
}

std::uint64_t head_checksum(std::string_view head) {
  return checksum(head.substr(0, kHeaderChecksumAt)) * 0x94d049bb133111ebULL ^
         checksum(head.substr(kHeaderSize));
}

// Checks the checksum of head (the header, words and index: h.owners_at() bytes).
void check_head(std::string_view head, const std::string& what) {
  if (load_at<std::uint64_t>(head, kHeaderChecksumAt) != head_checksum(head)) {
    corrupt(what, "checksum mismatch");
  }
}

// A snapshot's header, bitmap and index, and (all or part of) its owners.
struct Snapshot {
  SnapshotHeader header;
  std::string_view words;  // the bitmap, in place (8 bytes a word)
  std::string_view index;  // buckets + 1 offsets into the owners

  // Where bucket b's owners are, checked against the owners' size.
  std::pair<std::size_t, std::size_t> bucket(std::uint32_t b, const std::string& what) const {
    const std::size_t begin = load_at<std::uint32_t>(index, b * 4);
    const std::size_t end = load_at<std::uint32_t>(index, b * 4 + 4);
    if (begin > end || end > header.owners_bytes) {
      corrupt(what, "bad owner index");
    }
    return {begin, end};
  }
};

// The snapshot whose head (header, bitmap and index) is at the start of data.
Snapshot parse_head(std::string_view data, const SnapshotHeader& header) {
  return {header, data.substr(kHeaderSize, header.words_bytes),
          data.substr(header.index_at(), header.owners_at() - header.index_at())};
}

// Calls fn(owner) for every owner of a snapshot's owners area, checking their order and that each
// is in the bucket the index says.
template <typename Fn>
void for_each_snapshot_owner(const Snapshot& snapshot, std::string_view owners,
                             const std::string& what, Fn&& fn) {
  if (checksum(owners) != snapshot.header.owners_checksum) {
    corrupt(what, "owners checksum mismatch");
  }
  std::size_t at = 0;
  std::optional<Owner> previous;
  for (std::size_t i = 0; i < snapshot.header.owner_count; ++i) {
    const std::size_t record_at = at;
    const auto owner = read_owner(owners, at, what);
    if (previous && !owner_before(previous->hash, previous->id, owner.hash, owner.id)) {
      corrupt(what, "owners out of order");
    }
    const auto [begin, end] =
        snapshot.bucket(bucket_of(owner.hash, snapshot.header.bucket_bits), what);
    if (record_at < begin || record_at >= end) {
      corrupt(what, "owner outside its bucket");
    }
    previous = owner;
    fn(owner);
  }
  if (at != owners.size()) {
    corrupt(what, "owner bytes left over");
  }
}

std::vector<std::uint64_t> words_of(std::string_view bytes) {
  std::vector<std::uint64_t> words(bytes.size() / 8);
  std::memcpy(words.data(), bytes.data(), words.size() * 8);
  return words;
}

// Owners changed by the journal since the snapshot: an address, or nullopt once released.
using Changes = std::map<std::string, std::optional<Ipv4Address>, std::less<>>;

// Checks owners against the bitmap: each holds an allocated address, no address has two owners,
// and no allocated address has none.
class OwnerCheck {
 public:
  OwnerCheck(const Ipam& ipam, const std::string& what)
      : ipam_(ipam), what_(what), seen_(ipam.words().size(), 0) {}

  void add(std::string_view id, Ipv4Address address) {
    if (!ipam_.is_allocated(address)) {
      throw_invalid("corrupt IPAM file {}: owner {} holds unallocated {}", what_, id,
                    to_string(address));
    }
    const std::uint64_t offset = address.value - ipam_.subnet().address.value;
    auto& word = seen_[offset / 64];
    const std::uint64_t bit = std::uint64_t{1} << (offset % 64);
    if ((word & bit) != 0) {
      corrupt(what_, fmt::format("two owners hold {}", to_string(address)));
    }
    word |= bit;
    ++count_;
  }

  void finish() const {
    if (count_ != ipam_.count()) {
      throw_invalid("corrupt IPAM file {}: {} owners for {} allocated addresses", what_, count_,
                    ipam_.count());
    }
  }

 private:
  const Ipam& ipam_;
  const std::string& what_;
  std::vector<std::uint64_t> seen_;
  std::size_t count_ = 0;
};

// Every owner that for_each_owner(fn) gives, checked against the bitmap.
template <typename ForEach>
IpamState collect_owners(Ipam ipam, const std::string& what, ForEach&& for_each_owner) {
  IpamState state{std::move(ipam), {}};
  OwnerCheck check_owners(state.ipam, what);
  for_each_owner([&](const Owner& owner) {
    check_owners.add(owner.id, owner.address);
    state.owners.emplace(owner.id, owner.address);
  });
  check_owners.finish();
  return state;
}

// Builds a snapshot: the header, bitmap and index of ipam, then owners added in snapshot order,
// in a buffer sized once (owner_bytes at most) and not zeroed.
class SnapshotWriter {
 public:
  SnapshotWriter(const Ipam& ipam, std::uint64_t sequence, std::size_t expected_owners,
                 std::size_t max_owner_bytes)
      : bucket_bits_(bucket_bits_for(expected_owners)) {
    const auto words = ipam.words();
    words_bytes_ = words.size() * 8;
    owners_at_ = kHeaderSize + words_bytes_ + ((std::size_t{1} << bucket_bits_) + 1) * 4;
    capacity_ = owners_at_ + max_owner_bytes;
    out_ = std::make_unique_for_overwrite<char[]>(capacity_);
    size_ = owners_at_;
    std::memset(out_.get(), 0, kHeaderSize);
    std::memcpy(out_.get(), kMagic.data(), kMagic.size());
    store_at<std::uint32_t>(out_.get(), 8, ipam.subnet().address.value);
    store_at<std::uint32_t>(out_.get(), 12, static_cast<std::uint32_t>(ipam.subnet().prefix));
    store_at<std::uint32_t>(out_.get(), 16, ipam.gateway() ? 1 : 0);
    store_at<std::uint32_t>(out_.get(), 20, ipam.gateway() ? ipam.gateway()->value : 0);
    store_at<std::uint32_t>(out_.get(), 24, ipam.cursor());
    store_at<std::uint32_t>(out_.get(), 28, static_cast<std::uint32_t>(words.size()));
    store_at<std::uint64_t>(out_.get(), 32, sequence);
    store_at<std::uint32_t>(out_.get(), 56, static_cast<std::uint32_t>(bucket_bits_));
    std::memcpy(out_.get() + kHeaderSize, words.data(), words_bytes_);
  }

  void add(const Owner& owner) {
    start_buckets_until(bucket_of(owner.hash, bucket_bits_));
    const std::size_t record_size = kOwnerHeaderSize + owner.id.size();
    if (capacity_ - size_ < record_size) {
      throw std::logic_error("IPAM snapshot writer: more owner bytes than announced");
    }
    char* record = out_.get() + size_;
    store_at<std::uint32_t>(record, 0, owner.address.value);
    store_at<std::uint32_t>(record, 4, owner.hash);
    store_at<std::uint32_t>(record, 8, static_cast<std::uint32_t>(owner.id.size()));
    std::memcpy(record + kOwnerHeaderSize, owner.id.data(), owner.id.size());
    size_ += record_size;
    ++owners_;
  }

  // The snapshot, valid as long as the writer.
  std::string_view finish() {
    start_buckets_until(std::uint32_t{1} << bucket_bits_);  // and the end of the last one
    const std::string_view view(out_.get(), size_);
    store_at<std::uint64_t>(out_.get(), 40, owners_);
    store_at<std::uint64_t>(out_.get(), 48, size_ - owners_at_);
    store_at<std::uint64_t>(out_.get(), 64, checksum(view.substr(owners_at_)));
    store_at<std::uint64_t>(out_.get(), kHeaderChecksumAt,
                            head_checksum(view.substr(0, owners_at_)));
    return view;
  }

 private:
  // Buckets up to and including `bucket` start at the owners' current end.
  void start_buckets_until(std::uint32_t bucket) {
    for (; next_bucket_ <= bucket; ++next_bucket_) {
      store_at<std::uint32_t>(out_.get(), kHeaderSize + words_bytes_ + next_bucket_ * 4,
                              static_cast<std::uint32_t>(size_ - owners_at_));
    }
  }

  int bucket_bits_;
  std::unique_ptr<char[]> out_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  std::size_t words_bytes_ = 0;
  std::size_t owners_at_ = 0;
  std::uint64_t owners_ = 0;
  std::uint64_t next_bucket_ = 0;
};

// One change as a journal record.
struct Change {
  bool allocate = true;
  Ipv4Address address;
  std::string_view id;
};

void encode_record(std::string& out, const Change& change, std::uint64_t sequence,
                   std::uint32_t cursor) {
  const std::size_t at = out.size();
  out.resize(at + kRecordSize, '\0');
  store_at<std::uint32_t>(out, at, change.allocate ? kAllocTag : kReleaseTag);
  store_at<std::uint32_t>(out, at + 4, change.address.value);
  store_at<std::uint64_t>(out, at + 8, sequence);
  store_at<std::uint32_t>(out, at + 16, cursor);
  store_at<std::uint32_t>(out, at + 20, static_cast<std::uint32_t>(change.id.size()));
  std::memcpy(out.data() + at + kRecordIdAt, change.id.data(), change.id.size());
  store_at<std::uint64_t>(out, at + kRecordChecksumAt,
                          checksum(std::string_view(out).substr(at, kRecordChecksumAt)));
}

struct Record {
  Change change;
  std::uint64_t sequence = 0;
  std::uint32_t cursor = 0;
};

// False for a record that is not whole: torn by a crash during its append.
bool parse_record(std::string_view data, Record& record) {
  const auto tag = load_at<std::uint32_t>(data, 0);
  const auto length = load_at<std::uint32_t>(data, 20);
  if ((tag != kAllocTag && tag != kReleaseTag) || length == 0 || length > IpamStore::kMaxIdLength ||
      load_at<std::uint64_t>(data, kRecordChecksumAt) !=
          checksum(data.substr(0, kRecordChecksumAt))) {
    return false;
  }
  record = {{tag == kAllocTag, {load_at<std::uint32_t>(data, 4)}, data.substr(kRecordIdAt, length)},
            load_at<std::uint64_t>(data, 8),
            load_at<std::uint32_t>(data, 16)};
  return true;
}

// An mmap of a whole file, read-only.
class Mapping {
 public:
  Mapping(BorrowedFd fd, std::size_t size, const std::filesystem::path& path) : size_(size) {
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (addr == MAP_FAILED) {
      throw_errno("map {}", path);
    }
    addr_ = addr;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { ::munmap(addr_, size_); }
  std::string_view data() const noexcept { return {static_cast<const char*>(addr_), size_}; }

 private:
  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

// Opens a file without updating its access time when read (which would dirty the inode, as the
// journal's modification time is always newer), if this process may (owner or CAP_FOWNER).
UniqueFd open_noatime(const std::filesystem::path& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_NOATIME | O_CLOEXEC, 0600));
  if (!fd && errno == EPERM) {
    fd = UniqueFd(::open(path.c_str(), flags | O_CLOEXEC, 0600));
  }
  return fd;
}

// <network>.spare: the file replace_snapshot() writes the next snapshot into.
std::filesystem::path spare_path(std::filesystem::path snapshot) {
  return snapshot.replace_extension(".spare");
}

// Replaces the snapshot with data, atomically: data is written over the spare file (the snapshot
// before last, whose blocks and cached pages it reuses), which is then exchanged with the snapshot
// by one rename. A new file per compaction would cost an inode allocation and a deletion each
// time, which ext4 makes slow when many files were deleted recently. Falls back to a plain
// rename when there is no snapshot yet or the filesystem cannot exchange names.
void replace_snapshot(const std::filesystem::path& snapshot, const std::filesystem::path& spare,
                      std::string_view data, Durability durability) {
  {
    UniqueFd fd(::open(spare.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) {
      throw_errno("open {}", spare);
    }
    write_all(fd, data, spare.native());
    check(::ftruncate(fd.get(), static_cast<off_t>(data.size())), "truncate {}", spare);
    if (durability == Durability::durable) {
      check(::fsync(fd.get()), "fsync {}", spare);
    }
  }
  if (::renameat2(AT_FDCWD, spare.c_str(), AT_FDCWD, snapshot.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != ENOENT && errno != EINVAL) {
      throw_errno("exchange {} with {}", spare, snapshot);
    }
    check(::rename(spare.c_str(), snapshot.c_str()), "rename {} to {}", spare, snapshot);
  }
  if (durability == Durability::durable) {
    fsync_directory(snapshot.parent_path());
  }
}

// Reads up to size bytes at offset: fewer at the end of the file (a short read of a regular file
// is its end; the caller's lock keeps writers out).
std::size_t pread_full(BorrowedFd fd, char* buffer, std::size_t size, std::size_t offset,
                       const std::filesystem::path& path) {
  for (;;) {
    const ssize_t n = ::pread(fd.get(), buffer, size, static_cast<off_t>(offset));
    if (n >= 0) {
      return static_cast<std::size_t>(n);
    }
    if (errno != EINTR) {
      throw_errno("read {}", path);
    }
  }
}

// One network's pool, opened under the lock: the snapshot's header, bitmap and index read, the
// journal replayed on them. Owners are read only when asked for: one bucket to find an owner, all
// of them to list or compact. Nothing is written until commit().
class Pool {
 public:
  // journal: the pool's journal, locked (shared for a reader).
  Pool(const std::filesystem::path& snapshot_path, const std::filesystem::path& journal_path,
       Ipv4Network subnet, std::optional<Ipv4Address> gateway, BorrowedFd journal)
      : snapshot_path_(snapshot_path),
        journal_path_(journal_path),
        what_(snapshot_path.native()),
        journal_(journal) {
    std::vector<std::uint64_t> words;
    open_snapshot(subnet, gateway, words);
    std::uint32_t cursor = snapshot_.header.cursor;
    if (journal_) {
      read_journal();
      replay(journal_data_, subnet, words, cursor);
    }
    ipam_.emplace(Ipam::from_words(subnet, gateway, std::move(words), cursor));
  }

  Ipam& ipam() { return *ipam_; }

  std::optional<Ipv4Address> owner(std::string_view id) {
    // The journal's latest record for the id, else the snapshot's owner: a scan of the journal's
    // few hundred records at most, then the id's bucket of the snapshot.
    for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
      if (it->id == id) {
        return it->allocate ? std::optional(it->address) : std::nullopt;
      }
    }
    if (!snapshot_exists_) {
      return std::nullopt;
    }
    const auto hash = id_hash(id);
    const auto [begin, end] =
        snapshot_.bucket(bucket_of(hash, snapshot_.header.bucket_bits), what_);
    const auto owners = owners_bytes(begin, end);
    for (std::size_t at = 0; at < owners.size();) {
      const auto owner = read_owner(owners, at, what_);
      if (owner.hash == hash && owner.id == id) {
        return owner.address;
      }
    }
    return std::nullopt;
  }

  IpamState state() {
    return collect_owners(*ipam_, what_, [&](auto&& fn) { for_each_owner(fn); });
  }

  // Appends the changes, already made to ipam(), as journal records: committed once this returns.
  void commit(const std::vector<Change>& changes, Durability durability) {
    if (!snapshot_exists_) {
      // The base the journal applies to, written first, so the journal never has records without
      // it.
      replace_snapshot(
          snapshot_path_, spare_path(snapshot_path_),
          encode_ipam_state({Ipam(snapshot_.header.subnet, snapshot_.header.gateway), {}}),
          durability);
      snapshot_exists_ = true;
    }
    if (torn_) {
      // Cut the torn record off first: records appended after it would never be replayed.
      check(::ftruncate(journal_.get(), static_cast<off_t>(journal_records_ * kRecordSize)),
            "truncate {}", journal_path_);
      sync(durability);
      torn_ = false;
    }
    std::string records;
    records.reserve(changes.size() * kRecordSize);
    for (const auto& change : changes) {
      encode_record(records, change, ++sequence_, ipam_->cursor());
    }
    write_all(journal_, records, journal_path_.native());
    sync(durability);
    journal_records_ += changes.size();
    for (const auto& change : changes) {
      records_.push_back(change);  // ids outlive the pool: it lives for one call
    }
  }

  // Every change replays the journal and every compaction rewrites the snapshot: with J records
  // between compactions a change costs about J/2 records read plus S/J bytes written for a
  // snapshot of S bytes, least at J = sqrt(2 S / record size). Small pools compact every
  // kCompactAfter records; a pool of 65,000 owners (5 MB) every 280.
  std::size_t compaction_threshold() const {
    const double snapshot_bytes =
        snapshot_exists_ ? static_cast<double>(snapshot_.header.file_size()) : 0;
    const auto balanced = static_cast<std::size_t>(std::sqrt(2 * snapshot_bytes / kRecordSize));
    return std::max(IpamStore::kCompactAfter, balanced);
  }
  bool wants_compaction() const { return journal_records_ >= compaction_threshold(); }

  // Folds the journal into a new snapshot (the commit point: its sequence number makes replay
  // skip the records it holds), then empties the journal.
  void compact(Durability durability) {
    // Each journal record adds at most one owner.
    SnapshotWriter writer(*ipam_, sequence_, ipam_->count(),
                          (snapshot_exists_ ? snapshot_.header.owners_bytes : 0) +
                              records_.size() * (kOwnerHeaderSize + IpamStore::kMaxIdLength));
    OwnerCheck check_owners(*ipam_, what_);
    for_each_owner([&](const Owner& owner) {
      check_owners.add(owner.id, owner.address);
      writer.add(owner);
    });
    check_owners.finish();
    replace_snapshot(snapshot_path_, spare_path(snapshot_path_), writer.finish(), durability);
    snapshot_exists_ = true;
    if (journal_) {
      check(::ftruncate(journal_.get(), 0), "truncate {}", journal_path_);
      sync(durability);
    }
    journal_records_ = 0;
    torn_ = false;
  }

  bool empty_on_disk() const { return !snapshot_exists_ && journal_data_.empty(); }

 private:
  // Reads the header, bitmap and index with one pread (and a second for an index of more than
  // 16,384 owners), checks them, and copies the bitmap into words.
  void open_snapshot(Ipv4Network subnet, std::optional<Ipv4Address> gateway,
                     std::vector<std::uint64_t>& words) {
    snapshot_fd_ = open_noatime(snapshot_path_, O_RDONLY);
    if (!snapshot_fd_ && errno != ENOENT) {
      throw_errno("open {}", snapshot_path_);
    }
    if (!snapshot_fd_) {
      const Ipam empty(subnet, gateway);
      snapshot_.header.subnet = subnet;
      snapshot_.header.gateway = gateway;
      words.assign(empty.words().begin(), empty.words().end());
      return;
    }
    const std::size_t want = kHeaderSize + (subnet.size() + 63) / 64 * 8 + kIndexReadAhead;
    head_buffer_ = std::make_unique_for_overwrite<char[]>(want);
    std::size_t got = pread_full(snapshot_fd_, head_buffer_.get(), want, 0, snapshot_path_);
    const auto header = parse_header({head_buffer_.get(), got}, what_);
    // A short read is the end of the file, which must be where the header says.
    if (got < want ? got != header.file_size() : header.file_size() < want) {
      corrupt(what_, "truncated");
    }
    if (header.owners_at() > got) {
      auto bigger = std::make_unique_for_overwrite<char[]>(header.owners_at());
      std::memcpy(bigger.get(), head_buffer_.get(), got);
      head_buffer_ = std::move(bigger);
      if (pread_full(snapshot_fd_, head_buffer_.get() + got, header.owners_at() - got, got,
                     snapshot_path_) != header.owners_at() - got) {
        corrupt(what_, "truncated");
      }
      got = header.owners_at();
    }
    head_ = std::string_view(head_buffer_.get(), got);
    check_head(head_.substr(0, header.owners_at()), what_);
    snapshot_ = parse_head(head_, header);
    snapshot_exists_ = true;
    if (header.subnet != subnet || header.gateway != gateway) {
      throw_invalid("IPAM file {} is for subnet {}, not {}", snapshot_path_,
                    to_string(header.subnet), to_string(subnet));
    }
    sequence_ = header.sequence;
    words = words_of(snapshot_.words);
  }

  // Bytes [begin, end) of the snapshot's owners: from what open_snapshot read, else read now.
  std::string_view owners_bytes(std::size_t begin, std::size_t end) {
    const auto& header = snapshot_.header;
    if (header.owners_at() + end <= head_.size()) {
      return head_.substr(header.owners_at() + begin, end - begin);
    }
    owners_buffer_ = std::make_unique_for_overwrite<char[]>(end - begin);
    if (pread_full(snapshot_fd_, owners_buffer_.get(), end - begin, header.owners_at() + begin,
                   snapshot_path_) != end - begin) {
      corrupt(what_, "truncated");
    }
    return {owners_buffer_.get(), end - begin};
  }

  // All the owners, mapped rather than read: they are read once, so a mapping spares a copy into
  // fresh memory (compaction reads a megabyte for 10,000 owners). The size is checked first, as a
  // mapping past the end of the file faults.
  std::string_view mapped_owners() {
    struct stat st {};
    check(::fstat(snapshot_fd_.get(), &st), "stat {}", snapshot_path_);
    if (static_cast<std::size_t>(st.st_size) != snapshot_.header.file_size()) {
      corrupt(what_, "truncated");
    }
    map_.emplace(snapshot_fd_, snapshot_.header.file_size(), snapshot_path_);
    return map_->data().substr(snapshot_.header.owners_at());
  }

  // Calls fn(owner) for every owner, the snapshot's and the journal's merged, in snapshot order.
  template <typename Fn>
  void for_each_owner(Fn&& fn) {
    const Changes changed = changes();
    std::vector<Owner> journal_owners;  // address 0: released
    journal_owners.reserve(changed.size());
    for (const auto& [id, address] : changed) {
      journal_owners.push_back({id_hash(id), id, address.value_or(Ipv4Address{0})});
    }
    std::sort(journal_owners.begin(), journal_owners.end(), [](const Owner& a, const Owner& b) {
      return owner_before(a.hash, a.id, b.hash, b.id);
    });
    auto next = journal_owners.begin();
    const auto emit = [&](const Owner& owner) {
      if (owner.address.value != 0) {
        fn(owner);
      }
    };
    if (snapshot_exists_) {
      const auto& header = snapshot_.header;
      // The whole snapshot has been read when it is smaller than the first read.
      const auto owners =
          header.file_size() <= head_.size() ? head_.substr(header.owners_at()) : mapped_owners();
      for_each_snapshot_owner(snapshot_, owners, what_, [&](const Owner& owner) {
        for (; next != journal_owners.end() &&
               owner_before(next->hash, next->id, owner.hash, owner.id);
             ++next) {
          emit(*next);
        }
        if (next != journal_owners.end() && next->hash == owner.hash && next->id == owner.id) {
          emit(*next++);  // the journal changed this owner
        } else {
          fn(owner);
        }
      });
    }
    for (; next != journal_owners.end(); ++next) {
      emit(*next);
    }
  }

  // The owners the journal changed: an address, or nullopt once released.
  Changes changes() const {
    Changes changes;
    for (const auto& record : records_) {
      changes.insert_or_assign(std::string(record.id),
                               record.allocate ? std::optional(record.address) : std::nullopt);
    }
    return changes;
  }

  // The whole journal, in one read when it is no longer than compaction lets it grow (a short
  // read of a regular file is its end, and the lock keeps writers out). The buffer is not
  // zeroed first: only what was read is used.
  void read_journal() {
    // As long as compaction lets it grow, doubled if need be.
    std::size_t capacity = (compaction_threshold() + 1) * kRecordSize;
    journal_buffer_ = std::make_unique_for_overwrite<char[]>(capacity);
    std::size_t size = 0;
    for (;;) {
      size +=
          pread_full(journal_, journal_buffer_.get() + size, capacity - size, size, journal_path_);
      if (size < capacity) {
        break;
      }
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity * 2);
      std::memcpy(bigger.get(), journal_buffer_.get(), size);
      journal_buffer_ = std::move(bigger);
      capacity *= 2;
    }
    journal_data_ = std::string_view(journal_buffer_.get(), size);
  }

  // Applies the journal's whole records after the snapshot's sequence number to words; stops at
  // the first record that is not whole (torn by a crash during its append: never committed).
  void replay(std::string_view journal, Ipv4Network subnet, std::vector<std::uint64_t>& words,
              std::uint32_t& cursor) {
    const std::string& what = journal_path_.native();
    records_.reserve(journal.size() / kRecordSize + 2);
    std::size_t i = 0;
    Record record;
    for (; (i + 1) * kRecordSize <= journal.size(); ++i) {
      if (!parse_record(journal.substr(i * kRecordSize, kRecordSize), record)) {
        break;
      }
      if (record.sequence <= snapshot_.header.sequence && sequence_ == snapshot_.header.sequence) {
        continue;  // already in the snapshot (a crash came between compaction and truncation)
      }
      if (record.sequence != sequence_ + 1) {
        corrupt(what, fmt::format("record {} has sequence {}, expected {}", i, record.sequence,
                                  sequence_ + 1));
      }
      const auto& change = record.change;
      if (!subnet.contains(change.address)) {
        corrupt(what, fmt::format("address {} outside the subnet", to_string(change.address)));
      }
      const std::uint64_t offset = change.address.value - subnet.address.value;
      auto& word = words[offset / 64];
      const std::uint64_t bit = std::uint64_t{1} << (offset % 64);
      // Only the bitmap is checked here (cheap); owners are checked against it whenever all of
      // them are read (load, reconcile, compaction).
      if (((word & bit) != 0) == change.allocate) {
        corrupt(what, fmt::format("record {} does not apply: {} {} for {}", i,
                                  change.allocate ? "alloc" : "release", to_string(change.address),
                                  change.id));
      }
      word = change.allocate ? word | bit : word & ~bit;
      records_.push_back(change);
      cursor = record.cursor;
      sequence_ = record.sequence;
    }
    journal_records_ = i;
    torn_ = i * kRecordSize != journal.size();
    // A crash tears only the end of what one append wrote; a whole record after the damage means
    // a committed change would be dropped, so that is corruption, not a torn append.
    for (std::size_t j = i + 1; (j + 1) * kRecordSize <= journal.size(); ++j) {
      if (Record later; parse_record(journal.substr(j * kRecordSize, kRecordSize), later) &&
                        later.sequence > sequence_) {
        corrupt(what, fmt::format("record {} is damaged but record {} after it is whole", i, j));
      }
    }
  }

  void sync(Durability durability) const {
    if (durability == Durability::durable) {
      check(::fdatasync(journal_.get()), "fdatasync {}", journal_path_);
    }
  }

  // The store's paths: a pool lives for one call of it.
  const std::filesystem::path& snapshot_path_;
  const std::filesystem::path& journal_path_;
  const std::string& what_;
  BorrowedFd journal_;
  UniqueFd snapshot_fd_;
  std::unique_ptr<char[]> head_buffer_;
  std::string_view head_;  // what open_snapshot read: the header, bitmap, index, maybe owners
  std::unique_ptr<char[]> owners_buffer_;
  std::optional<Mapping> map_;
  Snapshot snapshot_;
  bool snapshot_exists_ = false;
  std::uint64_t sequence_ = 0;
  std::unique_ptr<char[]> journal_buffer_;
  std::string_view journal_data_;  // the journal as read; the records' ids point into it
  std::vector<Change> records_;    // the journal's changes applied, oldest first
  std::size_t journal_records_ = 0;
  bool torn_ = false;
  std::optional<Ipam> ipam_;
};

// The pool's journal, opened and flock'ed: the journal is the pool's lock too, since it is never
// replaced (only appended to, truncated, and removed by purge()). Unlocked explicitly, as
// FileLock does, in case a child forked meanwhile shares the open file description.
class JournalLock {
 public:
  // nullopt when the journal is missing (and flags lack O_CREAT) or its directory is.
  static std::optional<JournalLock> acquire(const std::filesystem::path& journal, int flags,
                                            int operation) {
    for (;;) {
      UniqueFd fd = open_noatime(journal, flags);
      if (!fd) {
        if (errno == ENOENT) {
          return std::nullopt;
        }
        throw_errno("open {}", journal);
      }
      while (::flock(fd.get(), operation) != 0) {
        if (errno != EINTR) {
          throw_errno("lock {}", journal);
        }
      }
      struct stat st {};
      check(::fstat(fd.get(), &st), "stat {}", journal);
      if (st.st_nlink > 0) {
        return JournalLock(std::move(fd));
      }
      // purge() removed the pool while this waited: lock the current one.
      ::flock(fd.get(), LOCK_UN);
    }
  }

  JournalLock(JournalLock&&) noexcept = default;
  JournalLock& operator=(JournalLock&&) = delete;
  JournalLock(const JournalLock&) = delete;
  JournalLock& operator=(const JournalLock&) = delete;
  ~JournalLock() {
    if (fd_) {
      ::flock(fd_.get(), LOCK_UN);
    }
  }

  BorrowedFd fd() const noexcept { return fd_.borrow(); }

 private:
  explicit JournalLock(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// A writer's lock on the pool. With create, the directory and the journal are created when
// missing (after the open fails, which saves a stat on every change); without, nullopt when the
// pool has no files (a snapshot left alone gets its journal back).
std::optional<JournalLock> lock_for_writing(const std::filesystem::path& dir,
                                            const std::filesystem::path& journal,
                                            const std::filesystem::path& snapshot, bool create) {
  constexpr int kFlags = O_RDWR | O_APPEND;
  if (auto lock = JournalLock::acquire(journal, create ? kFlags | O_CREAT : kFlags, LOCK_EX)) {
    return lock;
  }
  if (create) {
    std::filesystem::create_directories(dir);
  } else if (!std::filesystem::exists(snapshot)) {
    return std::nullopt;
  }
  if (auto lock = JournalLock::acquire(journal, kFlags | O_CREAT, LOCK_EX)) {
    return lock;
  }
  throw Error(ENOENT, fmt::format("open {}", journal));
}

// A reader's lock: nullopt when the pool has no files. A snapshot left without its journal (a
// crash during purge()) gets one, so that it is never read unlocked: compaction rewrites the
// spare file, which was the snapshot before.
std::optional<JournalLock> lock_for_reading(const std::filesystem::path& journal,
                                            const std::filesystem::path& snapshot) {
  if (auto lock = JournalLock::acquire(journal, O_RDONLY, LOCK_SH)) {
    return lock;
  }
  if (!std::filesystem::exists(snapshot)) {
    return std::nullopt;
  }
  return JournalLock::acquire(journal, O_RDWR | O_CREAT, LOCK_SH);
}

// Compaction only saves later readers time: a failure leaves the journal as it was, committed,
// and the next writer tries again.
void compact_if_due(Pool& pool, Durability durability) noexcept {
  if (pool.wants_compaction()) {
    try {
      pool.compact(durability);
    } catch (const std::exception&) {
    }
  }
}

// Frees, as journal records, every owner of state (the pool's) that keep(id) refuses; returns
// how many.
template <typename Keep>
std::size_t release_unless(Pool& pool, const IpamState& state, Durability durability, Keep&& keep) {
  std::vector<Change> gone;
  for (const auto& [id, address] : state.owners) {
    if (!keep(id)) {
      pool.ipam().release(address);
      gone.push_back({false, address, id});
    }
  }
  if (!gone.empty()) {
    pool.commit(gone, durability);
    compact_if_due(pool, durability);
  }
  return gone.size();
}

}  // namespace

std::string encode_ipam_state(const IpamState& state, std::uint64_t sequence) {
  std::vector<Owner> owners;
  owners.reserve(state.owners.size());
  for (const auto& [id, address] : state.owners) {
    check_id(id);
    owners.push_back({id_hash(id), id, address});
  }
  std::sort(owners.begin(), owners.end(), [](const Owner& a, const Owner& b) {
    return owner_before(a.hash, a.id, b.hash, b.id);
  });
  std::size_t owner_bytes = 0;
  for (const auto& owner : owners) {
    owner_bytes += kOwnerHeaderSize + owner.id.size();
  }
  SnapshotWriter writer(state.ipam, sequence, owners.size(), owner_bytes);
  for (const auto& owner : owners) {
    writer.add(owner);
  }
  return std::string(writer.finish());
}

IpamState decode_ipam_state(std::string_view data, const std::string& what) {
  const auto header = parse_header(data, what);
  if (data.size() != header.file_size()) {
    corrupt(what, "truncated");
  }
  check_head(data.substr(0, header.owners_at()), what);
  const Snapshot snapshot = parse_head(data, header);
  return collect_owners(
      Ipam::from_words(header.subnet, header.gateway, words_of(snapshot.words), header.cursor),
      what, [&](auto&& fn) {
        for_each_snapshot_owner(snapshot, data.substr(header.owners_at()), what, fn);
      });
}

IpamStore::IpamStore(std::filesystem::path root, std::string network_name, Ipv4Network subnet,
                     std::optional<Ipv4Address> gateway, Durability durability)
    : dir_(std::move(root) / "ipam"),
      file_(dir_ / (network_name + ".snapshot")),
      journal_(dir_ / (network_name + ".journal")),
      network_name_(std::move(network_name)),
      subnet_(subnet),
      gateway_(gateway),
      durability_(durability) {}

Ipv4Address IpamStore::allocate(const std::string& container_id,
                                std::optional<Ipv4Address> requested) {
  check_id(container_id);
  const auto lock = lock_for_writing(dir_, journal_, file_, true);
  Pool pool(file_, journal_, subnet_, gateway_, lock->fd());
  if (const auto held = pool.owner(container_id)) {
    if (requested && *requested != *held) {
      throw_invalid("container {} already has address {} in network {}", container_id,
                    to_string(*held), network_name_);
    }
    return *held;
  }
  Ipv4Address address;
  if (requested) {
    if (!pool.ipam().allocate(*requested)) {
      throw_invalid("address {} is already in use in network {}", to_string(*requested),
                    network_name_);
    }
    address = *requested;
  } else {
    const auto next = pool.ipam().allocate();
    if (!next) {
      throw Error(ENOSPC, fmt::format("no free address in network {} ({})", network_name_,
                                      to_string(subnet_)));
    }
    address = *next;
  }
  pool.commit({{true, address, container_id}}, durability_);
  compact_if_due(pool, durability_);
  return address;
}

std::optional<Ipv4Address> IpamStore::release(const std::string& container_id) {
  const auto lock = lock_for_writing(dir_, journal_, file_, false);
  if (!lock) {
    return std::nullopt;
  }
  Pool pool(file_, journal_, subnet_, gateway_, lock->fd());
  const auto address = pool.owner(container_id);
  if (!address) {
    return std::nullopt;
  }
  pool.ipam().release(*address);
  pool.commit({{false, *address, container_id}}, durability_);
  compact_if_due(pool, durability_);
  return address;
}

std::size_t IpamStore::reconcile(const std::set<std::string>& live_ids) {
  const auto lock = lock_for_writing(dir_, journal_, file_, false);
  if (!lock) {
    return 0;
  }
  Pool pool(file_, journal_, subnet_, gateway_, lock->fd());
  return release_unless(pool, pool.state(), durability_,
                        [&](const std::string& id) { return live_ids.contains(id); });
}

std::size_t IpamStore::sync(const std::map<std::string, Ipv4Address>& owners) {
  const auto lock = lock_for_writing(dir_, journal_, file_, !owners.empty());
  if (!lock) {
    return 0;
  }
  std::map<std::string, Ipv4Address> found;
  try {
    Pool pool(file_, journal_, subnet_, gateway_, lock->fd());
    IpamState state = pool.state();
    const bool kept = std::all_of(owners.begin(), owners.end(), [&](const auto& owner) {
      const auto it = state.owners.find(owner.first);
      return it != state.owners.end() && it->second == owner.second;
    });
    if (kept) {
      // The usual case: only containers that are gone to free, as journal records.
      return release_unless(pool, state, durability_,
                            [&](const std::string& id) { return owners.contains(id); });
    }
    found = std::move(state.owners);
  } catch (const std::exception&) {
    // Damaged (whatever the damage made the reading throw): nothing of it is trusted.
  }
  IpamState rebuilt{Ipam(subnet_, gateway_), {}};
  for (const auto& [id, address] : owners) {
    if (subnet_.contains(address) && rebuilt.ipam.allocate(address)) {
      rebuilt.owners.emplace(id, address);
    }
  }
  // The journal is emptied first: a crash before the new snapshot is in place leaves the old
  // snapshot alone, which the next sync finds wrong again, never old records on the new one.
  check(::ftruncate(lock->fd().get(), 0), "truncate {}", journal_);
  if (durability_ == Durability::durable) {
    check(::fdatasync(lock->fd().get()), "fdatasync {}", journal_);
  }
  replace_snapshot(file_, spare_path(file_), encode_ipam_state(rebuilt), durability_);
  std::size_t changed = 0;
  for (const auto& [id, address] : found) {
    const auto it = rebuilt.owners.find(id);
    changed += it == rebuilt.owners.end() || it->second != address ? 1 : 0;
  }
  for (const auto& [id, address] : rebuilt.owners) {
    changed += found.contains(id) ? 0 : 1;
  }
  return changed;
}

IpamState IpamStore::load() const {
  const auto lock = lock_for_reading(journal_, file_);
  if (!lock) {
    return IpamState{Ipam(subnet_, gateway_), {}};
  }
  return Pool(file_, journal_, subnet_, gateway_, lock->fd()).state();
}

std::size_t IpamStore::count() const {
  const auto lock = lock_for_reading(journal_, file_);
  if (!lock) {
    return 0;
  }
  return Pool(file_, journal_, subnet_, gateway_, lock->fd()).ipam().count();
}

void IpamStore::compact() {
  const auto lock = lock_for_writing(dir_, journal_, file_, false);
  if (!lock) {
    return;
  }
  Pool pool(file_, journal_, subnet_, gateway_, lock->fd());
  if (!pool.empty_on_disk()) {
    pool.compact(durability_);
  }
}

void IpamStore::purge() {
  {
    const auto lock = JournalLock::acquire(journal_, O_RDWR, LOCK_EX);
    // The journal first: a snapshot without a journal is a whole pool, a journal without its
    // snapshot is not.
    std::filesystem::remove(journal_);
    std::filesystem::remove(file_);
    std::filesystem::remove(spare_path(file_));
  }
  // The lock file of gctool versions before the journal became the lock.
  std::filesystem::remove(dir_ / (network_name_ + ".lock"));
}

}  // namespace gctool::net
