// xl.cfg parsing in two passes over the text, like libxlu + xl: pass 1 checks
// the syntax of every statement (so a syntax error anywhere is reported
// before any value is looked at) and notes, for each known key, which
// statement sets it last; pass 2 applies the statements that count, in
// order, to the DomainConfig. No statement table is kept: pass 2 re-reads the
// text, and list values are re-lexed from their '[' when applied.
#include "vmm/control/xl_cfg.hpp"

#include <cstdarg>
#include <new>

#include "lib/format.hpp"

namespace vmm {
namespace {

using lib::Error;
using lib::Status;
using lib::StrView;

// Indexed by XlKey.
constexpr const char* key_names[] = {
    "name",     "uuid",        "type",        "builder",   "memory",      "maxmem",        "vcpus",
    "maxvcpus", "cpus",        "cpu_weight",  "cap",       "kernel",      "ramdisk",       "cmdline",
    "root",     "extra",       "on_poweroff", "on_reboot", "on_watchdog", "on_crash",      "on_soft_reset",
    "disk",     "vif",         "serial",      "pause_exits", "directed_yield", "modules",
};
static_assert(sizeof key_names / sizeof key_names[0] == size_t(XlKey::count));

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_ident_start(char c) { return is_alpha(c) || c == '_'; }
constexpr bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }
constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }
constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }
constexpr int hex_value(char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t cstr_len(const char* s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n]) ++n;
    return n;
}

bool equal_ignoring_case(StrView a, StrView b)
{
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

int find_key(StrView name)
{
    for (size_t i = 0; i < size_t(XlKey::count); ++i)
        if (name == StrView(key_names[i])) return int(i);
    return -1;
}

// A piece of input quoted in a message: at most 40 bytes, control bytes
// shown as '?', "..." when cut.
struct Snippet {
    char text[48];
    const char* c_str() const { return text; }
};

Snippet snippet(StrView s)
{
    Snippet out{};
    constexpr size_t keep = 40;
    size_t n = s.size() > keep ? keep : s.size();
    size_t o = 0;
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        out.text[o++] = c < 0x20 || c == 0x7f ? '?' : char(c);
    }
    if (s.size() > keep)
        for (int i = 0; i < 3; ++i) out.text[o++] = '.';
    out.text[o] = '\0';
    return out;
}

void fill_message(CfgMessage& m, CfgLocation where, StrView key, const char* fmt, va_list ap)
{
    m.where = where;
    if (key.size() < sizeof m.key) {
        lib::copy_cstr(m.key, sizeof m.key, key);
    } else {
        // Only the message is cut; the key is shown with a visible marker.
        size_t n = lib::copy_cstr(m.key, sizeof m.key - 3, key);
        m.key[n] = m.key[n + 1] = m.key[n + 2] = '.';
        m.key[n + 3] = '\0';
    }
    lib::vformat(m.text, sizeof m.text, fmt, ap);
}

bool same_message(const CfgMessage& a, const CfgMessage& b)
{
    if (a.where.source != b.where.source || a.where.line != b.where.line) return false;
    return StrView(a.key) == StrView(b.key) && StrView(a.text) == StrView(b.text);
}

// Per-call reporting state: the source being read and the key of the
// statement being read (for messages), and the first error.
class Ctx {
public:
    explicit Ctx(CfgDiagnostics& d) : diag_(d) {}

    uint16_t source = 0;
    StrView key;

    Error fail_at(CfgLocation where, StrView key_name, Error code, const char* fmt, ...)
        __attribute__((format(printf, 5, 6)))
    {
        if (!failed_) {
            va_list ap;
            va_start(ap, fmt);
            fill_message(diag_.error, where, key_name, fmt, ap);
            va_end(ap);
            diag_.has_error = true;
            failed_ = true;
        }
        return code;
    }
    Error fail(uint32_t line, Error code, const char* fmt, ...) __attribute__((format(printf, 4, 5)))
    {
        if (!failed_) {
            va_list ap;
            va_start(ap, fmt);
            fill_message(diag_.error, {source, line}, key, fmt, ap);
            va_end(ap);
            diag_.has_error = true;
            failed_ = true;
        }
        return code;
    }
    void warn_at(CfgLocation where, StrView key_name, const char* fmt, ...) __attribute__((format(printf, 4, 5)))
    {
        CfgMessage m;
        va_list ap;
        va_start(ap, fmt);
        fill_message(m, where, key_name, fmt, ap);
        va_end(ap);
        // The derived-value warnings are re-checked after every override;
        // one copy of each is enough.
        for (size_t i = 0; i < diag_.warning_count; ++i)
            if (same_message(diag_.warnings[i], m)) return;
        if (diag_.warning_count < CfgDiagnostics::max_warnings) diag_.warnings[diag_.warning_count++] = m;
        else ++diag_.warnings_dropped;
    }

private:
    CfgDiagnostics& diag_;
    bool failed_ = false;
};

// ---------------------------------------------------------------- lexer

enum class Tok : uint8_t { end, newline, semicolon, equals, plus_equals, comma, open, close, string, number, word };

struct Token {
    Tok kind = Tok::end;
    StrView text;  // the bytes of the token; strings keep their quotes
    uint32_t line = 0;
};

// "got ..." text for a token.
Snippet describe(const Token& t)
{
    switch (t.kind) {
    case Tok::end: return snippet("the end of the input");
    case Tok::newline: return snippet("the end of the line");
    case Tok::semicolon: return snippet("';'");
    case Tok::equals: return snippet("'='");
    case Tok::plus_equals: return snippet("'+='");
    case Tok::comma: return snippet("','");
    case Tok::open: return snippet("'['");
    case Tok::close: return snippet("']'");
    case Tok::string:
    case Tok::number:
    case Tok::word: break;
    }
    return snippet(t.text);
}

class Lexer {
public:
    Lexer(StrView src, Ctx& ctx) : src_(src), ctx_(ctx) {}

    size_t pos() const { return pos_; }
    uint32_t line() const { return line_; }
    void seek(size_t pos, uint32_t line)
    {
        pos_ = pos;
        line_ = line;
    }

    // Skips spaces and tabs; the next byte, or -1 at the end.
    int peek_after_blanks()
    {
        while (pos_ < src_.size() && is_blank(src_[pos_])) ++pos_;
        return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_]) : -1;
    }

    // A statement's key: everything up to a blank, an operator, a comment,
    // a quote, a bracket or the end of the line, so that a malformed key is
    // reported whole.
    StrView scan_key()
    {
        size_t start = pos_;
        while (pos_ < src_.size()) {
            char c = src_[pos_];
            if (is_blank(c) || c == '=' || c == '+' || c == ';' || c == '#' || c == '"' || c == '\'' || c == '[' ||
                c == ']' || c == ',' || c == '\n' || c == '\r' || c == '\0')
                break;
            ++pos_;
        }
        return src_.substr(start, pos_ - start);
    }

    Status next(Token& t)
    {
        for (;;) {
            while (pos_ < src_.size() && is_blank(src_[pos_])) ++pos_;
            t = Token{};
            t.line = line_;
            if (pos_ >= src_.size()) return {};
            size_t start = pos_;
            char c = src_[pos_];
            switch (c) {
            case '\n':
                ++pos_;
                ++line_;
                t.kind = Tok::newline;
                t.text = src_.substr(start, 1);
                return {};
            case '\r':
                if (pos_ + 1 < src_.size() && src_[pos_ + 1] == '\n') {
                    pos_ += 2;
                    ++line_;
                    t.kind = Tok::newline;
                    t.text = src_.substr(start, 2);
                    return {};
                }
                return ctx_.fail(line_, Error::invalid, "carriage return not followed by a line feed");
            case '#':
                while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r') {
                    if (src_[pos_] == '\0') return nul_byte();
                    ++pos_;
                }
                // A "\r" that does not start "\r\n" is caught as the next token.
                continue;
            case '\0': return nul_byte();
            case ';': return single(t, Tok::semicolon);
            case '=': return single(t, Tok::equals);
            case ',': return single(t, Tok::comma);
            case '[': return single(t, Tok::open);
            case ']': return single(t, Tok::close);
            case '+':
                if (pos_ + 1 < src_.size() && src_[pos_ + 1] == '=') {
                    pos_ += 2;
                    t.kind = Tok::plus_equals;
                    t.text = src_.substr(start, 2);
                    return {};
                }
                return ctx_.fail(line_, Error::invalid, "unexpected character '+'");
            case '"':
            case '\'': return lex_string(t);
            default: break;
            }
            if (is_digit(c) || is_ident_start(c)) {
                // Numbers take letters too so that "512M" is one token and is
                // reported as a bad number rather than a stray letter.
                while (pos_ < src_.size() && is_ident_char(src_[pos_])) ++pos_;
                t.kind = is_digit(c) ? Tok::number : Tok::word;
                t.text = src_.substr(start, pos_ - start);
                return {};
            }
            if (c == '-' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1]))
                return ctx_.fail(line_, Error::invalid, "negative numbers are not allowed");
            unsigned char u = static_cast<unsigned char>(c);
            if (u > 0x20 && u < 0x7f) return ctx_.fail(line_, Error::invalid, "unexpected character '%c'", c);
            return ctx_.fail(line_, Error::invalid, "unexpected byte 0x%02x", u);
        }
    }

