#include "crdt/codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace geodatastore::crdt {

std::string_view TypeName(v1::CrdtType type) {
  switch (type) {
    case v1::G_COUNTER:
      return "g_counter";
    case v1::PN_COUNTER:
      return "pn_counter";
    case v1::G_SET:
      return "g_set";
    case v1::TWO_P_SET:
      return "2p_set";
    case v1::OR_SET:
      return "or_set";
    case v1::LWW_SET:
      return "lww_set";
    case v1::LWW_REGISTER:
      return "lww_register";
    case v1::MV_REGISTER:
      return "mv_register";
    case v1::LWW_GRAPH:
      return "lww_graph";
    default:
      return "unknown";
  }
}

void EncodeDot(const Dot& dot, v1::Dot* out) {
  out->set_replica(dot.replica);
  out->set_counter(dot.counter);
}

void EncodeVersionVector(const VersionVector& vv, v1::VersionVector* out) {
  out->mutable_entries()->Reserve(static_cast<int>(vv.entries().size()));
  for (const auto& [replica, counter] : vv.entries())
    EncodeDot({replica, counter}, out->add_entries());
}

StatusOr<VersionVector> DecodeVersionVector(const v1::VersionVector& in) {
  VersionVector vv;
  for (int i = 0; i < in.entries_size(); ++i) {
    const v1::Dot& e = in.entries(i);
    if (e.counter() == 0) return Corruption("version vector entry with counter 0");
    if (i > 0 && e.replica() <= in.entries(i - 1).replica()) {
      return Corruption("version vector entries not strictly sorted by replica");
    }
    vv.Raise(e.replica(), e.counter());
  }
  return vv;
}

namespace {

StatusOr<CausalContext> DecodeContext(const v1::CausalContext& in) {
  GDS_ASSIGN_OR_RETURN(VersionVector compact, DecodeVersionVector(in.compact()));
  std::set<Dot> cloud;
  for (int i = 0; i < in.cloud_size(); ++i) {
    const Dot d{in.cloud(i).replica(), in.cloud(i).counter()};
    if (d.counter == 0) return Corruption("causal context dot with counter 0");
    if (!cloud.empty() && !(*cloud.rbegin() < d)) {
      return Corruption("causal context cloud not strictly sorted");
    }
    cloud.insert(cloud.end(), d);
  }
  CausalContext ctx;
  if (!CausalContext::FromParts(std::move(compact), std::move(cloud), &ctx)) {
    return Corruption("causal context not in canonical (compacted) form");
  }
  return ctx;
}

}  // namespace

void EncodeKernel(const DotKernel& kernel, v1::DotKernel* out) {
  v1::CausalContext* ctx = out->mutable_context();
  EncodeVersionVector(kernel.context().compact(), ctx->mutable_compact());
  for (const Dot& d : kernel.context().cloud()) EncodeDot(d, ctx->add_cloud());
  out->mutable_entries()->Reserve(static_cast<int>(kernel.entries().size()));
  for (const auto& [key, dots] : kernel.entries()) {
    v1::DotKernelEntry* e = out->add_entries();
    e->set_key(key);
    for (const Dot& d : dots) EncodeDot(d, e->add_dots());
  }
}

StatusOr<DotKernel> DecodeKernel(const v1::DotKernel& in) {
  GDS_ASSIGN_OR_RETURN(CausalContext ctx, DecodeContext(in.context()));
  DotKernel::Entries entries;
  for (int i = 0; i < in.entries_size(); ++i) {
    const v1::DotKernelEntry& e = in.entries(i);
    if (i > 0 && !(in.entries(i - 1).key() < e.key())) {
      return Corruption("dot kernel keys not strictly sorted");
    }
    DotList dots;
    dots.reserve(e.dots_size());
    for (const v1::Dot& d : e.dots()) dots.push_back({d.replica(), d.counter()});
    entries.emplace_hint(entries.end(), e.key(), std::move(dots));
  }
  DotKernel kernel;
  if (!DotKernel::FromParts(std::move(ctx), std::move(entries), &kernel)) {
    return Corruption(
        "dot kernel entry with no dots, unsorted or repeated dots, or a dot "
        "outside its causal context");
  }
  return kernel;
}

void EncodeStamp(const Stamp& stamp, v1::LwwStamp* out) {
  out->set_physical(stamp.ts.physical);
  out->set_logical(stamp.ts.logical);
  out->set_replica(stamp.replica);
}

Stamp DecodeStamp(const v1::LwwStamp& in) { return {{in.physical(), in.logical()}, in.replica()}; }

StatusOr<StringSet> DecodeStringSet(const google::protobuf::RepeatedPtrField<std::string>& in,
                                    std::string_view what) {
  StringSet out;
  for (int i = 0; i < in.size(); ++i) {
    if (i > 0 && !(in[i - 1] < in[i])) {
      return Corruption(std::string(what) + " not strictly sorted");
    }
    out.emplace_hint(out.end(), in[i]);
  }
  return out;
}

std::string SerializeCanonical(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace geodatastore::crdt
