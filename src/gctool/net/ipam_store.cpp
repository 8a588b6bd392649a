#include "gctool/net/ipam_store.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_lock.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool::net {
namespace {

static_assert(std::endian::native == std::endian::little, "IPAM files are little-endian");

constexpr std::string_view kMagic = "GCTIPAM2";
// Snapshot header (64 bytes): magic, subnet address, prefix, has-gateway, gateway, cursor, word
// count, sequence, owner count, checksum of the owners, checksum of the header and the words.
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kHeaderChecksumAt = 56;
// Snapshot owner record: address, id length, id (zero-padded).
constexpr std::size_t kOwnerSize = 8 + IpamStore::kMaxIdLength;
// Journal record: tag, address, sequence, cursor after the change, id length, id, checksum. 128
// divides the page size, so no record straddles two pages (a write killed by a signal stops
// between pages, never inside one).
constexpr std::size_t kRecordSize = 128;
constexpr std::size_t kRecordIdAt = 24;
constexpr std::size_t kRecordChecksumAt = kRecordIdAt + IpamStore::kMaxIdLength;
static_assert(kRecordChecksumAt + 8 == kRecordSize);
constexpr std::uint32_t kAllocTag = 0x31434c41;    // "ALC1"
constexpr std::uint32_t kReleaseTag = 0x31534c52;  // "RLS1"

template <typename T>
T load_at(std::string_view data, std::size_t offset) {
  T value;
  std::memcpy(&value, data.data() + offset, sizeof value);
  return value;
}

template <typename T>
void store_at(std::string& out, std::size_t offset, T value) {
  std::memcpy(out.data() + offset, &value, sizeof value);
}

// A fast checksum (8 bytes a step) that tells torn or corrupt data from what was written; not a
// cryptographic hash.
std::uint64_t checksum(std::string_view data) {
  std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ data.size();
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    h = (h ^ load_at<std::uint64_t>(data, i)) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
  }
  for (; i < data.size(); ++i) {
    h = (h ^ static_cast<unsigned char>(data[i])) * 0x94d049bb133111ebULL;
  }
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 32);
}