private:
    Status single(Token& t, Tok kind)
    {
        t.kind = kind;
        t.text = src_.substr(pos_, 1);
        ++pos_;
        return {};
    }
    Status nul_byte() { return ctx_.fail(line_, Error::invalid, "NUL byte in the configuration text"); }

    // A quoted string: a backslash takes the next byte with it (checked when
    // decoded); a new line or the end before the closing quote is an error.
    Status lex_string(Token& t)
    {
        char quote = src_[pos_];
        size_t i = pos_ + 1;
        for (;;) {
            if (i >= src_.size() || src_[i] == '\n')
                return ctx_.fail(line_, Error::invalid, "unterminated string: no closing %c on this line", quote);
            char c = src_[i];
            if (c == '\0') return nul_byte();
            if (c == '\\') {
                if (i + 1 >= src_.size() || src_[i + 1] == '\n')
                    return ctx_.fail(line_, Error::invalid, "unterminated string: no closing %c on this line", quote);
                if (src_[i + 1] == '\0') return nul_byte();
                i += 2;
                continue;
            }
            ++i;
            if (c == quote) break;
        }
        t.kind = Tok::string;
        t.text = src_.substr(pos_, i - pos_);
        pos_ = i;
        return {};
    }

    StrView src_;
    Ctx& ctx_;
    size_t pos_ = 0;
    uint32_t line_ = 1;
};

// Decodes a string token (quotes included): writes at most cap-1 bytes and a
// NUL to dst (nothing when cap is 0) and sets len to the full decoded length.
Status decode_string(const Token& t, char* dst, size_t cap, size_t& len, Ctx& ctx)
{
    StrView body = t.text.substr(1, t.text.size() >= 2 ? t.text.size() - 2 : 0);
    size_t n = 0;
    auto put = [&](char c) {
        if (n + 1 < cap) dst[n] = c;
        ++n;
    };
    for (size_t i = 0; i < body.size();) {
        char c = body[i++];
        if (c != '\\') {
            put(c);
            continue;
        }
        if (i >= body.size()) return ctx.fail(t.line, Error::invalid, "backslash at the end of a string");
        char e = body[i++];
        switch (e) {
        case '"':
        case '\'':
        case '\\': put(e); break;
        case 'a': put('\a'); break;
        case 'b': put('\b'); break;
        case 'f': put('\f'); break;
        case 'n': put('\n'); break;
        case 'r': put('\r'); break;
        case 't': put('\t'); break;
        case 'v': put('\v'); break;
        case 'x': {
            int hi = i < body.size() ? hex_value(body[i]) : -1;
            int lo = i + 1 < body.size() ? hex_value(body[i + 1]) : -1;
            if (hi < 0 || lo < 0)
                return ctx.fail(t.line, Error::invalid, "bad escape in a string: \\x needs two hex digits");
            i += 2;
            if (hi == 0 && lo == 0)
                return ctx.fail(t.line, Error::invalid, "bad escape in a string: \\x00 would be a NUL byte");
            put(char(hi * 16 + lo));
            break;
        }
        default: {
            if (e < '0' || e > '7') {
                unsigned char u = static_cast<unsigned char>(e);
                if (u > 0x20 && u < 0x7f)
                    return ctx.fail(t.line, Error::invalid, "bad escape in a string: \\%c", e);
                return ctx.fail(t.line, Error::invalid, "bad escape in a string: backslash before byte 0x%02x", u);
            }
            unsigned v = unsigned(e - '0');
            for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k)
                v = v * 8 + unsigned(body[i++] - '0');
            if (v == 0) return ctx.fail(t.line, Error::invalid, "bad escape in a string: \\0 would be a NUL byte");
            if (v > 0377) return ctx.fail(t.line, Error::invalid, "bad escape in a string: octal %o is above \\377", v);
            put(char(v));
            break;
        }
        }
    }
    if (cap) dst[n < cap ? n : cap - 1] = '\0';
    len = n;
    return {};
}

// ----------------------------------------------------------- statements

struct Statement {
    StrView key;
    uint32_t line = 0;  // the key's line
    bool append = false;
    bool is_list = false;
    Token atom;              // the value, when it is not a list
    size_t list_pos = 0;     // just after the '['
    uint32_t list_line = 0;  // the '['s line
};

// Walks the statements of one source, checking their syntax.
class Reader {
public:
    Reader(StrView src, Ctx& ctx) : lex_(src, ctx), ctx_(ctx) {}

    // The next assignment (empty statements are skipped); false at the end.
    lib::Result<bool> next(Statement& st)
    {
        for (;;) {
            ctx_.key = {};
            int c = lex_.peek_after_blanks();
            if (c < 0) return false;
            if (c == '\n' || c == '\r' || c == '#' || c == ';') {
                Token t;
                TRY(lex_.next(t));
                if (t.kind == Tok::end) return false;
                continue;
            }
            st = Statement{};
            st.line = lex_.line();
            StrView key = lex_.scan_key();
            if (key.empty()) {
                Token t;
                TRY(lex_.next(t));
                return ctx_.fail(t.line, Error::invalid, "expected a key at the start of a statement, got %s",
                                 describe(t).c_str());
            }
            if (!valid_key(key))
                return ctx_.fail(st.line, Error::invalid,
                                 "invalid key \"%s\": a key is a letter or '_' followed by letters, digits and '_'",
                                 snippet(key).c_str());
            st.key = key;
            ctx_.key = key;

            Token op;
            TRY(lex_.next(op));
            if (op.kind == Tok::plus_equals) st.append = true;
            else if (op.kind != Tok::equals)
                return ctx_.fail(op.line, Error::invalid, "expected '=' after the key, got %s", describe(op).c_str());

            Token v;
            TRY(lex_.next(v));
            switch (v.kind) {
            case Tok::string: TRY(check_string(v)); [[fallthrough]];
            case Tok::number: st.atom = v; break;
            case Tok::open:
                st.is_list = true;
                st.list_pos = lex_.pos();
                st.list_line = v.line;
                TRY(skip_list(v.line));
                break;
            case Tok::end:
            case Tok::newline:
            case Tok::semicolon: return ctx_.fail(v.line, Error::invalid, "missing value after '='");
            default: return bad_value(v);
            }

            Token end;
            TRY(lex_.next(end));
            if (end.kind != Tok::newline && end.kind != Tok::semicolon && end.kind != Tok::end)
                return ctx_.fail(end.line, Error::invalid, "expected a new line or ';' after the value, got %s",
                                 describe(end).c_str());
            return true;
        }
    }

private:
    static bool valid_key(StrView k)
    {
        if (k.empty() || !is_ident_start(k[0])) return false;
        for (char c : k)
            if (!is_ident_char(c)) return false;
        return true;
    }

    Status check_string(const Token& t)
    {
        size_t len;
        return decode_string(t, nullptr, 0, len, ctx_);
    }

    Error bad_value(const Token& t)
    {
        if (t.kind == Tok::word)
            return ctx_.fail(t.line, Error::invalid,
                             "expected a value (a \"string\", a number or a [list]), got %s (strings need quotes)",
                             describe(t).c_str());
        return ctx_.fail(t.line, Error::invalid, "expected a value (a \"string\", a number or a [list]), got %s",
                         describe(t).c_str());
    }

