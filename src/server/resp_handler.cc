#include "server/resp_handler.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "reply/object_reply.h"
#include "server/resp_commands.h"
#include "server/status_codes.h"

namespace geodatastore::server {

namespace {

using engine::Op;
using Kind = engine::Op::Kind;

constexpr char kWrongType[] = "WRONGTYPE Operation against a key holding the wrong kind of value";
constexpr char kNotInteger[] = "ERR value is not an integer or out of range";

using resp::Lower;
using resp::Upper;
using resp::WrongArity;

void ErrorFor(const Status& s, std::string* reply) {
  switch (s.code()) {
    case StatusCode::kWrongType:
      return resp::AppendError(reply, kWrongType);
    case StatusCode::kOutOfRange:
      return resp::AppendError(reply, "ERR increment or decrement would overflow");
    default:
      return resp::AppendError(reply,
                               std::string(StatusFor(s.code()).resp_prefix) + " " + s.message());
  }
}

bool ParseInt(std::string_view s, int64_t* n) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *n);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

reply::ObjectReply Describe(const engine::ObjectView& view) {
  return reply::Describe(view.key.name, view.state);
}

// What GET answers for a register: its value, the greatest for an MV register with
// concurrent values; nothing for a cleared one (DEL sets "").
std::optional<std::string> RegisterValue(const reply::ObjectReply& object) {
  if (!object.values) return std::nullopt;
  const std::vector<std::string>& values = *object.values;
  if (values.empty() || (values.size() == 1 && values[0].empty())) return std::nullopt;
  return *std::max_element(values.begin(), values.end());
}

// A counter's value, a set's members: empty for an object of another family.
int64_t CounterValue(const reply::ObjectReply& object) {
  return object.value ? object.SaturatedValue() : 0;
}
std::vector<std::string> Members(reply::ObjectReply object) {
  return object.elements ? std::move(*object.elements) : std::vector<std::string>{};
}

// The op of a counter write (INCR, INCRBY, DECR, DECRBY); false after an error reply.
bool CounterWrite(const resp::Command& cmd, std::string_view name, RespHandler::PendingWrite* w,
                  std::string* reply) {
  const bool by = name.size() == 6;
  if (cmd.size() != (by ? 3u : 2u)) {
    WrongArity(cmd, reply);
    return false;
  }
  int64_t n = 1;
  if (by && (!ParseInt(cmd[2], &n) || n == std::numeric_limits<int64_t>::min())) {
    resp::AppendError(reply, kNotInteger);
    return false;
  }
  if (name[0] == 'D') n = -n;
  w->op.kind = n < 0 ? Kind::kDecrement : Kind::kIncrement;
  w->op.amount = static_cast<uint64_t>(n < 0 ? -n : n);
  w->answer = RespHandler::PendingWrite::Answer::kCounter;
  w->family = v1::COUNTERS;
  return true;
}

// The op of SET; false after an error reply.
bool RegisterWrite(const resp::Command& cmd, RespHandler::PendingWrite* w, std::string* reply) {
  if (cmd.size() < 3) {
    WrongArity(cmd, reply);
    return false;
  }
  if (cmd.size() > 3) {
    resp::AppendError(reply, "ERR SET options (EX, PX, NX, XX, GET, ...) are not supported");
    return false;
  }
  w->op.kind = Kind::kSet;
  w->op.value = cmd[2];
  w->family = v1::REGISTERS;
  return true;
}

// The op of SADD or SREM; false after an error reply.
bool SetWrite(const resp::Command& cmd, std::string_view name, RespHandler::PendingWrite* w,
              std::string* reply) {
  if (cmd.size() < 3) {
    WrongArity(cmd, reply);
    return false;
  }
  w->op.kind = name == "SADD" ? Kind::kAdd : Kind::kRemove;
  w->op.elements.assign(cmd.begin() + 2, cmd.end());
  w->answer = RespHandler::PendingWrite::Answer::kMembers;
  w->family = v1::SETS;
  return true;
}

}  // namespace

RespHandler::RespHandler(engine::Engine* engine, const config::Config& config,
                         security::Authenticator* auth)
    : engine_(engine), config_(config), auth_(auth) {}

std::optional<v1::Family> RespHandler::ElsewhereThan(v1::Family family,
                                                     const std::string& name) const {
  auto elsewhere = engine_->FamilyHolding(name, family);
  return elsewhere.ok() ? *elsewhere : std::nullopt;
}

bool RespHandler::Execute(const std::vector<resp::Command>& commands, Client* client,
                          std::string* out) {
  Pipeline pipeline = Begin(commands, client);
  Apply({&pipeline});
  return Finish(pipeline, out);
}

