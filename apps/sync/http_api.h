// The web side of the relay: GET / (the page) and the JSON API, with the command port's fields.
//   POST /api/sync {"type":..,"id":..}   GET /api/jobs?limit=N   GET /api/jobs/N
//   GET /api/jobs/N/log?from=K           POST /api/jobs/N/cancel
// Errors are {"ok":false,"error":..} with 400 (bad input), 404 (no such job or type), 409 (the
// job has already ended) or 503 (shutting down).
#pragma once
#include "apps/sync/service.h"
#include <asyncore/http/router.h>

namespace asyncore::sync {

http::Router make_router(SyncService& service);

}  // namespace asyncore::sync