    // Checks a list after its '[' up to the matching ']'. New lines and
    // comments may appear anywhere inside; a trailing comma is allowed.
    Status skip_list(uint32_t open_line)
    {
        bool want_value = true;  // after '[' or ','
        uint32_t depth = 1;
        for (;;) {
            Token t;
            TRY(lex_.next(t));
            switch (t.kind) {
            case Tok::newline: continue;
            case Tok::end:
                return ctx_.fail(open_line, Error::invalid, "unterminated list: the '[' has no ']' before the end");
            case Tok::string:
            case Tok::number:
            case Tok::open:
                if (!want_value)
                    return ctx_.fail(t.line, Error::invalid, "expected ',' or ']' in the list, got %s",
                                     describe(t).c_str());
                if (t.kind == Tok::string) TRY(check_string(t));
                if (t.kind == Tok::open) ++depth;
                else want_value = false;
                continue;
            case Tok::close:
                if (--depth == 0) return {};
                want_value = false;
                continue;
            case Tok::comma:
                if (want_value) return ctx_.fail(t.line, Error::invalid, "expected a value in the list, got ','");
                want_value = true;
                continue;
            case Tok::word:
                if (!want_value)
                    return ctx_.fail(t.line, Error::invalid, "expected ',' or ']' in the list, got %s",
                                     describe(t).c_str());
                return bad_value(t);
            case Tok::semicolon:
            case Tok::equals:
            case Tok::plus_equals:
                return ctx_.fail(t.line, Error::invalid, "expected a value, ',' or ']' in the list, got %s",
                                 describe(t).c_str());
            }
        }
    }

    Lexer lex_;
    Ctx& ctx_;
};

// The items of a list value already checked by Reader.
class ListCursor {
public:
    ListCursor(StrView src, const Statement& st, Ctx& ctx) : lex_(src, ctx), ctx_(ctx)
    {
        lex_.seek(st.list_pos, st.list_line);
    }

    // The next item; `nested` says it is a list (skipped whole, `item` is
    // its '['). False at the closing ']'.
    lib::Result<bool> next(Token& item, bool& nested)
    {
        for (;;) {
            TRY(lex_.next(item));
            switch (item.kind) {
            case Tok::newline:
            case Tok::comma: continue;
            case Tok::close: return false;
            case Tok::string:
            case Tok::number: nested = false; return true;
            case Tok::open: {
                nested = true;
                Token t;
                for (uint32_t depth = 1; depth;) {
                    TRY(lex_.next(t));
                    if (t.kind == Tok::open) ++depth;
                    else if (t.kind == Tok::close) --depth;
                    else if (t.kind == Tok::end) return internal(item.line);
                }
                return true;
            }
            default: return internal(item.line);
            }
        }
    }

private:
    Error internal(uint32_t line) { return ctx_.fail(line, Error::corrupt, "list changed between passes"); }

    Lexer lex_;
    Ctx& ctx_;
};

// ------------------------------------------------------ value helpers

// xl's numbers: strtol base 0 without sign or blanks (decimal, 0x hex, 0 octal).
lib::Result<uint64_t> parse_xl_number(StrView s)
{
    if (s.size() > 1 && s[0] == '0' && s[1] != 'x' && s[1] != 'X') {
        uint64_t v = 0;
        for (char c : s.substr(1)) {
            if (c < '0' || c > '7') return lib::err(Error::invalid);
            if (v > (UINT64_MAX >> 3)) return lib::err(Error::out_of_range);
            v = v * 8 + uint64_t(c - '0');
        }
        return v;
    }
    return lib::parse_u64(s);
}

// Decimal only, as xl's CPU ranges (strtoul base 10).
lib::Result<uint64_t> parse_decimal(StrView s)
{
    if (s.empty()) return lib::err(Error::invalid);
    uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(c)) return lib::err(Error::invalid);
        if (v > (UINT64_MAX - 9) / 10) return lib::err(Error::out_of_range);
        v = v * 10 + uint64_t(c - '0');
    }
    return v;
}

StrView trim_blanks(StrView s)
{
    size_t b = 0, e = s.size();
    while (b < e && is_blank(s[b])) ++b;
    while (e > b && is_blank(s[e - 1])) --e;
    return s.substr(b, e - b);
}

bool copy_checked(char* dst, size_t cap, StrView v)
{
    if (v.size() >= cap) return false;
    lib::copy_cstr(dst, cap, v);
    return true;
}

bool parse_uuid(StrView s, uint8_t out[16])
{
    // 8-4-4-4-12 hex digits, as libxl_uuid_from_string.
    if (s.size() != 36) return false;
    size_t o = 0;
    for (size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
            ++i;
            continue;
        }
        int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[o++] = uint8_t(hi * 16 + lo);
        i += 2;
    }
    return true;
}

bool parse_mac(StrView s, uint8_t out[6])
{
    // Six groups of two hex digits separated by colons (xl-network-configuration(5)).
    if (s.size() != 17) return false;
    for (size_t g = 0; g < 6; ++g) {
        size_t i = g * 3;
        int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0) return false;
        if (g < 5 && s[i + 2] != ':') return false;
        out[g] = uint8_t(hi * 16 + lo);
    }
    return true;
}

struct NamedAction {
    const char* name;
    ShutdownAction action;
};
constexpr NamedAction actions[] = {
    {"destroy", ShutdownAction::destroy},
    {"restart", ShutdownAction::restart},
    {"rename-restart", ShutdownAction::rename_restart},
    {"preserve", ShutdownAction::preserve},
    {"coredump-destroy", ShutdownAction::coredump_destroy},
    {"coredump-restart", ShutdownAction::coredump_restart},
    {"soft-reset", ShutdownAction::soft_reset},
};

// ----------------------------------------------------- disk and vif specs

// One disk specification string, per xl-disk-configuration(5) and libxlu's
// disk lexer: comma-separated parameters with blanks before each ignored;
// key=value parameters and flags; the deprecated "format:", "script:" and
// ignored prefixes; positional target, format, vdev, access filling the
// slots still empty; target= taking the whole rest of the string.
class DiskSpecParser {
public:
    DiskSpecParser(StrView spec, DiskConfig& d, uint32_t line, Ctx& ctx) : spec_(spec), d_(d), line_(line), ctx_(ctx)
    {
    }

    Status parse()
    {
        d_ = DiskConfig{};
        size_t pos = 0;
        while (pos < spec_.size()) {
            while (pos < spec_.size() && (is_blank(spec_[pos]) || spec_[pos] == '\n')) ++pos;
            if (pos >= spec_.size()) break;
            StrView rest = spec_.substr(pos);
            if (rest.starts_with("target=")) {
                StrView t = rest.substr(7);
                if (t.ends_with(",")) t = t.substr(0, t.size() - 1);
                TRY(save(d_.target, sizeof d_.target, "target", t, &d_.has_target));
                break;
            }
            size_t prefix = 0;
            TRY(deprecated_prefix(rest, prefix));
            if (prefix) {
                pos += prefix;
                continue;
            }
            size_t comma = rest.find(',');
            StrView param = rest.substr(0, comma);
            pos += comma == StrView::npos ? rest.size() : comma + 1;
            TRY(parameter(param));
        }
        return finish();
    }

private:
    Error fail(Error code, const char* what, StrView near = {})
    {
        if (near.data())
            return ctx_.fail(line_, code, "%s: near \"%s\" in \"%s\"", what, snippet(near).c_str(),
                             snippet(spec_).c_str());
        return ctx_.fail(line_, code, "%s in \"%s\"", what, snippet(spec_).c_str());
    }

    // libxlu's SAVESTRING: a second non-empty value is an error; an empty
    // one may be replaced.
    Status save(char* dst, size_t cap, const char* what, StrView v, bool* present = nullptr)
    {
        if (dst[0] != '\0') {
            char msg[48];
            lib::format(msg, sizeof msg, "%s respecified", what);
            return fail(Error::invalid, msg, v);
        }
        if (!copy_checked(dst, cap, v)) {
            char msg[64];
            lib::format(msg, sizeof msg, "%s too long (%zu bytes, at most %zu)", what, v.size(), cap - 1);
            return fail(Error::out_of_range, msg);
        }
        if (present) *present = true;
        return {};
    }

    Status set_format(StrView v)
    {
        DiskFormat f;
        if (v.empty() || v == "raw") f = DiskFormat::raw;
        else if (v == "qcow") f = DiskFormat::qcow;
        else if (v == "qcow2") f = DiskFormat::qcow2;
        else if (v == "vhd" || v == "vpc") f = DiskFormat::vhd;  // vpc: QEMU's name for VHD
        else if (v == "empty") f = DiskFormat::empty;
        else if (v == "qed") f = DiskFormat::qed;
        else return fail(Error::invalid, "unknown value for format", v);
        if (format_set_ && d_.format != f) return fail(Error::invalid, "format respecified", v);
        d_.format = f;
        format_set_ = true;
        return {};
    }

    Status set_access(StrView v)
    {
        if (v == "r" || v == "ro") d_.readwrite = false;
        else if (v == "rw" || v == "w" || v.empty()) d_.readwrite = true;
        else return fail(Error::invalid, "unknown value for access", v);
        return {};
    }

