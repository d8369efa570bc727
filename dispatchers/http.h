// The HTTP server in one include: HttpServer, Router, Request, Response, Responder, bearer tokens.
#pragma once
#include "dispatchers/http_auth.h"
#include "dispatchers/http_parser.h"
#include "dispatchers/http_request.h"
#include "dispatchers/http_responder.h"
#include "dispatchers/http_response.h"
#include "dispatchers/http_router.h"
#include "dispatchers/http_server.h"
