// The JSON of the admin reports — node status, replication lag, full-sync results — as
// REST answers them (GET /admin/status, GET /admin/replication/lag, POST
// /admin/anti-entropy/full-sync and /admin/sync/regions/{region}) and geoctl --json prints
// them. The reports themselves are the AdminService's reply messages, built once on the node
// (src/server/reports.h): REST and gRPC tell the same thing because REST renders these.
//
// The field names are a documented contract (README, docs/admin.md): renaming one breaks
// dashboards and scripts.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "geodatastore/v1/api.pb.h"

namespace geodatastore::reply {

nlohmann::json StatusJson(const v1::StatusReply& status);
nlohmann::json LagJson(const v1::LagReply& lag);
nlohmann::json FullSyncJson(const v1::FullSyncReply& sync);

}  // namespace geodatastore::reply