    Status set_backendtype(StrView v)
    {
        DiskBackendType b;
        if (v == "phy") b = DiskBackendType::phy;
        else if (v == "tap") b = DiskBackendType::tap;
        else if (v == "qdisk") b = DiskBackendType::qdisk;
        else if (v == "standalone") b = DiskBackendType::standalone;
        else return fail(Error::invalid, "unknown value for backendtype", v);
        if (d_.backendtype != DiskBackendType::automatic && d_.backendtype != b)
            return fail(Error::invalid, "backendtype respecified", v);
        d_.backendtype = b;
        return {};
    }

    Status set_specification(StrView v)
    {
        DiskSpecification s;
        if (v == "xen") s = DiskSpecification::xen;
        else if (v == "virtio") s = DiskSpecification::virtio;
        else return fail(Error::invalid, "unknown value for specification", v);
        if (specification_set_ && d_.specification != s) return fail(Error::invalid, "specification respecified", v);
        d_.specification = s;
        specification_set_ = true;
        return {};
    }

    // "<vdev>:<devtype>" in the vdev slot (deprecated): true if it was one.
    lib::Result<bool> vdev_and_devtype(StrView v)
    {
        size_t colon = StrView::npos;
        for (size_t i = 0; i < v.size(); ++i)
            if (v[i] == ':') colon = i;
        if (colon == StrView::npos) return false;
        TRY(save(d_.vdev, sizeof d_.vdev, "vdev", v.substr(0, colon)));
        StrView type = v.substr(colon + 1);
        if (type == "cdrom") d_.cdrom = true;
        else if (type == "disk") d_.cdrom = false;
        else return fail(Error::invalid, "unknown deprecated type", type);
        return true;
    }

    // Deprecated "xxx:" prefixes at the start of a parameter. Sets `len` to
    // the bytes consumed (0: none).
    Status deprecated_prefix(StrView rest, size_t& len)
    {
        len = 0;
        size_t n = 0;
        while (n < rest.size() && ((rest[n] >= 'a' && rest[n] <= 'z') || is_digit(rest[n]))) ++n;
        if (n == 0 || !(rest[0] >= 'a' && rest[0] <= 'z') || n >= rest.size() || rest[n] != ':') return {};
        StrView word = rest.substr(0, n);
        if (word == "raw" || word == "qcow" || word == "qcow2" || word == "vhd") {
            had_prefix_ = true;
            TRY(set_format(word));
        } else if (word == "iscsi" || word == "nbd" || word == "enbd" || word == "drbd") {
            had_prefix_ = true;
            char script[16];
            lib::format(script, sizeof script, "block-%.*s", int(word.size()), word.data());
            TRY(save(d_.script, sizeof d_.script, "script", script));
        } else if (word == "tapdisk" || word == "tap" || word == "tap2" || word == "aio" || word == "ioemu" ||
                   word == "file" || word == "phy") {
            had_prefix_ = true;
        } else {
            // libxlu takes "word:" as a prefix only when no letter or digit
            // follows the colon ("hdc:cdrom" is a vdev with a devtype).
            char after = n + 1 < rest.size() ? rest[n + 1] : '\0';
            if ((after >= 'a' && after <= 'z') || is_digit(after)) return {};
            return fail(Error::invalid, "unknown deprecated disk prefix", rest.substr(0, n + 1));
        }
        len = n + 1;
        return {};
    }

    Status parameter(StrView p)
    {
        if (p == "cdrom" || p == "devtype=cdrom") {
            d_.cdrom = true;
            return {};
        }
        if (p == "devtype=disk") {
            d_.cdrom = false;
            return {};
        }
        if (p == "direct-io-safe") {
            d_.direct_io_safe = true;
            return {};
        }
        if (p == "discard" || p == "no-discard") {
            d_.discard = p == "discard" ? Toggle::on : Toggle::off;
            return {};
        }
        if (p == "trusted" || p == "untrusted") {
            d_.trusted = p == "trusted" ? Toggle::on : Toggle::off;
            return {};
        }
        size_t eq = p.find('=');
        if (eq != StrView::npos) {
            StrView key = p.substr(0, eq), v = p.substr(eq + 1);
            if (key == "format") return set_format(v);
            if (key == "devtype") return fail(Error::invalid, "unknown value for devtype", v);
            if (key == "access") return set_access(v);
            if (key == "backend") return save(d_.backend, sizeof d_.backend, "backend", v);
            if (key == "backendtype") return set_backendtype(v);
            if (key == "specification") return set_specification(v);
            if (key == "vdev") return save(d_.vdev, sizeof d_.vdev, "vdev", v);
            if (key == "script") return save(d_.script, sizeof d_.script, "script", v);
            if (key == "event_idx" || key == "ioevent") {
                // Not Xen's (docs/storage.md), for benchmarks as on vifs:
                // whether virtio-blk offers VIRTIO_F_EVENT_IDX, and whether
                // its queue notifications take the doorbell fast path.
                bool& flag = key == "event_idx" ? d_.event_idx : d_.ioevent;
                if (v == "1" || v == "on") flag = true;
                else if (v == "0" || v == "off") flag = false;
                else return fail(Error::invalid, "must be 0, 1, off or on", p);
                return {};
            }
            if (key == "colo" || key.starts_with("colo-") || key == "active-disk" || key == "hidden-disk" ||
                key == "grant_usage")
                return fail(Error::unsupported, "unsupported parameter", p);
            return fail(Error::invalid, "unknown parameter", p);
        }
        if (p == "colo" || p == "no-colo") return fail(Error::unsupported, "unsupported parameter", p);
        return positional(p);
    }

    Status positional(StrView p)
    {
        if (!d_.has_target) return save(d_.target, sizeof d_.target, "target", p, &d_.has_target);
        if (!had_prefix_ && !format_set_) {
            if (d_.target[0] == '\0' && TRY(vdev_and_devtype(p))) {
                d_.format = DiskFormat::empty;
                format_set_ = true;
                return {};
            }
            return set_format(p);
        }
        if (d_.vdev[0] == '\0') {
            if (TRY(vdev_and_devtype(p))) return {};
            return save(d_.vdev, sizeof d_.vdev, "vdev", p);
        }
        if (!access_set_) {
            access_set_ = true;
            return set_access(p);
        }
        return fail(Error::invalid, "too many positional parameters", p);
    }

    Status finish()
    {
        if (d_.cdrom) {
            d_.readwrite = false;
            if (!d_.has_target || d_.target[0] == '\0') d_.format = DiskFormat::empty;
        }
        if (d_.vdev[0] == '\0') return fail(Error::invalid, "no vdev specified");
        if (!d_.has_target && !d_.cdrom) return fail(Error::invalid, "no target specified (and device not removable)");
        return {};
    }

    StrView spec_;
    DiskConfig& d_;
    uint32_t line_;
    Ctx& ctx_;
    bool format_set_ = false;
    bool specification_set_ = false;
    bool access_set_ = false;  // by the positional slot only, as in libxlu
    bool had_prefix_ = false;
};