std::uint64_t header_checksum(std::string_view header, std::string_view words) {
  return checksum(header.substr(0, kHeaderChecksumAt)) * 0x94d049bb133111ebULL ^ checksum(words);
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

// The header and bitmap of a snapshot, with its owner records left in place.
struct Snapshot {
  Ipv4Network subnet;
  std::optional<Ipv4Address> gateway;
  std::uint32_t cursor = 0;
  std::uint64_t sequence = 0;
  std::string_view words;   // the bitmap, in place (8 bytes a word)
  std::string_view owners;  // owner_count records of kOwnerSize, sorted by id
  std::size_t owner_count = 0;
  std::uint64_t owners_checksum = 0;

  std::string_view id(std::size_t i, const std::string& what) const {
    const auto record = owners.substr(i * kOwnerSize, kOwnerSize);
    const auto length = load_at<std::uint32_t>(record, 4);
    if (length == 0 || length > IpamStore::kMaxIdLength) {
      corrupt(what, "bad owner record");
    }
    return record.substr(8, length);
  }
  Ipv4Address address(std::size_t i) const {
    return {load_at<std::uint32_t>(owners, i * kOwnerSize)};
  }
  // Binary search: the owners are sorted by id.
  std::optional<Ipv4Address> find(std::string_view wanted, const std::string& what) const {
    std::size_t low = 0;
    std::size_t high = owner_count;
    while (low < high) {
      const std::size_t mid = low + (high - low) / 2;
      const int order = id(mid, what).compare(wanted);
      if (order == 0) {
        return address(mid);
      }
      if (order < 0) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    return std::nullopt;
  }
};

Snapshot parse_snapshot(std::string_view data, const std::string& what) {
  if (data.size() < kHeaderSize || data.substr(0, kMagic.size()) != kMagic) {
    corrupt(what, "not an IPAM snapshot");
  }
  Snapshot s;
  s.subnet = {{load_at<std::uint32_t>(data, 8)},
              static_cast<int>(load_at<std::uint32_t>(data, 12))};
  if (load_at<std::uint32_t>(data, 16) != 0) {
    s.gateway = Ipv4Address{load_at<std::uint32_t>(data, 20)};
  }
  s.cursor = load_at<std::uint32_t>(data, 24);
  const std::size_t word_count = load_at<std::uint32_t>(data, 28);
  s.sequence = load_at<std::uint64_t>(data, 32);
  s.owner_count = load_at<std::uint64_t>(data, 40);
  s.owners_checksum = load_at<std::uint64_t>(data, 48);
  if (s.subnet.prefix < 8 || s.subnet.prefix > 30) {
    corrupt(what, "bad prefix");
  }
  if (word_count != (s.subnet.size() + 63) / 64) {
    corrupt(what, "the bitmap does not fit the subnet");
  }
  const std::size_t words_bytes = word_count * 8;
  if (s.owner_count > data.size() / kOwnerSize ||
      data.size() != kHeaderSize + words_bytes + s.owner_count * kOwnerSize) {
    corrupt(what, "truncated");
  }
  const auto words = data.substr(kHeaderSize, words_bytes);
  if (load_at<std::uint64_t>(data, kHeaderChecksumAt) != header_checksum(data, words)) {
    corrupt(what, "checksum mismatch");
  }
  s.words = words;
  s.owners = data.substr(kHeaderSize + words_bytes);
  return s;
}

std::vector<std::uint64_t> words_of(std::string_view bytes) {
  std::vector<std::uint64_t> words(bytes.size() / 8);
  std::memcpy(words.data(), bytes.data(), words.size() * 8);
  return words;
}

// Owners changed by the journal since the snapshot: an address, or nullopt once released.
using Changes = std::map<std::string, std::optional<Ipv4Address>, std::less<>>;

// Calls fn(id, address) for every owner, the snapshot's and the journal's merged, in id order.
template <typename Fn>
void for_each_owner(const Snapshot& snapshot, const Changes& changes, const std::string& what,
                    Fn&& fn) {
  if (checksum(snapshot.owners) != snapshot.owners_checksum) {
    corrupt(what, "owners checksum mismatch");
  }
  auto change = changes.begin();
  const auto flush_changes_before = [&](std::string_view id) {
    for (; change != changes.end() && (id.empty() || change->first < id); ++change) {
      if (change->second) {
        fn(std::string_view(change->first), *change->second);
      }
    }
  };
  std::string_view previous;
  for (std::size_t i = 0; i < snapshot.owner_count; ++i) {
    const auto id = snapshot.id(i, what);
    if (i > 0 && previous >= id) {
      corrupt(what, "owners out of order");
    }
    previous = id;
    flush_changes_before(id);
    if (change != changes.end() && change->first == id) {
      continue;  // the journal changed this owner: flushed with the next id
    }
    fn(id, snapshot.address(i));
  }
  flush_changes_before({});
}

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

// Every owner of the snapshot and the journal, checked against the bitmap.
IpamState collect_owners(Ipam ipam, const Snapshot& snapshot, const Changes& changes,
                         const std::string& what) {
  IpamState state{std::move(ipam), {}};
  OwnerCheck check_owners(state.ipam, what);
  for_each_owner(snapshot, changes, what, [&](std::string_view id, Ipv4Address address) {
    check_owners.add(id, address);
    state.owners.emplace_hint(state.owners.end(), id, address);
  });
  check_owners.finish();
  return state;
}

// Builds a snapshot: the header and bitmap of ipam, then owners added in id order.
class SnapshotWriter {
 public:
  SnapshotWriter(const Ipam& ipam, std::uint64_t sequence, std::size_t owners) {
    const auto words = ipam.words();
    words_bytes_ = words.size() * 8;
    out_.reserve(kHeaderSize + words_bytes_ + owners * kOwnerSize);
    out_.resize(kHeaderSize + words_bytes_, '\0');
    std::memcpy(out_.data(), kMagic.data(), kMagic.size());
    store_at<std::uint32_t>(out_, 8, ipam.subnet().address.value);
    store_at<std::uint32_t>(out_, 12, static_cast<std::uint32_t>(ipam.subnet().prefix));
    store_at<std::uint32_t>(out_, 16, ipam.gateway() ? 1 : 0);
    store_at<std::uint32_t>(out_, 20, ipam.gateway() ? ipam.gateway()->value : 0);
    store_at<std::uint32_t>(out_, 24, ipam.cursor());
    store_at<std::uint32_t>(out_, 28, static_cast<std::uint32_t>(words.size()));
    store_at<std::uint64_t>(out_, 32, sequence);
    std::memcpy(out_.data() + kHeaderSize, words.data(), words_bytes_);
  }

  void add(std::string_view id, Ipv4Address address) {
    const std::size_t at = out_.size();
    out_.resize(at + kOwnerSize, '\0');
    store_at<std::uint32_t>(out_, at, address.value);
    store_at<std::uint32_t>(out_, at + 4, static_cast<std::uint32_t>(id.size()));
    std::memcpy(out_.data() + at + 8, id.data(), id.size());
    ++owners_;
  }

  std::string finish() && {
    const std::string_view view(out_);
    store_at<std::uint64_t>(out_, 40, owners_);
    store_at<std::uint64_t>(out_, 48, checksum(view.substr(kHeaderSize + words_bytes_)));
    store_at<std::uint64_t>(out_, kHeaderChecksumAt,
                            header_checksum(view, view.substr(kHeaderSize, words_bytes_)));
    return std::move(out_);
  }

 private:
  std::string out_;
  std::size_t words_bytes_ = 0;
  std::uint64_t owners_ = 0;
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

// nullopt for a record that is not whole: torn by a crash during its append.
std::optional<Record> parse_record(std::string_view data) {
  if (load_at<std::uint64_t>(data, kRecordChecksumAt) !=
      checksum(data.substr(0, kRecordChecksumAt))) {
    return std::nullopt;
  }
  const auto tag = load_at<std::uint32_t>(data, 0);
  const auto length = load_at<std::uint32_t>(data, 20);
  if ((tag != kAllocTag && tag != kReleaseTag) || length == 0 || length > IpamStore::kMaxIdLength) {
    return std::nullopt;
  }
  return Record{
      {tag == kAllocTag, {load_at<std::uint32_t>(data, 4)}, data.substr(kRecordIdAt, length)},
      load_at<std::uint64_t>(data, 8),
      load_at<std::uint32_t>(data, 16)};
}

// An mmap of a whole file, read-only.
class Mapping {
 public:
  Mapping() = default;
  Mapping(BorrowedFd fd, std::size_t size, const std::filesystem::path& path) : size_(size) {
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (addr == MAP_FAILED) {
      throw_errno("map {}", path);
    }
    addr_ = addr;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr_ != nullptr) {
      ::munmap(addr_, size_);
    }
  }
  std::string_view data() const noexcept { return {static_cast<const char*>(addr_), size_}; }

 private:
  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

// Opens a file that may be missing (an invalid fd then).
UniqueFd open_optional(const std::filesystem::path& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd && errno != ENOENT) {
    throw_errno("open {}", path);
  }
  return fd;
}

// One network's pool, opened under the lock: the snapshot mapped, the journal replayed on it.
// Nothing is written until commit().
class Pool {
 public:
  Pool(const std::filesystem::path& snapshot_path, const std::filesystem::path& journal_path,
       Ipv4Network subnet, std::optional<Ipv4Address> gateway, bool writable)
      : snapshot_path_(snapshot_path), journal_path_(journal_path), what_(snapshot_path.string()) {
    std::vector<std::uint64_t> words;
    open_snapshot(subnet, gateway, words);
    std::uint32_t cursor = snapshot_.cursor;
    journal_ = open_optional(journal_path_, writable ? O_RDWR | O_APPEND : O_RDONLY);
    if (journal_) {
      read_journal();
      replay(journal_data_, subnet, words, cursor);
    }
    ipam_.emplace(Ipam::from_words(subnet, gateway, std::move(words), cursor));
  }

  Ipam& ipam() { return *ipam_; }

  std::optional<Ipv4Address> owner(std::string_view id) const {
    // The journal's latest record for the id, else the snapshot's owner: a scan of the journal's
    // few hundred records at most and a binary search, instead of building a map of the journal.
    for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
      if (it->id == id) {
        return it->allocate ? std::optional(it->address) : std::nullopt;
      }
    }
    return snapshot_.find(id, what_);
  }

  IpamState state() const { return collect_owners(*ipam_, snapshot_, changes(), what_); }

  // Appends the changes, already made to ipam(), as journal records: committed once this returns.
  void commit(const std::vector<Change>& changes, Durability durability) {
    if (!snapshot_exists_) {
      // The base the journal applies to, written first, so the journal never exists without it.
      write_file_atomic(snapshot_path_,
                        encode_ipam_state({Ipam(snapshot_.subnet, snapshot_.gateway), {}}),
                        durability, 0600);
      snapshot_exists_ = true;
    }
    if (!journal_) {
      journal_ =
          UniqueFd(::open(journal_path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
      if (!journal_) {
        throw_errno("open {}", journal_path_);
      }
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

  // The owners the journal changed: an address, or nullopt once released.
  Changes changes() const {
    Changes changes;
    for (const auto& record : records_) {
      changes.insert_or_assign(std::string(record.id),
                               record.allocate ? std::optional(record.address) : std::nullopt);
    }
    return changes;
  }

  // Every change replays the journal and every compaction rewrites the snapshot: with J records
  // between compactions a change costs about J/2 records read plus S/J bytes written for a
  // snapshot of S bytes, least at J = sqrt(2 S / record size). Small pools compact every
  // kCompactAfter records; a pool of 65,000 owners (6.8 MB) every 325.
  bool wants_compaction() const {
    const double snapshot_bytes = static_cast<double>(map_ ? map_->data().size() : 0);
    const auto balanced = static_cast<std::size_t>(std::sqrt(2 * snapshot_bytes / kRecordSize));
    return journal_records_ >= std::max(IpamStore::kCompactAfter, balanced);
  }

  // Folds the journal into a new snapshot (the commit point: its sequence number makes replay
  // skip the records it holds), then empties the journal.
  void compact(Durability durability) {
    SnapshotWriter writer(*ipam_, sequence_, ipam_->count());
    OwnerCheck check_owners(*ipam_, what_);
    for_each_owner(snapshot_, changes(), what_, [&](std::string_view id, Ipv4Address address) {
      check_owners.add(id, address);
      writer.add(id, address);
    });
    check_owners.finish();
    write_file_atomic(snapshot_path_, std::move(writer).finish(), durability, 0600);
    snapshot_exists_ = true;
    if (journal_) {
      check(::ftruncate(journal_.get(), 0), "truncate {}", journal_path_);
      sync(durability);
    }
    journal_records_ = 0;
    torn_ = false;
  }

  bool empty_on_disk() const { return !snapshot_exists_ && !journal_; }

 private:
  void open_snapshot(Ipv4Network subnet, std::optional<Ipv4Address> gateway,
                     std::vector<std::uint64_t>& words) {
    const UniqueFd fd = open_optional(snapshot_path_, O_RDONLY);
    if (!fd) {
      const Ipam empty(subnet, gateway);
      snapshot_.subnet = subnet;
      snapshot_.gateway = gateway;
      words.assign(empty.words().begin(), empty.words().end());
      return;
    }
    struct stat st {};
    check(::fstat(fd.get(), &st), "stat {}", snapshot_path_);
    if (st.st_size <= 0) {
      corrupt(what_, "empty");
    }
    map_.emplace(fd, static_cast<std::size_t>(st.st_size), snapshot_path_);
    snapshot_ = parse_snapshot(map_->data(), what_);
    snapshot_exists_ = true;
    if (snapshot_.subnet != subnet || snapshot_.gateway != gateway) {
      throw_invalid("IPAM file {} is for subnet {}, not {}", snapshot_path_,
                    to_string(snapshot_.subnet), to_string(subnet));
    }
    sequence_ = snapshot_.sequence;
    words = words_of(snapshot_.words);
  }

  // The whole journal, in one read when it is no longer than compaction lets it grow (a short
  // read of a regular file is its end, and the lock keeps writers out). The buffer is not
  // zeroed first: only what was read is used.
  void read_journal() {
    std::size_t capacity = (IpamStore::kCompactAfter + 1) * kRecordSize;  // doubled if need be
    journal_buffer_ = std::make_unique_for_overwrite<char[]>(capacity);
    std::size_t size = 0;
    for (;;) {
      const ssize_t n = ::read(journal_.get(), journal_buffer_.get() + size, capacity - size);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        throw_errno("read {}", journal_path_);
      }
      size += static_cast<std::size_t>(n);
      if (n == 0 || size < capacity) {
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
    std::size_t i = 0;
    for (; (i + 1) * kRecordSize <= journal.size(); ++i) {
      const auto record = parse_record(journal.substr(i * kRecordSize, kRecordSize));
      if (!record) {
        break;
      }
      if (record->sequence <= snapshot_.sequence && sequence_ == snapshot_.sequence) {
        continue;  // already in the snapshot (a crash came between compaction and truncation)
      }
      if (record->sequence != sequence_ + 1) {
        corrupt(what, fmt::format("record {} has sequence {}, expected {}", i, record->sequence,
                                  sequence_ + 1));
      }
      const auto& change = record->change;
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
      cursor = record->cursor;
      sequence_ = record->sequence;
    }
    journal_records_ = i;
    torn_ = i * kRecordSize != journal.size();
    // A crash tears only the end of what one append wrote; a whole record after the damage means
    // a committed change would be dropped, so that is corruption, not a torn append.
    for (std::size_t j = i + 1; (j + 1) * kRecordSize <= journal.size(); ++j) {
      if (const auto later = parse_record(journal.substr(j * kRecordSize, kRecordSize));
          later && later->sequence > sequence_) {
        corrupt(what, fmt::format("record {} is damaged but record {} after it is whole", i, j));
      }
    }
  }

  void sync(Durability durability) const {
    if (durability == Durability::durable) {
      check(::fdatasync(journal_.get()), "fdatasync {}", journal_path_);
    }
  }

  std::filesystem::path snapshot_path_;
  std::filesystem::path journal_path_;
  std::string what_;
  std::optional<Mapping> map_;
  Snapshot snapshot_;
  bool snapshot_exists_ = false;
  std::uint64_t sequence_ = 0;
  std::unique_ptr<char[]> journal_buffer_;
  std::string_view journal_data_;  // the journal as read; the records' ids point into it
  std::vector<Change> records_;    // the journal's changes applied, oldest first
  UniqueFd journal_;
  std::size_t journal_records_ = 0;
  bool torn_ = false;
  std::optional<Ipam> ipam_;
};

}  // namespace

std::string encode_ipam_state(const IpamState& state, std::uint64_t sequence) {
  SnapshotWriter writer(state.ipam, sequence, state.owners.size());
  for (const auto& [id, address] : state.owners) {
    check_id(id);
    writer.add(id, address);
  }
  return std::move(writer).finish();
}

IpamState decode_ipam_state(std::string_view data, const std::string& what) {
  const Snapshot snapshot = parse_snapshot(data, what);
  return collect_owners(Ipam::from_words(snapshot.subnet, snapshot.gateway,
                                         words_of(snapshot.words), snapshot.cursor),
                        snapshot, {}, what);
}

IpamStore::IpamStore(std::filesystem::path root, std::string network_name, Ipv4Network subnet,
                     std::optional<Ipv4Address> gateway, Durability durability)
    : dir_(std::move(root) / "ipam"),
      file_(dir_ / (network_name + ".snapshot")),
      journal_(dir_ / (network_name + ".journal")),
      lock_file_(dir_ / (network_name + ".lock")),
      network_name_(std::move(network_name)),
      subnet_(subnet),
      gateway_(gateway),
      durability_(durability) {}

namespace {

// The pool's exclusive lock, creating <root>/ipam on first use (after the lock file's open
// fails, which saves a stat on every allocation).
FileLock lock_creating(const std::filesystem::path& dir, const std::filesystem::path& lock_file) {
  try {
    return FileLock::exclusive(lock_file);
  } catch (const Error& e) {
    if (e.code().value() != ENOENT) {
      throw;
    }
  }
  std::filesystem::create_directories(dir);
  return FileLock::exclusive(lock_file);
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

}  // namespace

Ipv4Address IpamStore::allocate(const std::string& container_id,
                                std::optional<Ipv4Address> requested) {
  check_id(container_id);
  const auto lock = lock_creating(dir_, lock_file_);
  Pool pool(file_, journal_, subnet_, gateway_, true);
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
  if (!std::filesystem::exists(dir_)) {
    return std::nullopt;
  }
  const auto lock = FileLock::exclusive(lock_file_);
  Pool pool(file_, journal_, subnet_, gateway_, true);
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
  if (!std::filesystem::exists(dir_)) {
    return 0;
  }
  const auto lock = FileLock::exclusive(lock_file_);
  Pool pool(file_, journal_, subnet_, gateway_, true);
  const IpamState state = pool.state();
  std::vector<Change> gone;
  for (const auto& [id, address] : state.owners) {
    if (!live_ids.contains(id)) {
      pool.ipam().release(address);
      gone.push_back({false, address, id});
    }
  }
  if (!gone.empty()) {
    pool.commit(gone, durability_);
    compact_if_due(pool, durability_);
  }
  return gone.size();
}

IpamState IpamStore::load() const {
  if (!std::filesystem::exists(dir_)) {
    return IpamState{Ipam(subnet_, gateway_), {}};
  }
  const auto lock = FileLock::shared(lock_file_);
  return Pool(file_, journal_, subnet_, gateway_, false).state();
}

std::size_t IpamStore::count() const {
  if (!std::filesystem::exists(dir_)) {
    return 0;
  }
  const auto lock = FileLock::shared(lock_file_);
  return Pool(file_, journal_, subnet_, gateway_, false).ipam().count();
}

void IpamStore::compact() {
  if (!std::filesystem::exists(dir_)) {
    return;
  }
  const auto lock = FileLock::exclusive(lock_file_);
  Pool pool(file_, journal_, subnet_, gateway_, true);
  if (!pool.empty_on_disk()) {
    pool.compact(durability_);
  }
}

void IpamStore::purge() {
  if (!std::filesystem::exists(dir_)) {
    return;
  }
  {
    const auto lock = FileLock::exclusive(lock_file_);
    // The journal first: a snapshot without a journal is a whole pool, a journal without its
    // snapshot is not.
    std::filesystem::remove(journal_);
    std::filesystem::remove(file_);
  }
  std::filesystem::remove(lock_file_);
}

}  // namespace gctool::net
