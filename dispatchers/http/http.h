// The HTTP server in one include: HttpServer, Router, Request, Response, Responder, bearer tokens.
#pragma once
#include <asyncore/http/auth.h>
#include <asyncore/http/parser.h>
#include <asyncore/http/request.h>
#include <asyncore/http/responder.h>
#include <asyncore/http/response.h>
#include <asyncore/http/router.h>
#include <asyncore/http/server.h>