// One vif specification string: comma-separated key=value pairs, empty
// parts skipped, as xl's parse_nic_config; later keys replace earlier ones.
Status parse_vif_spec(StrView spec, VifConfig& v, uint32_t line, Ctx& ctx)
{
    v = VifConfig{};
    StrView rest = spec;
    while (!rest.empty()) {
        StrView part = trim_blanks(rest.split_first(','));
        if (part.empty()) continue;
        size_t eq = part.find('=');
        StrView key = part.substr(0, eq);
        StrView value = eq == StrView::npos ? StrView() : part.substr(eq + 1);
        char* dst = nullptr;
        size_t cap = 0;
        if (eq == StrView::npos) {
            // A bare flag (trusted, untrusted): not supported here.
        } else if (key == "mac") {
            if (!parse_mac(value, v.mac))
                return ctx.fail(line, Error::invalid,
                                "invalid MAC address \"%s\" (want six hex pairs like 00:16:3e:00:00:01) in \"%s\"",
                                snippet(value).c_str(), snippet(spec).c_str());
            if (v.mac[0] & 1)
                return ctx.fail(line, Error::invalid, "MAC address %s is a multicast address in \"%s\"",
                                snippet(value).c_str(), snippet(spec).c_str());
            bool zero = true;
            for (auto b : v.mac) zero = zero && b == 0;
            if (zero)
                return ctx.fail(line, Error::invalid, "MAC address %s is all zeros in \"%s\"", snippet(value).c_str(),
                                snippet(spec).c_str());
            v.has_mac = true;
            continue;
        } else if (key == "event_idx" || key == "ioevent") {
            // Not Xen's (docs/network.md), for benchmarks: whether the
            // virtio-net device offers VIRTIO_F_EVENT_IDX, and whether its
            // queue notifications take the doorbell fast path.
            bool& flag = key == "event_idx" ? v.event_idx : v.ioevent;
            if (value == "1" || value == "on") flag = true;
            else if (value == "0" || value == "off") flag = false;
            else
                return ctx.fail(line, Error::invalid, "vif %.*s must be 0, 1, off or on, not \"%s\" in \"%s\"",
                                int(key.size()), key.data(), snippet(value).c_str(), snippet(spec).c_str());
            continue;
        } else if (key == "type") {
            if (value == "vif") v.type = VifType::vif;
            else if (value == "ioemu") v.type = VifType::ioemu;
            else
                return ctx.fail(line, Error::invalid, "unknown vif type \"%s\" (vif or ioemu) in \"%s\"",
                                snippet(value).c_str(), snippet(spec).c_str());
            continue;
        } else if (key == "bridge") {
            dst = v.bridge, cap = sizeof v.bridge;
        } else if (key == "model") {
            dst = v.model, cap = sizeof v.model;
        } else if (key == "vifname") {
            dst = v.vifname, cap = sizeof v.vifname;
        } else if (key == "ip") {
            dst = v.ip, cap = sizeof v.ip;
        } else if (key == "script") {
            dst = v.script, cap = sizeof v.script;
        } else if (key == "backend") {
            dst = v.backend, cap = sizeof v.backend;
        }
        if (!dst)
            return ctx.fail(line, eq == StrView::npos ? Error::invalid : Error::unsupported,
                            "unknown or unsupported vif parameter \"%s\" in \"%s\"", snippet(part).c_str(),
                            snippet(spec).c_str());
        if (!copy_checked(dst, cap, value))
            return ctx.fail(line, Error::out_of_range, "vif %.*s too long (%zu bytes, at most %zu) in \"%s\"",
                            int(key.size()), key.data(), value.size(), cap - 1, snippet(spec).c_str());
    }
    return {};
}

// xl's CPU list: comma-separated items, each "all", "<n>" or "<a>-<b>",
// optionally preceded by '^' to remove the CPUs instead; applied left to
// right. NUMA "node:"/"nodes:" items are not supported.
Status parse_cpu_list(StrView list, CpuSet& out, uint32_t line, Ctx& ctx, const char* entry)
{
    out = CpuSet{};
    StrView rest = list;
    while (!rest.empty()) {
        StrView item = trim_blanks(rest.split_first(','));
        if (item.empty()) continue;
        StrView range = item;
        bool remove = range.starts_with("^");
        if (remove) range = range.substr(1);
        if (range.starts_with("node:") || range.starts_with("nodes:"))
            return ctx.fail(line, Error::unsupported, "%sNUMA node selection \"%s\" is not supported", entry,
                            snippet(item).c_str());
        if (range == "all") {
            if (remove) return ctx.fail(line, Error::invalid, "%s\"^all\": '^' cannot be combined with \"all\"", entry);
            out.set_all();
            continue;
        }
        StrView first = range, last = range;
        size_t dash = range.find('-');
        if (dash != StrView::npos) {
            first = range.substr(0, dash);
            last = range.substr(dash + 1);
        }
        auto a = parse_decimal(first);
        auto b = parse_decimal(last);
        if ((!a && a.error() == Error::invalid) || (!b && b.error() == Error::invalid))
            return ctx.fail(line, Error::invalid, "%sinvalid CPU range \"%s\"", entry, snippet(item).c_str());
        if (!a || !b || *a >= xl_max_host_cpus || *b >= xl_max_host_cpus)
            return ctx.fail(line, Error::out_of_range, "%sCPU %s is out of range (at most %u)", entry,
                            snippet(!a || *a >= xl_max_host_cpus ? first : last).c_str(), xl_max_host_cpus - 1);
        if (*b < *a)
            return ctx.fail(line, Error::invalid, "%sinvalid CPU range \"%s\": it ends before it starts", entry,
                            snippet(item).c_str());
        for (uint64_t c = *a; c <= *b; ++c) {
            if (remove) out.clear(unsigned(c));
            else out.set(unsigned(c));
        }
    }
    if (out.empty())
        return ctx.fail(line, Error::invalid, "%sthe CPU list \"%s\" selects no CPU", entry, snippet(list).c_str());
    return {};
}

// ------------------------------------------------------------ pass 2

bool appendable(XlKey k)
{
    switch (k) {
    case XlKey::name:
    case XlKey::kernel:
    case XlKey::ramdisk:
    case XlKey::cmdline:
    case XlKey::root:
    case XlKey::extra:
    case XlKey::disk:
    case XlKey::vif: return true;
    default: return false;
    }
}

class Interpreter {
public:
    Interpreter(DomainConfig& cfg, Ctx& ctx) : cfg_(cfg), ctx_(ctx) {}

    StrView src;  // the source the statements come from

    Status apply(XlKey key, const Statement& st)
    {
        if (st.append && !appendable(key))
            return ctx_.fail(st.line, Error::invalid,
                             "'+=' is not supported for this key (only for text keys and the disk and vif lists)");
        switch (key) {
        case XlKey::name: return set_text(st, cfg_.name, sizeof cfg_.name);
        case XlKey::kernel: return set_text(st, cfg_.kernel, sizeof cfg_.kernel);
        case XlKey::ramdisk: return set_text(st, cfg_.ramdisk, sizeof cfg_.ramdisk);
        case XlKey::cmdline: return set_text(st, cfg_.cmdline, sizeof cfg_.cmdline);
        case XlKey::root: return set_text(st, cfg_.root, sizeof cfg_.root);
        case XlKey::extra: return set_text(st, cfg_.extra, sizeof cfg_.extra);
        case XlKey::uuid: {
            StrView v = TRY(text(TRY(single(st)), sizeof scratch_ - 1));
            if (!parse_uuid(v, cfg_.uuid))
                return ctx_.fail(st.line, Error::invalid,
                                 "expected a UUID like 01234567-89ab-cdef-0123-456789abcdef, got \"%s\"",
                                 snippet(v).c_str());
            cfg_.has_uuid = true;
            return {};
        }
        case XlKey::type:
        case XlKey::builder: return set_type(key, st);
        case XlKey::memory:
        case XlKey::maxmem: {
            // MiB; the byte count must still fit 64 bits.
            uint64_t v = TRY(number(st, 0, UINT64_MAX >> 20));
            (key == XlKey::memory ? cfg_.memory_mib : cfg_.maxmem_mib) = v;
            return {};
        }
        case XlKey::vcpus:
        case XlKey::maxvcpus: {
            uint64_t v = TRY(number(st, 0, UINT32_MAX));
            (key == XlKey::vcpus ? cfg_.vcpus : cfg_.maxvcpus) = uint32_t(v);
            return {};
        }
        case XlKey::cpu_weight: cfg_.cpu_weight = uint32_t(TRY(number(st, 1, 65535))); return {};
        case XlKey::cap:
            // Percent of one CPU; more than every CPU an affinity mask can name is meaningless.
            cfg_.cap = uint32_t(TRY(number(st, 0, 100 * xl_max_host_cpus)));
            return {};
        case XlKey::cpus: return set_cpus(st);
        case XlKey::on_poweroff: return set_action(st, cfg_.on_poweroff);
        case XlKey::on_reboot: return set_action(st, cfg_.on_reboot);
        case XlKey::on_watchdog: return set_action(st, cfg_.on_watchdog);
        case XlKey::on_crash: return set_action(st, cfg_.on_crash);
        case XlKey::on_soft_reset: return set_action(st, cfg_.on_soft_reset);
        case XlKey::disk: return set_disks(st);
        case XlKey::vif: return set_vifs(st);
        case XlKey::serial:
            return set_strings(st, cfg_.serial, xl_max_serials, cfg_.serial_count, "serial devices", false);
        case XlKey::modules: return set_strings(st, cfg_.modules, xl_max_modules, cfg_.module_count, "modules", true);
        case XlKey::pause_exits: cfg_.pause_exits = TRY(number(st, 0, 1, "expected 0 or 1")) != 0; return {};
        case XlKey::directed_yield: cfg_.directed_yield = TRY(number(st, 0, 1, "expected 0 or 1")) != 0; return {};
        case XlKey::count: break;
        }
        return ctx_.fail(st.line, Error::corrupt, "no handler for this key");
    }

private:
    Error nested_list(uint32_t line)
    {
        return ctx_.fail(line, Error::invalid, "expected a string in the list, got a nested [list]");
    }