RespHandler::Pipeline RespHandler::Begin(const std::vector<resp::Command>& commands,
                                         Client* client) {
  Pipeline p;
  p.replies.resize(commands.size());
  size_t& i = p.executed;
  for (; i < commands.size() && p.keep_open; ++i) {
    if (Gate(commands[i], client, &p.replies[i])) continue;
    std::optional<PendingWrite> write = ParseWrite(commands[i], i, &p.replies[i]);
    if (!write) {
      if (!p.replies[i].empty()) continue;  // a write answered at once (an error)
      Flush(&p.pending, &p.replies);
      p.keep_open = RunCommand(commands[i], &p.replies[i]);
      continue;
    }
    // The name's family is checked against the store: writes queued for it in another
    // family land first.
    for (const PendingWrite& w : p.pending) {
      if (w.name == write->name && w.family != write->family) {
        Flush(&p.pending, &p.replies);
        break;
      }
    }
    // A name new to its family and taken in another is refused by the engine (one keyspace).
    write->op.one_keyspace = true;
    p.pending.push_back(std::move(*write));
  }
  return p;
}

void RespHandler::Apply(const std::vector<Pipeline*>& pipelines) {
  if (pipelines.size() == 1) return Flush(&pipelines[0]->pending, &pipelines[0]->replies);
  // One batch: every pipeline's writes, each answered into its own replies.
  std::vector<PendingWrite> all;
  std::vector<std::string> replies;
  std::vector<std::pair<Pipeline*, size_t>> owner;  // of each reply in replies
  for (Pipeline* p : pipelines) {
    for (PendingWrite& w : p->pending) {
      owner.emplace_back(p, w.reply);
      w.reply = replies.size();
      replies.emplace_back();
      all.push_back(std::move(w));
    }
    p->pending.clear();
  }
  Flush(&all, &replies);
  for (size_t k = 0; k < replies.size(); ++k)
    owner[k].first->replies[owner[k].second] = std::move(replies[k]);
}

bool RespHandler::Finish(const Pipeline& pipeline, std::string* out) {
  for (size_t k = 0; k < pipeline.executed; ++k) out->append(pipeline.replies[k]);
  return pipeline.keep_open;
}

std::optional<RespHandler::PendingWrite> RespHandler::ParseWrite(const resp::Command& cmd,
                                                                 size_t index, std::string* reply) {
  const resp::CommandInfo* command = resp::FindCommand(Upper(cmd[0]));
  if (command == nullptr) return std::nullopt;
  PendingWrite w{index, "", v1::FAMILY_UNSPECIFIED, {}, PendingWrite::Answer::kOk};
  bool parsed = false;
  switch (command->kind) {
    case resp::CommandKind::kCounterWrite:
      parsed = CounterWrite(cmd, command->name, &w, reply);
      break;
    case resp::CommandKind::kRegisterWrite:
      parsed = RegisterWrite(cmd, &w, reply);
      break;
    case resp::CommandKind::kSetWrite:
      parsed = SetWrite(cmd, command->name, &w, reply);
      break;
    default:
      return std::nullopt;  // not a batched write
  }
  if (!parsed) return std::nullopt;
  if (Status valid = engine_->ValidateName(cmd[1]); !valid.ok()) {
    ErrorFor(valid, reply);
    return std::nullopt;
  }
  w.name = cmd[1];
  return w;
}

void RespHandler::Flush(std::vector<PendingWrite>* pending, std::vector<std::string>* replies) {
  if (pending->empty()) return;
  std::vector<std::pair<std::string, Op>> ops;
  ops.reserve(pending->size());
  for (PendingWrite& w : *pending) ops.emplace_back(std::move(w.name), std::move(w.op));
  // No state copies: counters answer with counter_value, sets with members_changed.
  const auto results = engine_->ApplyBatch(ops, /*with_state=*/false);
  for (size_t k = 0; k < pending->size(); ++k) {
    const PendingWrite& w = (*pending)[k];
    std::string& reply = (*replies)[w.reply];
    const auto& r = results[k];
    if (!r.ok()) {
      // Removing from a set that does not exist removes nothing.
      if (r.status().code() == StatusCode::kNotFound && ops[k].second.kind == Kind::kRemove) {
        resp::AppendInteger(&reply, 0);
      } else {
        ErrorFor(r.status(), &reply);
      }
      continue;
    }
    switch (w.answer) {
      case PendingWrite::Answer::kCounter:
        resp::AppendInteger(&reply, r->counter_value.value_or(0));
        break;
      case PendingWrite::Answer::kOk:
        resp::AppendSimple(&reply, "OK");
        break;
      case PendingWrite::Answer::kMembers:
        resp::AppendInteger(&reply, r->members_changed);
        break;
    }
  }
  pending->clear();
}

