#include <asyncore/http/router.h>

#include <stdexcept>

#include <asyncore/http/uri.h>

namespace asyncore::http {
namespace {

std::vector<Router::Segment> parse_pattern(std::string_view pattern) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("route pattern '" + std::string(pattern) + "': " + why);
  };
  if (pattern.empty() || pattern[0] != '/') throw bad("must start with '/'");
  std::vector<Router::Segment> segments;
  std::string_view rest = pattern.substr(1);
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (!segments.empty() && segments.back().kind == Router::Segment::rest) throw bad("'*' must be the last segment");
    if (!segment.empty() && (segment[0] == ':' || segment[0] == '*')) {
      if (segment.size() == 1) throw bad("a parameter needs a name after '" + std::string(1, segment[0]) + "'");
      for (const auto& s : segments) {
        if (s.kind != Router::Segment::literal && s.text == segment.substr(1)) {
          throw bad("parameter '" + std::string(segment.substr(1)) + "' appears twice");
        }
      }
      segments.push_back({segment[0] == ':' ? Router::Segment::param : Router::Segment::rest, std::string(segment.substr(1))});
    } else {
      segments.push_back({Router::Segment::literal, std::string(segment)});
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return segments;
}

bool has_escape(std::string_view raw) {
  for (char c : raw) {
    if (c == '%') return true;
  }
  return false;
}

bool segment_equals(std::string_view raw, const std::string& literal) {
  if (!has_escape(raw)) return raw == literal;
  return percent_decoded(raw) == literal;
}

std::string decoded_segment(std::string_view raw) { return has_escape(raw) ? percent_decoded(raw) : std::string(raw); }

// Path segments are short: a loop beats a call to memchr.
size_t find_slash(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '/') return i;
  }
  return std::string_view::npos;
}

bool listed(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    size_t comma = allow.find(", ");
    if (allow.substr(0, comma) == method) return true;
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 2);
  }
  return false;
}

void append_allow(std::string& allow, std::string_view method) {
  if (listed(allow, method)) return;
  if (!allow.empty()) allow += ", ";
  allow += method;
}

}  // namespace

void Router::add(std::string_view method, std::string_view pattern, SyncHandler sync, AsyncHandler async) {
  if (method.empty()) throw std::invalid_argument("route '" + std::string(pattern) + "': empty method");
  for (const Route& r : routes_) {
    if (r.method == method && r.pattern == pattern) {
      throw std::invalid_argument("route " + std::string(method) + " " + std::string(pattern) + " is already defined");
    }
  }
  routes_.push_back(Route{std::string(method), std::string(pattern), parse_pattern(pattern), std::move(sync), std::move(async)});
}

Router& Router::static_page(std::string_view path, std::string body, std::string content_type) {
  Response page = Response::content(std::move(body), std::move(content_type));
  return get(path, [page = std::move(page)](const Request&) { return page; });
}

Router& Router::guard(Guard check) {
  if (check) guards_.push_back(std::move(check));
  return *this;
}

std::optional<Response> Router::check_guards(const Request& request) const {
  for (const Guard& g : guards_) {
    if (auto refusal = g(request)) return refusal;
  }
  return std::nullopt;
}

bool Router::matches(const Route& route, std::string_view raw_path, std::vector<Request::Param>& params) {
  params.clear();
  if (raw_path.empty() || raw_path[0] != '/') return false;
  std::string_view rest = raw_path.substr(1);
  const size_t count = route.segments.size();
  for (size_t i = 0; i < count; ++i) {
    const Segment& s = route.segments[i];
    if (s.kind == Segment::rest) {
      params.push_back({s.text, decoded_segment(rest)});
      return true;
    }
    const size_t slash = find_slash(rest);
    const bool last_in_path = slash == std::string_view::npos;
    // More path segments than pattern segments or fewer: no match. A final "*rest" returned above,
    // so "/static" does not match "/static/*file" (the rest needs its slash).
    if (last_in_path != (i + 1 == count)) return false;
    std::string_view segment = rest.substr(0, slash);
    if (s.kind == Segment::literal) {
      if (!segment_equals(segment, s.text)) return false;
    } else {
      if (segment.empty()) return false;
      params.push_back({s.text, decoded_segment(segment)});
    }
    rest = last_in_path ? std::string_view() : rest.substr(slash + 1);
  }
  return true;
}

Router::Lookup Router::find(Request& request) const {
  const std::string_view method = request.method();
  const std::string_view raw_path = request.raw_path();
  Lookup lookup;
  // Routes of the request's method first, in order: matching a path costs far more than
  // comparing a method, and the others only matter for a 405's Allow list.
  for (const Route& route : routes_) {
    if (route.method != method && !(method == "HEAD" && route.method == "GET")) continue;
    if (!matches(route, raw_path, request.params_)) continue;
    lookup.kind = Lookup::found;
    lookup.route = &route;
    return lookup;
  }
  for (const Route& route : routes_) {
    if (!matches(route, raw_path, request.params_)) continue;
    lookup.kind = Lookup::wrong_method;
    append_allow(lookup.allow, route.method);
    if (route.method == "GET") append_allow(lookup.allow, "HEAD");
  }
  request.params_.clear();
  return lookup;
}

}  // namespace asyncore::http