    lib::Result<Token> single(const Statement& st)
    {
        if (st.is_list) return ctx_.fail(st.line, Error::invalid, "expected a single value, got a [list]");
        return st.atom;
    }

    // An atom's text, decoded into scratch_. Longer than max_len: an error.
    lib::Result<StrView> text(const Token& atom, size_t max_len)
    {
        size_t len = 0;
        if (atom.kind == Tok::number) {
            len = atom.text.size();
            lib::copy_cstr(scratch_, sizeof scratch_, atom.text);
        } else {
            TRY(decode_string(atom, scratch_, sizeof scratch_, len, ctx_));
        }
        if (len > max_len)
            return ctx_.fail(atom.line, Error::out_of_range, "value too long (%zu bytes, at most %zu)", len, max_len);
        return StrView(scratch_, len);
    }

    Status set_text(const Statement& st, char* field, size_t cap)
    {
        Token atom = TRY(single(st));
        if (!st.append) {
            StrView v = TRY(text(atom, cap - 1));
            lib::copy_cstr(field, cap, v);
            return {};
        }
        size_t have = cstr_len(field, cap);
        StrView v = TRY(text(atom, sizeof scratch_ - 1));
        if (have + v.size() > cap - 1)
            return ctx_.fail(atom.line, Error::out_of_range, "value too long after '+=' (%zu bytes, at most %zu)",
                             have + v.size(), cap - 1);
        lib::copy_cstr(field + have, cap - have, v);
        return {};
    }

    lib::Result<uint64_t> number(const Statement& st, uint64_t min, uint64_t max, const char* expected = nullptr)
    {
        Token atom = TRY(single(st));
        size_t len = 0;
        StrView s;
        if (atom.kind == Tok::number) {
            s = atom.text;
        } else {
            TRY(decode_string(atom, scratch_, sizeof scratch_, len, ctx_));
            s = StrView(scratch_, len < sizeof scratch_ ? len : sizeof scratch_ - 1);
        }
        auto v = len < sizeof scratch_ ? parse_xl_number(s) : lib::Result<uint64_t>(Error::invalid);
        if (!v && v.error() == Error::out_of_range)
            return ctx_.fail(atom.line, Error::out_of_range, "number too large: %s", describe(atom).c_str());
        if (!v)
            return ctx_.fail(atom.line, Error::invalid, "%s, got %s", expected ? expected : "expected a number",
                             describe(atom).c_str());
        if (*v < min || *v > max) {
            if (expected)
                return ctx_.fail(atom.line, Error::out_of_range, "%s, got %s", expected, describe(atom).c_str());
            return ctx_.fail(atom.line, Error::out_of_range, "%llu is out of range (%llu..%llu)",
                             (unsigned long long)*v, (unsigned long long)min, (unsigned long long)max);
        }
        return *v;
    }

    Status set_type(XlKey key, const Statement& st)
    {
        StrView v = TRY(text(TRY(single(st)), sizeof scratch_ - 1));
        if (key == XlKey::type) {
            if (v == "pv") cfg_.type = DomainType::pv;
            else if (v == "pvh") cfg_.type = DomainType::pvh;
            else if (v == "hvm") cfg_.type = DomainType::hvm;
            else
                return ctx_.fail(st.line, Error::invalid, "unknown domain type \"%s\" (pv, pvh or hvm)",
                                 snippet(v).c_str());
            return {};
        }
        if (v == "generic") cfg_.builder_type = DomainType::pv;
        else if (v == "hvm") cfg_.builder_type = DomainType::hvm;
        else return ctx_.fail(st.line, Error::invalid, "unknown builder \"%s\" (generic or hvm)", snippet(v).c_str());
        return {};
    }

    Status set_action(const Statement& st, ShutdownAction& out)
    {
        StrView v = TRY(text(TRY(single(st)), sizeof scratch_ - 1));
        for (const auto& a : actions)
            if (v == StrView(a.name)) {
                out = a.action;
                return {};
            }
        return ctx_.fail(st.line, Error::invalid,
                         "unknown action \"%s\" (destroy, restart, rename-restart, preserve, coredump-destroy, "
                         "coredump-restart or soft-reset)",
                         snippet(v).c_str());
    }

    Status set_cpus(const Statement& st)
    {
        CpuAffinity& a = cfg_.cpus;
        a = CpuAffinity{};
        if (!st.is_list) {
            StrView v = TRY(text(st.atom, sizeof scratch_ - 1));
            TRY(parse_cpu_list(v, a.all_vcpus, st.atom.line, ctx_, ""));
            a.pinned = true;
            return {};
        }
        ListCursor items(src, st, ctx_);
        Token item;
        bool nested = false;
        while (TRY(items.next(item, nested))) {
            if (nested) return nested_list(item.line);
            if (a.per_vcpu_count >= xl_max_vcpus)
                return ctx_.fail(item.line, Error::out_of_range, "too many entries (at most %u, one per vCPU)",
                                 xl_max_vcpus);
            StrView v = TRY(text(item, sizeof scratch_ - 1));
            char entry[24];
            lib::format(entry, sizeof entry, "vCPU %u: ", a.per_vcpu_count);
            TRY(parse_cpu_list(v, a.per_vcpu[a.per_vcpu_count], item.line, ctx_, entry));
            a.all_vcpus |= a.per_vcpu[a.per_vcpu_count];
            ++a.per_vcpu_count;
        }
        a.pinned = a.per_vcpu_count > 0;
        return {};
    }

    // The items of a list of specification strings; `fn` parses one.
    template <typename Fn> Status for_each_spec(const Statement& st, size_t& count, size_t max, const char* what, Fn fn)
    {
        if (!st.is_list)
            return ctx_.fail(st.atom.line, Error::invalid, "expected a [list] of %s specifications, got %s", what,
                             describe(st.atom).c_str());
        if (!st.append) count = 0;
        ListCursor items(src, st, ctx_);
        Token item;
        bool nested = false;
        while (TRY(items.next(item, nested))) {
            if (nested) return nested_list(item.line);
            if (count >= max) return ctx_.fail(item.line, Error::out_of_range, "too many %ss (at most %zu)", what, max);
            StrView spec = TRY(text(item, sizeof scratch_ - 1));
            TRY(fn(spec, count, item.line));
            ++count;
        }
        return {};
    }

    Status set_disks(const Statement& st)
    {
        return for_each_spec(st, cfg_.disk_count, xl_max_disks, "disk", [&](StrView spec, size_t i, uint32_t line) {
            return DiskSpecParser(spec, cfg_.disks[i], line, ctx_).parse();
        });
    }

    Status set_vifs(const Statement& st)
    {
        return for_each_spec(st, cfg_.vif_count, xl_max_vifs, "vif", [&](StrView spec, size_t i, uint32_t line) {
            return parse_vif_spec(spec, cfg_.vifs[i], line, ctx_);
        });
    }

    // A string or a list of strings into `out` (at most `max`): serial =
    // "DEVICE" or [ "DEVICE", ... ] (xl.cfg(5)), modules = [ "PATH [CMDLINE]",
    // ... ]. `what` names the items in the too-many error; `name_needed`
    // refuses empty list entries.
    Status set_strings(const Statement& st, char (*out)[xl_path_size], size_t max, size_t& count, const char* what,
                       bool name_needed)
    {
        count = 0;
        if (!st.is_list) {
            StrView v = TRY(text(st.atom, xl_path_size - 1));
            lib::copy_cstr(out[0], xl_path_size, v);
            count = 1;
            return {};
        }
        ListCursor items(src, st, ctx_);
        Token item;
        bool nested = false;
        while (TRY(items.next(item, nested))) {
            if (nested) return nested_list(item.line);
            if (count >= max) return ctx_.fail(item.line, Error::out_of_range, "too many %s (at most %zu)", what, max);
            StrView v = TRY(text(item, xl_path_size - 1));
            if (name_needed && v.empty()) return ctx_.fail(item.line, Error::invalid, "a module needs a file name");
            lib::copy_cstr(out[count++], xl_path_size, v);
        }
        return {};
    }

    DomainConfig& cfg_;
    Ctx& ctx_;
    char scratch_[xl_cmdline_size];  // decoded string values; no field is longer
};