void RespHandler::Get(const std::string& name, std::string* reply, bool nil_on_wrong_type) {
  auto reg = engine_->Read(v1::REGISTERS, name);
  if (reg.ok()) {
    const std::optional<std::string> value = RegisterValue(Describe(*reg));
    return value ? resp::AppendBulk(reply, *value) : resp::AppendNull(reply);
  }
  if (reg.status().code() != StatusCode::kNotFound) return ErrorFor(reg.status(), reply);
  auto counter = engine_->Read(v1::COUNTERS, name);
  if (counter.ok())
    return resp::AppendBulk(reply, std::to_string(CounterValue(Describe(*counter))));
  if (counter.status().code() != StatusCode::kNotFound) return ErrorFor(counter.status(), reply);
  if (!nil_on_wrong_type && ElsewhereThan(v1::REGISTERS, name))
    return resp::AppendError(reply, kWrongType);
  resp::AppendNull(reply);
}

void RespHandler::Del(const resp::Command& cmd, std::string* reply) {
  int64_t emptied = 0;
  for (size_t i = 1; i < cmd.size(); ++i) {
    const std::string& name = cmd[i];
    bool done = false;
    if (auto r = engine_->Read(v1::REGISTERS, name); r.ok() && RegisterValue(Describe(*r))) {
      done = engine_->Apply(name, {.kind = Kind::kSet, .value = ""}).ok();
    }
    if (auto r = engine_->Read(v1::COUNTERS, name); r.ok()) {
      const int64_t value = CounterValue(Describe(*r));
      if (value != 0 && r->type == v1::PN_COUNTER) {
        const Op op{.kind = value > 0 ? Kind::kDecrement : Kind::kIncrement,
                    .amount = static_cast<uint64_t>(value > 0 ? value : -value)};
        done = engine_->Apply(name, op).ok() || done;
      }
    }
    if (auto r = engine_->Read(v1::SETS, name); r.ok()) {
      std::vector<std::string> members = Members(Describe(*r));
      if (!members.empty()) {
        done = engine_->Apply(name, {.kind = Kind::kRemove, .elements = std::move(members)}).ok() ||
               done;
      }
    }
    if (done) ++emptied;
  }
  resp::AppendInteger(reply, emptied);
}

void RespHandler::Info(std::string* reply) {
  std::string info = "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\n";
  info += "geodatastore_node:" + engine_->identity().node_id + "\r\n";
  info += "geodatastore_region:" + config_.node.region + "\r\n";
  info += "tcp_port:" + config_.listen.resp.substr(config_.listen.resp.rfind(':') + 1) + "\r\n";
  info += "\r\n# Replication\r\nrole:master\r\n";
  uint64_t keys = 0;
  for (v1::CrdtType t : crdt::kAllTypes) keys += engine_->store()->KeyCount(t);
  info += "\r\n# Keyspace\r\ndb0:keys=" + std::to_string(keys) + ",expires=0,avg_ttl=0\r\n";
  resp::AppendBulk(reply, info);
}

namespace {

void ConfigCommand(const resp::Command& cmd, std::string* reply) {
  if (cmd.size() < 2) return WrongArity(cmd, reply);
  if (cmd.size() < 3 || Upper(cmd[1]) != "GET")
    return resp::AppendError(reply, "ERR CONFIG " + Upper(cmd[1]) + " is not supported");
  static const std::pair<const char*, const char*> kKnown[] = {
      {"save", ""}, {"appendonly", "no"}, {"databases", "1"}, {"maxmemory", "0"}};
  std::vector<std::pair<std::string, std::string>> found;
  for (size_t i = 2; i < cmd.size(); ++i) {
    for (const auto& [key, value] : kKnown) {
      if (Lower(cmd[i]) == key || cmd[i] == "*") found.emplace_back(key, value);
    }
  }
  resp::AppendArray(reply, 2 * found.size());
  for (const auto& [key, value] : found) {
    resp::AppendBulk(reply, key);
    resp::AppendBulk(reply, value);
  }
}

void ClientCommand(const resp::Command& cmd, std::string* reply) {
  const std::string sub = cmd.size() >= 2 ? Upper(cmd[1]) : "";
  if (sub == "SETNAME" || sub == "SETINFO" || sub == "NO-EVICT" || sub == "NO-TOUCH") {
    resp::AppendSimple(reply, "OK");
  } else if (sub == "GETNAME") {
    resp::AppendNull(reply);
  } else if (sub == "ID") {
    resp::AppendInteger(reply, 1);
  } else {
    resp::AppendError(reply, "ERR unknown subcommand '" + (cmd.size() >= 2 ? cmd[1] : "") +
                                 "'. Try CLIENT SETNAME, GETNAME, SETINFO, ID.");
  }
}

void UnknownCommand(const resp::Command& cmd, std::string* reply) {
  std::string err = "ERR unknown command '" + cmd[0] + "', with args beginning with:";
  for (size_t i = 1; i < cmd.size() && i <= 3; ++i) err += " '" + cmd[i].substr(0, 64) + "'";
  resp::AppendError(reply, err);
}

}  // namespace

