#include <asyncore/http/request.h>

#include <array>
#include <stdexcept>
#include <utility>

#include <asyncore/http/uri.h>

namespace asyncore::http {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

// What a byte is to a query scan: most are plain; '&' ends a pair, the first '=' its name, and
// '%' or '+' means that part needs decoding.
enum QueryByte : unsigned char { plain, pair_end, name_end, escape };
constexpr std::array<unsigned char, 256> kQueryBytes = [] {
  std::array<unsigned char, 256> t{};
  t['&'] = pair_end;
  t['='] = name_end;
  t['%'] = t['+'] = escape;
  return t;
}();

// One "name=value" pair of a query string, undecoded, and whether each part has escapes.
struct RawPair {
  std::string_view name;
  std::string_view value;
  bool name_encoded = false;
  bool value_encoded = false;
};

// Calls visit(pair) for each pair of a query string, in one pass over its bytes that also notes
// the escapes (queries are short: a search per '&' and '=' cost more than the bytes).
template <class Visit>
void for_each_query_pair(std::string_view query, Visit&& visit) {
  const char* p = query.data();
  const char* const end = p + query.size();
  while (p != end) {
    const char* name = p;
    const char* eq = nullptr;
    bool escaped = false;  // in the part being read
    RawPair pair;
    for (; p != end; ++p) {
      const unsigned char kind = kQueryBytes[static_cast<unsigned char>(*p)];
      if (kind == plain) continue;
      if (kind == pair_end) break;
      if (kind == escape) {
        escaped = true;
      } else if (!eq) {  // the first '='; later ones are the value's
        eq = p;
        pair.name_encoded = std::exchange(escaped, false);
      }
    }
    const char* end_of_pair = p;
    if (p != end) ++p;  // the '&'
    if (end_of_pair == name) continue;
    if (eq) {
      pair.name = std::string_view(name, static_cast<size_t>(eq - name));
      pair.value = std::string_view(eq + 1, static_cast<size_t>(end_of_pair - eq - 1));
      pair.value_encoded = escaped;
    } else {
      pair.name = std::string_view(name, static_cast<size_t>(end_of_pair - name));
      pair.name_encoded = escaped;
    }
    if (visit(pair)) return;
  }
}

bool decoded_equals(std::string_view raw, bool encoded, std::string_view decoded_name) {
  // Decoding never lengthens a name: a shorter one is told apart without looking at its bytes.
  if (raw.size() < decoded_name.size()) return false;
  if (!encoded) return raw == decoded_name;
  return percent_decoded(raw, true) == decoded_name;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    // Equal bytes (the usual case) cost one test; only a difference asks about case.
    if (a[i] != b[i] && lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string> Request::query(std::string_view name) const {
  std::optional<std::string> found;
  for_each_query_pair(raw_query(), [&](const RawPair& pair) {
    if (!decoded_equals(pair.name, pair.name_encoded, name)) return false;
    found = pair.value_encoded ? percent_decoded(pair.value, true) : std::string(pair.value);
    return true;
  });
  return found;
}

std::string Request::query_or(std::string_view name, std::string_view fallback) const {
  auto value = query(name);
  return value ? std::move(*value) : std::string(fallback);
}

std::vector<std::pair<std::string, std::string>> Request::query_params() const {
  std::vector<std::pair<std::string, std::string>> out;
  for_each_query_pair(raw_query(), [&](const RawPair& pair) {
    out.emplace_back(percent_decoded(pair.name, true), percent_decoded(pair.value, true));
    return false;
  });
  return out;
}

std::string_view Request::param(std::string_view name) const {
  for (const Param& p : params_) {
    if (p.name == name) return p.value;
  }
  return {};
}

std::string_view Request::find_field(const std::string& head, const std::vector<Field>& fields, std::string_view name) {
  for (const Field& f : fields) {
    if (f.name.length == name.size() && iequals(std::string_view(head).substr(f.name.offset, f.name.length), name)) {
      return std::string_view(head).substr(f.value.offset, f.value.length);
    }
  }
  return {};
}

std::string_view Request::header(std::string_view name) const { return find_field(head_, headers_, name); }

bool Request::has_header(std::string_view name) const {
  for (const Field& f : headers_) {
    if (iequals(view(f.name), name)) return true;
  }
  return false;
}

std::pair<std::string_view, std::string_view> Request::header_at(size_t index) const {
  const Field& f = headers_.at(index);
  return {view(f.name), view(f.value)};
}

std::string_view Request::trailer(std::string_view name) const { return find_field(head_, trailers_, name); }

void Request::clear() {
  head_.clear();
  method_ = target_ = path_ = query_ = {};
  headers_.clear();
  trailers_.clear();
  path_storage_.clear();
  decoded_path_ = false;
  version_minor_ = 1;
  keep_alive_ = true;
  params_.clear();
  body_.clear();
}

Request::Span Request::add_text(std::string_view text) {
  Span span{static_cast<uint32_t>(head_.size()), static_cast<uint32_t>(text.size())};
  head_.append(text);
  return span;
}

bool Request::split_target() {
  std::string_view target = view(target_);
  size_t path_start = 0;
  if (target == "*") {
    path_ = target_;
    query_ = {target_.offset + 1, 0};
    return true;
  }
  if (target.empty()) return false;
  if (target[0] != '/') {
    // absolute-form: scheme "://" authority, then the path (RFC 9112 section 3.2.2).
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
    size_t slash = target.find_first_of("/?", scheme_end + 3);
    if (slash == std::string_view::npos) {
      path_ = {target_.offset + static_cast<uint32_t>(target.size()), 0};  // "" is read as "/"
      query_ = path_;
      path_storage_ = "/";
      decoded_path_ = true;
      return true;
    }
    path_start = slash;
  }
  size_t question = target.find('?', path_start);
  size_t path_end = question == std::string_view::npos ? target.size() : question;
  path_ = {target_.offset + static_cast<uint32_t>(path_start), static_cast<uint32_t>(path_end - path_start)};
  query_ = question == std::string_view::npos
               ? Span{target_.offset + static_cast<uint32_t>(target.size()), 0}
               : Span{target_.offset + static_cast<uint32_t>(question + 1),
                      static_cast<uint32_t>(target.size() - question - 1)};
  std::string_view raw = view(path_);
  if (raw.empty()) {
    path_storage_ = "/";
    decoded_path_ = true;
  } else if (raw.find('%') != std::string_view::npos) {
    path_storage_.clear();
    append_percent_decoded(path_storage_, raw, false);
    decoded_path_ = true;
  }
  return true;
}

Request Request::make(std::string_view method, std::string_view target,
                      std::vector<std::pair<std::string, std::string>> headers, std::string body) {
  Request r;
  r.method_ = r.add_text(method);
  r.head_.push_back(' ');
  r.target_ = r.add_text(target);
  r.head_.append(" HTTP/1.1\r\n");
  if (!r.split_target() || find_bad_percent_escape(target) != std::string_view::npos) {
    throw std::invalid_argument("Request::make: bad request target '" + std::string(target) + "'");
  }
  for (const auto& [name, value] : headers) {
    Field f;
    f.name = r.add_text(name);
    r.head_.append(": ");
    f.value = r.add_text(value);
    r.head_.append("\r\n");
    r.headers_.push_back(f);
  }
  r.body_ = std::move(body);
  return r;
}

}  // namespace asyncore::http