// Values that depend on several keys, recomputed after every change.
Status finish(DomainConfig& c, Ctx& ctx)
{
    auto where = [&](XlKey k) { return c.origin[size_t(k)]; };
    if (c.given(XlKey::builder)) {
        if (c.given(XlKey::type) && c.type != c.builder_type)
            return ctx.fail_at(where(XlKey::builder), "builder", Error::invalid,
                               "builder \"%s\" contradicts type \"%s\"",
                               c.builder_type == DomainType::pv ? "generic" : domain_type_name(c.builder_type),
                               domain_type_name(c.type));
        c.type = c.builder_type;
    } else if (!c.given(XlKey::type)) {
        c.type = DomainType::pv;
    }

    if (!c.given(XlKey::memory)) c.memory_mib = c.given(XlKey::maxmem) ? c.maxmem_mib : xl_default_memory_mib;
    if (!c.given(XlKey::maxmem)) c.maxmem_mib = c.memory_mib;
    if (!c.given(XlKey::maxvcpus)) c.maxvcpus = c.vcpus;

    bool root = c.given(XlKey::root), extra = c.given(XlKey::extra);
    size_t n = 0;
    if (c.given(XlKey::cmdline)) {
        n = lib::format(c.kernel_cmdline, sizeof c.kernel_cmdline, "%s", c.cmdline);
        if (root || extra)
            ctx.warn_at(where(XlKey::cmdline), "cmdline", "ignoring root and extra in favour of cmdline");
    } else if (root && extra) {
        n = lib::format(c.kernel_cmdline, sizeof c.kernel_cmdline, "root=%s %s", c.root, c.extra);
    } else if (root) {
        n = lib::format(c.kernel_cmdline, sizeof c.kernel_cmdline, "root=%s", c.root);
    } else {
        n = lib::format(c.kernel_cmdline, sizeof c.kernel_cmdline, "%s", c.extra);
    }
    if (n >= sizeof c.kernel_cmdline)
        return ctx.fail_at(where(root ? XlKey::root : XlKey::extra), root ? "root" : "extra", Error::out_of_range,
                           "the kernel command line \"root=<root> <extra>\" would be %zu bytes, at most %zu", n,
                           sizeof c.kernel_cmdline - 1);
    return {};
}

struct KeyTrack {
    bool assigned = false;  // some statement sets it with '='
    uint32_t ordinal = 0;   // the last such statement
    CfgLocation where;
};

// The texts one call reads, in order: optionally the file, then overrides.
// Entry i is numbered first_number + i in diagnostics.
struct SourceList {
    const StrView* file = nullptr;
    const StrView* overrides = nullptr;
    size_t override_count = 0;
    uint16_t first_number = 0;

    size_t size() const { return (file ? 1 : 0) + override_count; }
    StrView at(size_t i) const
    {
        if (file) {
            if (i == 0) return *file;
            --i;
        }
        return overrides[i];
    }
};

// Runs both passes over all of `sources`, then recomputes derived values.
Status run(const SourceList& sources, DomainConfig& cfg, Ctx& ctx)
{
    size_t count = sources.size();
    const uint16_t first_number = sources.first_number;
    KeyTrack track[size_t(XlKey::count)];
    Statement st;

    uint32_t ordinal = 0;
    for (size_t i = 0; i < count; ++i) {
        ctx.source = uint16_t(first_number + i);
        Reader reader(sources.at(i), ctx);
        while (TRY(reader.next(st))) {
            ++ordinal;
            int k = find_key(st.key);
            if (k >= 0 && !st.append) track[k] = {true, ordinal, {ctx.source, st.line}};
        }
    }

    Interpreter interp(cfg, ctx);
    ordinal = 0;
    for (size_t i = 0; i < count; ++i) {
        ctx.source = uint16_t(first_number + i);
        interp.src = sources.at(i);
        Reader reader(sources.at(i), ctx);
        while (TRY(reader.next(st))) {
            ++ordinal;
            int k = find_key(st.key);
            CfgLocation here{ctx.source, st.line};
            if (k < 0) {
                const char* hint = nullptr;
                for (auto name : key_names)
                    if (equal_ignoring_case(st.key, name)) hint = name;
                if (hint) ctx.warn_at(here, st.key, "unknown key, ignored (keys are case-sensitive: \"%s\"?)", hint);
                else ctx.warn_at(here, st.key, "unknown key, ignored");
                continue;
            }
            if (track[k].assigned && ordinal < track[k].ordinal) {
                // Replaced by a later '='. An override replacing the file is
                // what overrides are for; a repeat in the same source is
                // probably a mistake.
                if (track[k].where.source == ctx.source)
                    ctx.warn_at(here, st.key, "set again on line %u; the last setting wins", track[k].where.line);
                continue;
            }
            TRY(interp.apply(XlKey(k), st));
            cfg.origin[k] = here;
        }
    }
    ctx.key = {};
    return finish(cfg, ctx);
}

void reset(DomainConfig& cfg)
{
    // In place, without a 16 KiB temporary on the stack.
    cfg.~DomainConfig();
    new (&cfg) DomainConfig();
}

// Names in validation messages: "disk 2 (xvdb)".
struct DiskName {
    char text[48];
};
DiskName disk_name(const DomainConfig& c, size_t i)
{
    DiskName n;
    lib::format(n.text, sizeof n.text, "disk %zu (%s)", i + 1, snippet(c.disks[i].vdev).c_str());
    return n;
}

// xen-vbd-interface(7) names: hd[a-d], sd[a-p] and xvd<letters>, each with
// an optional partition number, or d<N>[p<N>].
bool valid_vdev(StrView v)
{
    auto digits = [](StrView s) {
        if (s.empty() || s.size() > 7 || s[0] == '0') return false;
        for (char c : s)
            if (!is_digit(c)) return false;
        return true;
    };
    auto letters_then_partition = [&](StrView s, char last_letter, size_t max_letters) {
        size_t n = 0;
        while (n < s.size() && s[n] >= 'a' && s[n] <= 'z') {
            if (s[n] > last_letter) return false;
            ++n;
        }
        if (n == 0 || n > max_letters) return false;
        return n == s.size() || digits(s.substr(n));
    };
    if (v.starts_with("xvd")) return letters_then_partition(v.substr(3), 'z', 4);
    if (v.starts_with("hd")) return letters_then_partition(v.substr(2), 'd', 1);
    if (v.starts_with("sd")) return letters_then_partition(v.substr(2), 'p', 1);
    if (v.starts_with("d")) {
        StrView rest = v.substr(1);
        size_t p = rest.find('p');
        if (p == StrView::npos) return digits(rest) || rest == "0";
        StrView disk = rest.substr(0, p);
        return (digits(disk) || disk == "0") && digits(rest.substr(p + 1));
    }
    return false;
}

}  // namespace

const char* xl_key_name(XlKey key) { return key < XlKey::count ? key_names[size_t(key)] : "?"; }

const char* domain_type_name(DomainType t)
{
    switch (t) {
    case DomainType::pv: return "pv";
    case DomainType::pvh: return "pvh";
    case DomainType::hvm: return "hvm";
    }
    return "?";
}

const char* shutdown_action_name(ShutdownAction a)
{
    for (const auto& n : actions)
        if (n.action == a) return n.name;
    return "?";
}

const char* disk_format_name(DiskFormat f)
{
    switch (f) {
    case DiskFormat::raw: return "raw";
    case DiskFormat::qcow: return "qcow";
    case DiskFormat::qcow2: return "qcow2";
    case DiskFormat::vhd: return "vhd";
    case DiskFormat::qed: return "qed";
    case DiskFormat::empty: return "empty";
    }
    return "?";
}

lib::Status parse_xl_cfg(lib::StrView text, DomainConfig& out, CfgDiagnostics& diag)
{
    return parse_xl_cfg(text, nullptr, 0, out, diag);
}

lib::Status parse_xl_cfg(lib::StrView text, const lib::StrView* overrides, size_t override_count, DomainConfig& out,
                         CfgDiagnostics& diag)
{
    diag.clear();
    reset(out);
    Ctx ctx(diag);
    if (override_count > UINT16_MAX)
        return ctx.fail_at({}, "", Error::out_of_range, "too many overrides (at most %u)", unsigned(UINT16_MAX));
    SourceList sources;
    sources.file = &text;
    sources.overrides = overrides;
    sources.override_count = override_count;
    return run(sources, out, ctx);
}

lib::Status apply_xl_cfg_override(lib::StrView key_equals_value, DomainConfig& out, CfgDiagnostics& diag,
                                  uint16_t override_number)
{
    diag.has_error = false;
    diag.error = CfgMessage{};
    Ctx ctx(diag);
    SourceList sources;
    sources.overrides = &key_equals_value;
    sources.override_count = 1;
    sources.first_number = override_number;
    return run(sources, out, ctx);
}