void RespHandler::SetRead(const resp::Command& cmd, const std::string& name, std::string* reply) {
  auto s = engine_->Read(v1::SETS, cmd[1]);
  if (!s.ok() && s.status().code() != StatusCode::kNotFound) return ErrorFor(s.status(), reply);
  if (!s.ok() && ElsewhereThan(v1::SETS, cmd[1])) return resp::AppendError(reply, kWrongType);
  const std::vector<std::string> members =
      s.ok() ? Members(Describe(*s)) : std::vector<std::string>{};
  if (name == "SCARD") {
    resp::AppendInteger(reply, static_cast<int64_t>(members.size()));
  } else if (name == "SISMEMBER") {
    resp::AppendInteger(reply, std::binary_search(members.begin(), members.end(), cmd[2]));
  } else {
    resp::AppendArray(reply, members.size());
    for (const std::string& m : members) resp::AppendBulk(reply, m);
  }
}

void RespHandler::ExistsOrType(const resp::Command& cmd, const std::string& name,
                               std::string* reply) {
  int64_t count = 0;
  std::string type = "none";
  for (size_t i = 1; i < cmd.size(); ++i) {
    bool exists = false;
    if (auto r = engine_->Read(v1::REGISTERS, cmd[i]); r.ok()) {
      exists = RegisterValue(Describe(*r)).has_value();
      if (exists) type = "string";
    } else if (auto c = engine_->Read(v1::COUNTERS, cmd[i]); c.ok()) {
      exists = CounterValue(Describe(*c)) != 0;
      if (exists) type = "string";
    } else if (auto s = engine_->Read(v1::SETS, cmd[i]); s.ok()) {
      exists = !Members(Describe(*s)).empty();
      if (exists) type = "set";
    } else if (auto g = engine_->Read(v1::GRAPHS, cmd[i]); g.ok()) {
      exists = true;
      type = "lww_graph";
    }
    count += exists;
  }
  if (name == "TYPE") return resp::AppendSimple(reply, type);
  resp::AppendInteger(reply, count);
}

bool RespHandler::RunCommand(const resp::Command& cmd, std::string* reply) {
  const std::string name = Upper(cmd[0]);
  const size_t argc = cmd.size();
  auto need = [&](bool ok) {
    if (!ok) WrongArity(cmd, reply);
    return ok;
  };
  if (name == "PING") {
    if (!need(argc <= 2)) return true;
    if (argc == 2) {
      resp::AppendBulk(reply, cmd[1]);
    } else {
      resp::AppendSimple(reply, "PONG");
    }
  } else if (name == "ECHO") {
    if (need(argc == 2)) resp::AppendBulk(reply, cmd[1]);
  } else if (name == "GET") {
    if (need(argc == 2)) Get(cmd[1], reply, false);
  } else if (name == "MGET") {
    if (!need(argc >= 2)) return true;
    resp::AppendArray(reply, argc - 1);
    for (size_t i = 1; i < argc; ++i) Get(cmd[i], reply, true);
  } else if (name == "SMEMBERS" || name == "SCARD" || name == "SISMEMBER") {
    if (need(argc == (name == "SISMEMBER" ? 3u : 2u))) SetRead(cmd, name, reply);
  } else if (name == "DEL") {
    if (need(argc >= 2)) Del(cmd, reply);
  } else if (name == "EXISTS" || name == "TYPE") {
    if (need(name == "TYPE" ? argc == 2 : argc >= 2)) ExistsOrType(cmd, name, reply);
  } else if (name == "INFO") {
    Info(reply);
  } else if (name == "SELECT") {
    if (!need(argc == 2)) return true;
    if (cmd[1] == "0") {
      resp::AppendSimple(reply, "OK");
    } else {
      resp::AppendError(reply, "ERR DB index is out of range");
    }
  } else if (name == "QUIT") {
    resp::AppendSimple(reply, "OK");
    return false;
  } else if (name == "COMMAND") {
    if (argc >= 2 && Upper(cmd[1]) == "COUNT") {
      resp::AppendInteger(reply, static_cast<int64_t>(resp::CommandCount()));
    } else {
      resp::AppendArray(reply, 0);  // no command table: clients fall back to plain commands
    }
  } else if (name == "CONFIG") {
    ConfigCommand(cmd, reply);
  } else if (name == "CLIENT") {
    ClientCommand(cmd, reply);
  } else {
    UnknownCommand(cmd, reply);
  }
  return true;
}

}  // namespace geodatastore::server
