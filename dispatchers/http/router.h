// Router: maps a method and a path pattern to a handler. Patterns are literal segments,
// ":name" parameters (one non-empty segment) and a final "*name" (the rest of the path):
//   router.get("/devices/:imei/commands", handler);    req.param("imei")
//   router.get("/static/*file", handler);               req.param("file") == "css/a.css"
// A handler is any callable of one of these shapes:
//   Response (Request&)                      answers at once
//   void (Request&, Response&)               fills the response at once
//   void (Request&, Responder)               answers later through the Responder
// (const Request& works for each.) A path that matches no route gets 404; one that matches
// only other methods gets 405 with Allow. GET routes also answer HEAD.
#pragma once
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <asyncore/http/request.h>
#include <asyncore/http/responder.h>
#include <asyncore/http/response.h>

namespace asyncore::http {

using SyncHandler = std::function<void(Request&, Response&)>;
using AsyncHandler = std::function<void(Request&, Responder)>;
// Runs before every matched handler; a response refuses the request (e.g. 401), nullopt lets it by.
using Guard = std::function<std::optional<Response>(const Request&)>;

class Router {
 public:
  struct Segment {
    enum Kind { literal, param, rest } kind;
    std::string text;  // the literal, or the parameter's name
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    SyncHandler sync;    // exactly one of these is set
    AsyncHandler async;
  };
  struct Lookup {
    enum Kind { found, not_found, wrong_method } kind = not_found;
    const Route* route = nullptr;
    std::string allow;  // for wrong_method: "GET, HEAD, POST"
  };

  // Adds a route; throws std::invalid_argument for a bad pattern or a duplicate method+pattern.
  template <class Handler>
  Router& route(std::string_view method, std::string_view pattern, Handler&& handler) {
    if constexpr (std::is_invocable_v<Handler&, Request&, Responder>) {
      add(method, pattern, {}, AsyncHandler(std::forward<Handler>(handler)));
    } else if constexpr (std::is_invocable_r_v<Response, Handler&, Request&>) {
      add(method, pattern,
          [h = std::forward<Handler>(handler)](Request& request, Response& response) mutable { response = h(request); },
          {});
    } else if constexpr (std::is_invocable_v<Handler&, Request&, Response&>) {
      add(method, pattern, SyncHandler(std::forward<Handler>(handler)), {});
    } else {
      static_assert(sizeof(Handler) == 0,
                    "a handler takes (Request&) -> Response, (Request&, Response&) or (Request&, Responder)");
    }
    return *this;
  }
  template <class H> Router& get(std::string_view pattern, H&& h) { return route("GET", pattern, std::forward<H>(h)); }
  template <class H> Router& post(std::string_view pattern, H&& h) { return route("POST", pattern, std::forward<H>(h)); }
  template <class H> Router& put(std::string_view pattern, H&& h) { return route("PUT", pattern, std::forward<H>(h)); }
  template <class H> Router& patch(std::string_view pattern, H&& h) { return route("PATCH", pattern, std::forward<H>(h)); }
  template <class H> Router& del(std::string_view pattern, H&& h) { return route("DELETE", pattern, std::forward<H>(h)); }

  // GET (and HEAD) `path` answers this body with this content type, e.g. a page built into the binary.
  Router& static_page(std::string_view path, std::string body, std::string content_type);
  // Adds a guard; guards run in the order added, before any matched handler.
  Router& guard(Guard check);

  // Finds the route for a request and fills its params (decoded).
  Lookup find(Request& request) const;
  // The first guard's refusal, if any.
  std::optional<Response> check_guards(const Request& request) const;
  const std::deque<Route>& routes() const { return routes_; }

 private:
  void add(std::string_view method, std::string_view pattern, SyncHandler sync, AsyncHandler async);
  static bool matches(const Route& route, std::string_view raw_path, std::vector<Request::Param>& params);
  std::deque<Route> routes_;  // a deque: adding a route while serving moves no existing one
  std::vector<Guard> guards_;
};

}  // namespace asyncore::http