lib::Status validate_domain_config(const DomainConfig& c, CfgDiagnostics& diag)
{
    diag.has_error = false;
    diag.error = CfgMessage{};
    Ctx ctx(diag);
    auto where = [&](XlKey k) { return c.origin[size_t(k)]; };

    if (c.name[0] == '\0')
        return ctx.fail_at(where(XlKey::name), "name", Error::invalid,
                           c.given(XlKey::name) ? "the domain name is empty"
                                                : "a domain name is required (name = \"...\")");
    if ((c.type == DomainType::pv || c.type == DomainType::pvh) && c.kernel[0] == '\0')
        return ctx.fail_at(where(c.given(XlKey::kernel) ? XlKey::kernel : XlKey::type), "kernel", Error::invalid,
                           "a %s guest needs a kernel (kernel = \"/path/to/image\")", domain_type_name(c.type));
    if (c.memory_mib == 0)
        return ctx.fail_at(where(XlKey::memory), "memory", Error::invalid, "memory must be more than 0 MiB");
    if (c.maxmem_mib < c.memory_mib)
        return ctx.fail_at(where(XlKey::maxmem), "maxmem", Error::invalid,
                           "maxmem (%llu MiB) is less than memory (%llu MiB)", (unsigned long long)c.maxmem_mib,
                           (unsigned long long)c.memory_mib);
    if (c.vcpus < 1 || c.vcpus > xl_max_vcpus)
        return ctx.fail_at(where(XlKey::vcpus), "vcpus", Error::out_of_range, "vcpus must be 1..%u, got %u",
                           xl_max_vcpus, c.vcpus);
    if (c.maxvcpus < c.vcpus)
        return ctx.fail_at(where(XlKey::maxvcpus), "maxvcpus", Error::invalid, "maxvcpus (%u) is less than vcpus (%u)",
                           c.maxvcpus, c.vcpus);
    if (c.maxvcpus > xl_max_vcpus)
        return ctx.fail_at(where(XlKey::maxvcpus), "maxvcpus", Error::out_of_range,
                           "maxvcpus must be at most %u, got %u", xl_max_vcpus, c.maxvcpus);
    if (c.cpus.per_vcpu_count > c.maxvcpus)
        ctx.warn_at(where(XlKey::cpus), "cpus", "%u entries for %u vCPUs; the extra entries are ignored",
                    c.cpus.per_vcpu_count, c.maxvcpus);

    for (size_t i = 0; i < c.disk_count; ++i) {
        const DiskConfig& d = c.disks[i];
        if (d.format == DiskFormat::qcow || d.format == DiskFormat::qed)
            return ctx.fail_at(where(XlKey::disk), "disk", Error::unsupported,
                               "%s: format %s is not supported (raw, qcow2 or vhd)", disk_name(c, i).text,
                               disk_format_name(d.format));
        if (!d.cdrom && d.target[0] == '\0')
            return ctx.fail_at(where(XlKey::disk), "disk", Error::invalid, "%s: a disk needs a target",
                               disk_name(c, i).text);
        if (!valid_vdev(d.vdev))
            return ctx.fail_at(where(XlKey::disk), "disk", Error::invalid,
                               "%s: \"%s\" is not a virtual device name like xvda, hda, sda or d0p1",
                               disk_name(c, i).text, snippet(d.vdev).c_str());
        for (size_t j = 0; j < i; ++j)
            if (StrView(c.disks[j].vdev) == StrView(d.vdev))
                return ctx.fail_at(where(XlKey::disk), "disk", Error::invalid, "%s: vdev also used by disk %zu",
                                   disk_name(c, i).text, j + 1);
    }
    for (size_t i = 0; i < c.vif_count; ++i) {
        if (!c.vifs[i].has_mac) continue;
        for (size_t j = 0; j < i; ++j) {
            if (!c.vifs[j].has_mac) continue;
            bool same = true;
            for (size_t b = 0; b < 6; ++b) same = same && c.vifs[i].mac[b] == c.vifs[j].mac[b];
            if (same)
                return ctx.fail_at(where(XlKey::vif), "vif", Error::invalid,
                                   "vif %zu: MAC address also used by vif %zu", i + 1, j + 1);
        }
    }
    return {};
}

namespace {

// The words joined with commas into `buf`; false if they do not fit.
bool join_words(const lib::StrView* words, size_t n, char* buf, size_t cap, size_t& len)
{
    // A word that already ends the parameter ("format=raw,") needs no
    // second comma: that would be an empty (positional) parameter.
    len = 0;
    for (size_t i = 0; i < n; ++i) {
        if (words[i].empty()) continue;
        if (len + words[i].size() + 2 > cap) return false;
        if (len && buf[len - 1] != ',') buf[len++] = ',';
        __builtin_memcpy(buf + len, words[i].data(), words[i].size());
        len += words[i].size();
    }
    buf[len] = '\0';
    return true;
}

}  // namespace

lib::Status parse_disk_spec(const lib::StrView* words, size_t n, DiskConfig& out, CfgDiagnostics& diag)
{
    diag.clear();
    Ctx ctx(diag);
    ctx.key = "disk";
    static char buf[2 * xl_path_size];  // the shell thread is the only caller
    size_t len = 0;
    out = DiskConfig{};
    if (!join_words(words, n, buf, sizeof buf, len))
        return ctx.fail(0, Error::out_of_range, "disk specification too long (at most %zu bytes)", sizeof buf - 1);
    return DiskSpecParser(StrView(buf, len), out, 0, ctx).parse();
}

lib::Status parse_vif_spec(const lib::StrView* words, size_t n, VifConfig& out, CfgDiagnostics& diag)
{
    diag.clear();
    Ctx ctx(diag);
    ctx.key = "vif";
    static char buf[2 * xl_path_size];
    size_t len = 0;
    out = VifConfig{};
    if (!join_words(words, n, buf, sizeof buf, len))
        return ctx.fail(0, Error::out_of_range, "vif specification too long (at most %zu bytes)", sizeof buf - 1);
    return parse_vif_spec(StrView(buf, len), out, 0, ctx);
}

bool parse_mac_address(lib::StrView s, uint8_t out[6]) { return parse_mac(s, out); }

size_t format_cfg_message(const CfgMessage& m, char* buf, size_t n)
{
    char where[48];
    if (m.where.source == 0) {
        if (m.where.line) lib::format(where, sizeof where, "config line %u", m.where.line);
        else lib::format(where, sizeof where, "config");
    } else {
        if (m.where.line) lib::format(where, sizeof where, "override %u line %u", m.where.source, m.where.line);
        else lib::format(where, sizeof where, "override %u", m.where.source);
    }
    if (m.key[0]) return lib::format(buf, n, "%s: %s: %s", where, m.key, m.text);
    return lib::format(buf, n, "%s: %s", where, m.text);
}

CpuSet vcpu_hard_affinity(const DomainConfig& cfg, uint32_t vcpu)
{
    CpuSet all;
    all.set_all();
    const CpuAffinity& a = cfg.cpus;
    if (!a.pinned) return all;
    if (a.per_vcpu_count == 0) return a.all_vcpus;
    return vcpu < a.per_vcpu_count ? a.per_vcpu[vcpu] : all;
}


void default_vif_mac(lib::StrView domain_name, size_t vif_index, uint8_t out[6], unsigned attempt)
{
    // FNV-1a over the name, then the index and attempt as bytes.
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < domain_name.size(); ++i) h = (h ^ uint8_t(domain_name[i])) * 16777619u;
    for (uint32_t v : {uint32_t(vif_index), uint32_t(attempt)})
        for (int k = 0; k < 4; ++k) h = (h ^ uint8_t(v >> (8 * k))) * 16777619u;
    h ^= h >> 16;  // fold the better-mixed high bits into the bytes kept
    out[0] = 0x00;
    out[1] = 0x16;
    out[2] = 0x3e;
    out[3] = uint8_t(h >> 16) & 0x7f;  // as libxl: the top bit of the fourth byte clear
    out[4] = uint8_t(h >> 8);
    out[5] = uint8_t(h);
}

void vif_mac(const DomainConfig& cfg, size_t i, uint8_t out[6])
{
    if (i < cfg.vif_count && cfg.vifs[i].has_mac) {
        __builtin_memcpy(out, cfg.vifs[i].mac, 6);
        return;
    }
    default_vif_mac(lib::StrView(cfg.name), i, out);
}

}  // namespace vmm
