#include "antientropy/session.h"

#include <map>

#include "antientropy/message_checksum.h"
#include "crdt/any_crdt.h"

namespace geodatastore::antientropy {

namespace {

// Bounds on what one request may ask of a responder.
constexpr size_t kMaxNodesPerRequest = 16 * storage::kBuckets;
constexpr size_t kMaxBucketsPerRequest = 16 * storage::kBuckets;
constexpr size_t kMaxObjectsPerRequest = 100000;

}  // namespace

Session::Session(SyncHost* host, std::string self_id, SessionOptions options)
    : host_(host), self_id_(std::move(self_id)), options_(options) {
  for (v1::CrdtType t : crdt::kAllTypes) {
    v1::NodeSet root;
    root.set_type(t);
    root.set_level(0);
    root.add_indices(0);
    level_sets_.push_back(std::move(root));
  }
}

std::optional<v1::SyncRequest> Session::Next() {
  if (done_) return std::nullopt;
  if (!status_.ok()) {
    done_ = true;
    return std::nullopt;
  }
  if (stats_.requests == 0 && !host_->Ready()) {
    status_ = Status(StatusCode::kFailedPrecondition, "this node's Merkle trees are rebuilding");
    done_ = true;
    return std::nullopt;
  }
  v1::SyncRequest request;
  request.set_from(self_id_);
  if (phase_ == Phase::kTree) {
    if (level_sets_.empty()) {
      phase_ = Phase::kRepair;
    } else {
      for (const v1::NodeSet& set : level_sets_) *request.mutable_nodes()->add_sets() = set;
    }
  }
  if (phase_ == Phase::kRepair) {
    if (!to_pull_.empty()) {
      v1::PullRequest* pull = request.mutable_pull();
      while (!to_pull_.empty() &&
             static_cast<size_t>(pull->objects_size()) < options_.objects_per_request) {
        *pull->add_objects() = std::move(to_pull_.front());
        to_pull_.pop_front();
      }
    } else if (!to_push_.empty()) {
      std::vector<v1::ObjectRef> chunk;
      while (!to_push_.empty() && chunk.size() < options_.objects_per_request) {
        chunk.push_back(std::move(to_push_.front()));
        to_push_.pop_front();
      }
      auto states = host_->ReadStates(chunk);
      if (!states.ok()) {
        status_ = states.status();
        done_ = true;
        return std::nullopt;
      }
      // States up to the message size; the rest go back to the front of the queue.
      size_t bytes = 0, taken = 0;
      for (v1::ObjectState& s : *states) {
        if (taken > 0 && bytes + s.ByteSizeLong() > options_.max_message_bytes) {
          for (size_t i = states->size(); i-- > taken;) {
            v1::ObjectRef ref;
            ref.set_type((*states)[i].type());
            ref.set_key((*states)[i].key());
            to_push_.push_front(std::move(ref));
          }
          break;
        }
        bytes += s.ByteSizeLong();
        ++taken;
        *request.mutable_push()->add_states() = std::move(s);
      }
      stats_.pushed += taken;
      // Read after the states: it covers them.
      *request.mutable_push()->mutable_knowledge() = host_->Knowledge();
    } else if (!buckets_.empty()) {
      std::map<v1::CrdtType, v1::BucketSet> sets;
      for (size_t n = 0; n < options_.buckets_per_request && !buckets_.empty(); ++n) {
        auto [type, bucket] = buckets_.front();
        buckets_.pop_front();
        v1::BucketSet& set = sets[type];
        set.set_type(type);
        set.add_buckets(bucket);
      }
      for (auto& [type, set] : sets) *request.mutable_keys()->add_sets() = std::move(set);
    } else {
      phase_ = Phase::kDone;
      done_ = true;
      return std::nullopt;
    }
  }
  Seal(&request);
  last_ = request;
  ++stats_.requests;
  stats_.bytes_sent += request.ByteSizeLong();
  return request;
}

void Session::OnReply(const v1::SyncReply& reply) {
  stats_.bytes_received += reply.ByteSizeLong();
  Status s = Status::Ok();
  if (!Intact(reply)) {
    // Nothing of it is read: the session ends, a later one asks again.
    host_->OnRejected("checksum");
    status_ = Corruption("a sync reply whose checksum does not match");
    done_ = true;
    return;
  }
  switch (last_.body_case()) {
    case v1::SyncRequest::kNodes:
      s = reply.has_nodes() ? OnNodes(reply.nodes()) : Corruption("expected a nodes reply");
      break;
    case v1::SyncRequest::kKeys:
      s = reply.has_keys() ? OnKeys(reply.keys()) : Corruption("expected a keys reply");
      break;
    case v1::SyncRequest::kPull:
      s = reply.has_pull() ? OnPull(reply.pull()) : Corruption("expected a pull reply");
      break;
    case v1::SyncRequest::kPush:
      if (!reply.has_push()) {
        s = Corruption("expected a push reply");
      } else {
        stats_.repaired_there += reply.push().changed();
      }
      break;
    default:
      s = Internal("a reply without a request");
  }
  if (!s.ok()) {
    status_ = s;
    done_ = true;
  }
}

Status Session::OnNodes(const v1::NodesReply& reply) {
  const auto& asked = last_.nodes().sets();
  if (reply.sets_size() != asked.size()) return Corruption("a nodes reply of the wrong size");
  std::vector<v1::NodeSet> next;
  for (int i = 0; i < asked.size(); ++i) {
    const v1::NodeSet& set = asked[i];
    const v1::NodeDigests& theirs = reply.sets(i);
    if (theirs.digests_size() != set.indices_size())
      return Corruption("a nodes reply of the wrong size");
    const std::vector<uint32_t> indices(set.indices().begin(), set.indices().end());
    const int level = static_cast<int>(set.level());
    const std::vector<storage::Digest> mine = host_->TreeNodes(set.type(), level, indices);
    v1::NodeSet children;
    children.set_type(set.type());
    children.set_level(set.level() + 1);
    for (size_t j = 0; j < indices.size(); ++j) {
      ++stats_.nodes_compared;
      if (mine[j].lo == theirs.digests(static_cast<int>(j))) continue;
      if (level == storage::kLeafLevel) {
        buckets_.emplace_back(set.type(), indices[j]);
      } else {
        for (uint32_t c = 0; c < storage::kFanout; ++c)
          children.add_indices(indices[j] * storage::kFanout + c);
      }
    }
    if (children.indices_size() > 0) next.push_back(std::move(children));
  }
  level_sets_ = std::move(next);
  return Status::Ok();
}

Status Session::OnKeys(const v1::KeysReply& reply) {
  // Their digests of the asked buckets, per type; anything not asked for is ignored.
  std::map<std::pair<v1::CrdtType, std::string>, storage::Digest> theirs;
  std::map<v1::CrdtType, std::vector<uint32_t>> asked;
  for (const v1::BucketSet& set : last_.keys().sets())
    asked[set.type()].assign(set.buckets().begin(), set.buckets().end());
  for (const v1::KeyDigest& k : reply.keys()) {
    auto it = asked.find(k.type());
    if (it == asked.end()) continue;
    const uint32_t bucket = storage::BucketOf(k.key());
    if (std::find(it->second.begin(), it->second.end(), bucket) == it->second.end()) continue;
    theirs[{k.type(), k.key()}] = {k.digest_lo(), k.digest_hi()};
  }
  for (const auto& [type, buckets] : asked) {
    stats_.buckets_compared += buckets.size();
    GDS_ASSIGN_OR_RETURN(auto mine, host_->BucketEntries(type, buckets));
    std::map<std::string, storage::Digest> own;
    for (storage::BucketEntry& e : mine) own.emplace(std::move(e.key), e.digest);
    for (const auto& [key, digest] : own) {
      ++stats_.keys_compared;
      auto other = theirs.find({type, key});
      if (other == theirs.end() || !(other->second == digest)) {
        v1::ObjectRef ref;
        ref.set_type(type);
        ref.set_key(key);
        to_push_.push_back(std::move(ref));
      }
    }
    for (auto it = theirs.lower_bound({type, std::string()});
         it != theirs.end() && it->first.first == type; ++it) {
      ++stats_.keys_compared;
      auto here = own.find(it->first.second);
      if (here == own.end() || !(here->second == it->second)) {
        v1::ObjectRef ref;
        ref.set_type(type);
        ref.set_key(it->first.second);
        to_pull_.push_back(std::move(ref));
      }
    }
  }
  return Status::Ok();
}

Status Session::OnPull(const v1::PullReply& reply) {
  const auto& asked = last_.pull().objects();
  if (reply.answered() == 0 || reply.answered() > static_cast<uint32_t>(asked.size()))
    return Corruption("a pull reply that answers nothing");
  for (int i = asked.size(); i-- > static_cast<int>(reply.answered());)
    to_pull_.push_front(asked[i]);  // did not fit: ask again
  stats_.pulled += reply.states_size();
  std::vector<v1::ObjectState> states(reply.states().begin(), reply.states().end());
  GDS_ASSIGN_OR_RETURN(uint64_t changed, host_->JoinStates(states, reply.knowledge()));
  stats_.repaired_here += changed;
  return Status::Ok();
}

namespace {

Status Answer(SyncHost* host, const v1::SyncRequest& request, v1::SyncReply* reply,
              size_t max_reply_bytes) {
  if (!host->Ready()) {
    return Status(StatusCode::kFailedPrecondition, "the Merkle trees are rebuilding");
  }
  switch (request.body_case()) {
    case v1::SyncRequest::kNodes: {
      size_t total = 0;
      for (const v1::NodeSet& set : request.nodes().sets()) total += set.indices_size();
      if (total > kMaxNodesPerRequest) return InvalidArgument("too many tree nodes asked");
      for (const v1::NodeSet& set : request.nodes().sets()) {
        const std::vector<uint32_t> indices(set.indices().begin(), set.indices().end());
        v1::NodeDigests* out = reply->mutable_nodes()->add_sets();
        out->set_type(set.type());
        out->set_level(set.level());
        for (const storage::Digest& d :
             host->TreeNodes(set.type(), static_cast<int>(set.level()), indices))
          out->add_digests(d.lo);
      }
      return Status::Ok();
    }
    case v1::SyncRequest::kKeys: {
      size_t total = 0;
      for (const v1::BucketSet& set : request.keys().sets()) total += set.buckets_size();
      if (total > kMaxBucketsPerRequest) return InvalidArgument("too many buckets asked");
      v1::KeysReply* out = reply->mutable_keys();
      for (const v1::BucketSet& set : request.keys().sets()) {
        std::vector<uint32_t> buckets;
        for (uint32_t b : set.buckets()) {
          if (b < storage::kBuckets) buckets.push_back(b);
        }
        GDS_ASSIGN_OR_RETURN(auto entries, host->BucketEntries(set.type(), buckets));
        for (const storage::BucketEntry& e : entries) {
          v1::KeyDigest* k = out->add_keys();
          k->set_type(set.type());
          k->set_key(e.key);
          k->set_digest_lo(e.digest.lo);
          k->set_digest_hi(e.digest.hi);
        }
      }
      return Status::Ok();
    }
    case v1::SyncRequest::kPull: {
      if (static_cast<size_t>(request.pull().objects_size()) > kMaxObjectsPerRequest)
        return InvalidArgument("too many objects asked");
      v1::PullReply* out = reply->mutable_pull();
      size_t bytes = 0;
      for (const v1::ObjectRef& ref : request.pull().objects()) {
        if (out->answered() > 0 && bytes >= max_reply_bytes) break;
        GDS_ASSIGN_OR_RETURN(auto states, host->ReadStates({ref}));
        for (v1::ObjectState& s : states) {
          bytes += s.ByteSizeLong();
          *out->add_states() = std::move(s);
        }
        out->set_answered(out->answered() + 1);
      }
      *out->mutable_knowledge() = host->Knowledge();  // read after the states: covers them
      return Status::Ok();
    }
    case v1::SyncRequest::kPush: {
      if (static_cast<size_t>(request.push().states_size()) > kMaxObjectsPerRequest)
        return InvalidArgument("too many objects pushed");
      const std::vector<v1::ObjectState> states(request.push().states().begin(),
                                                request.push().states().end());
      GDS_ASSIGN_OR_RETURN(uint64_t changed, host->JoinStates(states, request.push().knowledge()));
      reply->mutable_push()->set_changed(changed);
      return Status::Ok();
    }
    default:
      return InvalidArgument("an empty sync request");
  }
}

}  // namespace

Status Respond(SyncHost* host, const v1::SyncRequest& request, v1::SyncReply* reply,
               size_t max_reply_bytes) {
  if (!Intact(request)) {
    host->OnRejected("checksum");
    return Corruption("a sync request whose checksum does not match");
  }
  GDS_RETURN_IF_ERROR(Answer(host, request, reply, max_reply_bytes));
  Seal(reply);
  return Status::Ok();
}

}  // namespace geodatastore::antientropy
