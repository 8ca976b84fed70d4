// libFuzzer target: arbitrary client bytes into a server-side TLS session, the handshake and
// then the record layer, on contexts built by TlsContext::make, so it is our configuration
// that is fuzzed: SNI switching certificates, ALPN selection, tickets sealed with our key
// ring, the session cache, client certificate verification. In memory (memory BIOs), on one
// thread, with no socket.
//
// Input: a 4-byte header, then the client's bytes.
//   byte 0: the server (bits 0-2, see server_for), a small SSL_read buffer (bit 3), and the
//           end of the stream after the last byte (bit 4; else the server closes).
//   bytes 1-3: three cut points, each at byte/256 of the client's bytes: the server is fed
//           in up to four pieces, so record boundaries fall anywhere.
//
// Determinism: OpenSSL draws from a generator reset before every input, and time() is frozen,
// so the key and certificates made at start and the server's every random choice (hello
// random, key shares, signatures, session ids, tickets) are the same in every run. A whole
// recorded session therefore replays past the client's Finished: the seeds session_* (written
// by this binary with VSTREAM_TLS_FUZZ_WRITE_SEEDS=DIR, see corpus/make_tls_seeds.py) reach
// application data, resumption by ticket, client certificates, KeyUpdate and a refused
// renegotiation; the seeds hello_* are first flights captured from real clients. Seeds made by
// another OpenSSL version may draw in another order and stop at the client's Finished.
#include <vstream/tls.hpp>

#include "temp_dir.hpp"
#include "tls/openssl_ptr.hpp"
#include "tls/ticket_keys.hpp"
#include "tls/tls_context.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using vstream::TlsCertificate;
using vstream::TlsOptions;
using vstream::TlsVersion;
using vstream::tls::SslCtxPtr;
using vstream::tls::SslPtr;
using vstream::tls::SslSessionPtr;
using vstream::tls::TicketKeys;
using vstream::tls::TlsContext;
using vstream::tls::X509Ptr;

// A fixed clock for OpenSSL (session times and timeouts, ticket ages, certificate validity),
// as OpenSSL's own fuzz/server.c has: sessions recorded in the seeds never expire. It takes
// the place of libc's time() in the shared libraries too; libFuzzer reads std::chrono.
constexpr std::time_t kNow = 1735689600;  // 2025-01-01T00:00:00Z

extern "C" std::time_t time(std::time_t* t) noexcept {
    if (t != nullptr) *t = kNow;
    return kNow;
}

namespace {

constexpr std::size_t kHeader = 4;

// splitmix64: OpenSSL's randomness while fuzzing. Predictable on purpose.
struct Prng {
    std::uint64_t state = 0;
    std::uint64_t next() noexcept {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        return z ^ (z >> 31);
    }
};

Prng server_rng;          // the fixture's and the server's draws, reset before every input
Prng client_rng;          // the seed writer's client, so the seeds are the same on every run
Prng* rng = &server_rng;  // where OpenSSL draws now

int rand_bytes(unsigned char* out, int n) noexcept {
    for (int i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(rng->next() >> 56);
    return 1;
}

int rand_seed(const void*, int) noexcept { return 1; }
int rand_add(const void*, int, double) noexcept { return 1; }
int rand_status() noexcept { return 1; }

// RAND_set_rand_method is deprecated in OpenSSL 3.0, but RAND_bytes_ex and RAND_priv_bytes_ex
// (which the providers' key generation and signatures call) still obey it, and it takes a
// sixth of the code of a RAND provider.
const RAND_METHOD kRand = {rand_seed, rand_bytes, nullptr, rand_add, rand_bytes, rand_status};

void use_deterministic_rand() {
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
    if (RAND_set_rand_method(&kRand) != 1) throw std::runtime_error("RAND_set_rand_method");
#pragma clang diagnostic pop
}

void reset_server_rng() noexcept {
    server_rng.state = 0x76737472656d31u;  // "vstrem1"
    rng = &server_rng;
}

// libssl is the system's shared library, built without coverage instrumentation: left alone,
// libFuzzer would see only our callbacks and this file. These extra counters (libFuzzer reads
// the section after every input) tell it what OpenSSL did: every record, handshake message
// and alert read or written, with the message before it, the handshake state and the server;
// and every error reason OpenSSL queued.
__attribute__((section("__libfuzzer_extra_counters"))) std::uint8_t openssl_counters[1 << 13];

void count(std::uint64_t feature) noexcept {
    feature *= 0x9e3779b97f4a7c15u;
    std::uint8_t& c = openssl_counters[(feature >> 40) % sizeof openssl_counters];
    if (c != 255) ++c;
}

struct MessageTrace {
    std::uint64_t server = 0;
    std::uint64_t previous = 0;
};

void on_message(int write_p, int version, int content_type, const void* buf, std::size_t len,
                SSL* ssl, void* arg) noexcept {
    auto* trace = static_cast<MessageTrace*>(arg);
    const auto* bytes = static_cast<const std::uint8_t*>(buf);
    std::uint64_t m = static_cast<std::uint64_t>(write_p) << 8 |
                      static_cast<std::uint64_t>(content_type & 0x1ff) << 9 |
                      static_cast<std::uint64_t>(version & 0xffff) << 18;
    // The first byte: a handshake message's type, a record header's content type, an
    // alert's level; and an alert's description.
    if (len > 0) m |= static_cast<std::uint64_t>(bytes[0]) << 34;
    if (len > 1 && content_type == SSL3_RT_ALERT) m |= static_cast<std::uint64_t>(bytes[1]) << 42;
    count(m ^ trace->previous << 1 ^ static_cast<std::uint64_t>(SSL_get_state(ssl)) << 50 ^
          trace->server << 58);
    trace->previous = m;
}

// Counts the error reasons queued since the last call, and clears them.
void count_errors(std::uint64_t server) noexcept {
    while (const unsigned long e = ERR_get_error()) {
        count(0xe000000000000000u ^ static_cast<std::uint64_t>(ERR_GET_LIB(e)) << 32 ^
              static_cast<std::uint64_t>(ERR_GET_REASON(e)) ^ server << 58);
    }
}

void require(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("tls_server_fuzz setup: ") + what);
}

std::string pem(int (*write)(BIO*, const void*), const void* object) {
    const std::unique_ptr<BIO, vstream::tls::OpensslFree<BIO_free>> bio(BIO_new(BIO_s_mem()));
    require(bio && write(bio.get(), object) == 1, "PEM write");
    char* bytes = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &bytes);
    return std::string(bytes, static_cast<std::size_t>(n));
}

int write_cert(BIO* bio, const void* cert) {
    return PEM_write_bio_X509(bio, static_cast<X509*>(const_cast<void*>(cert)));
}

int write_key(BIO* bio, const void* key) {
    return PEM_write_bio_PrivateKey(bio, static_cast<const EVP_PKEY*>(key), nullptr, nullptr, 0,
                                    nullptr, nullptr);
}

// A self-signed certificate of `key` for `cn` with subjectAltName `san`, valid 2024 to 2049
// (fixed dates, so the bytes are the same in every run).
X509Ptr self_signed(EVP_PKEY* key, const char* cn, const char* san, long serial) {
    X509Ptr cert(X509_new());
    require(cert != nullptr, "X509_new");
    X509* x = cert.get();
    require(X509_set_version(x, X509_VERSION_3) == 1, "X509_set_version");
    require(ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1, "serial");
    require(ASN1_TIME_set(X509_getm_notBefore(x), 1704067200) != nullptr, "notBefore");
    require(ASN1_TIME_set(X509_getm_notAfter(x), 2524608000) != nullptr, "notAfter");
    require(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(cn), -1, -1, 0) == 1,
            "subject");
    require(X509_set_issuer_name(x, X509_get_subject_name(x)) == 1, "issuer");
    require(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san);
    require(ext != nullptr, "subjectAltName");
    const int added = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    require(added == 1, "X509_add_ext");
    require(X509_sign(x, key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, vstream::tls::OpensslFree<EVP_PKEY_free>>;

// The servers an input can meet (header byte 0, bits 0-2).
struct Fixture {
    EvpPkeyPtr key;     // the one key of every certificate
    X509Ptr localhost;  // the default: DNS:localhost, IP:127.0.0.1; also the client CA
    X509Ptr a_example;  // DNS:a.example, DNS:*.wild.example (reached by SNI)
    std::shared_ptr<TicketKeys> keys;
    std::array<std::shared_ptr<const TlsContext>, 5> servers;

    Fixture() {
        use_deterministic_rand();
        reset_server_rng();
        key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
        require(key != nullptr, "EVP_PKEY_Q_keygen");
        localhost = self_signed(key.get(), "localhost", "DNS:localhost,IP:127.0.0.1", 1);
        a_example = self_signed(key.get(), "a.example", "DNS:a.example,DNS:*.wild.example", 2);
        // TlsContext::make reads the files and never again: they are gone once it is done
        // (libFuzzer ends a timed run with _Exit, so no destructor at exit would remove them).
        const vstream::test::TempDir dir;
        const std::string key_file = dir.write("key.pem", pem(write_key, key.get()));
        const TlsCertificate local = {dir.write("localhost.pem", pem(write_cert, localhost.get())),
                                      key_file};
        const TlsCertificate a = {dir.write("a_example.pem", pem(write_cert, a_example.get())),
                                  key_file};

        // One ring for every server, its first key made now (from the reset generator), and
        // kept for a week: a ticket in a seed opens in any run.
        keys = std::make_shared<TicketKeys>(std::chrono::hours(24 * 7));
        TlsOptions o;
        o.certificates = {local, a};
        o.ticket_key_rotation = std::chrono::hours(24 * 7);
        TlsOptions mutual = o;  // client certificates, required
        mutual.client_ca_file = local.cert_file;
        TlsOptions optional = mutual;
        optional.require_client_certificate = false;
        TlsOptions tls13 = o;  // TLS 1.3 only, no resumption at all, no ALPN
        tls13.min_version = TlsVersion::tls1_3;
        tls13.session_tickets = false;
        tls13.session_cache_size = 0;
        tls13.alpn.clear();
        TlsOptions cache = o;  // resumption from the session cache only, two protocols
        cache.session_tickets = false;
        cache.alpn = {"h2", "http/1.1"};
        servers = {TlsContext::make(mutual, keys), TlsContext::make(optional, keys),
                   TlsContext::make(tls13, keys), TlsContext::make(cache, keys),
                   TlsContext::make(o, keys)};
        require(keys->for_sealing().has_value(), "first ticket key");
        ERR_clear_error();
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

const TlsContext& server_for(std::uint8_t mode) {
    const std::size_t i = mode & 7u;
    return *fixture().servers[std::min<std::size_t>(i, 4)];  // 4 to 7: the defaults
}

// The server's side of one connection: feed() hands it client bytes and runs it until it
// needs more; what it writes goes to `sink` or nowhere.
class ServerSide {
public:
    ServerSide(const TlsContext& context, std::uint8_t mode)
        : ctx_(context.default_ctx()),
          ssl_(context.new_ssl()),
          read_size_((mode & 8u) != 0 ? 7 : 4096),
          eof_((mode & 16u) != 0) {
        if (!ssl_) return;
        BIO* in = BIO_new(BIO_s_mem());
        BIO* out = BIO_new(BIO_s_mem());
        if (in == nullptr || out == nullptr) {
            BIO_free(in);
            BIO_free(out);
            ssl_.reset();
            return;
        }
        in_ = in;
        out_ = out;
        SSL_set_bio(ssl_.get(), in, out);  // the SSL owns both now
        SSL_set_accept_state(ssl_.get());
        trace_.server = std::min<std::uint64_t>(mode & 7u, 4);
        SSL_set_msg_callback(ssl_.get(), on_message);
        SSL_set_msg_callback_arg(ssl_.get(), &trace_);
    }
    ~ServerSide() {
        ssl_.reset();
        count_errors(trace_.server);
        // Sessions cached by this input must not resume in the next one.
        if (ctx_ != nullptr) SSL_CTX_flush_sessions(ctx_, 0);
    }
    ServerSide(const ServerSide&) = delete;
    ServerSide& operator=(const ServerSide&) = delete;

    bool ok() const noexcept { return ssl_ != nullptr; }
    bool handshaken() const noexcept { return handshaken_; }
    bool resumed() const noexcept { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }
    std::size_t received() const noexcept { return received_; }

    void feed(std::string_view bytes, std::string* sink = nullptr) {
        if (stopped_ || bytes.empty()) return;
        if (BIO_write(in_, bytes.data(), static_cast<int>(bytes.size())) !=
            static_cast<int>(bytes.size())) {
            stopped_ = true;
            return;
        }
        run(sink);
    }

    // The client's stream ends: as an unexpected EOF, or by the server closing (after the
    // client's close_notify too, as a transport answers it).
    void finish(std::string* sink = nullptr) {
        if (eof_ && !stopped_) {
            BIO_set_mem_eof_return(in_, 0);
            run(sink);
        } else if (handshaken_ && (!stopped_ || peer_closed_)) {
            SSL_shutdown(ssl_.get());
            drain(sink);
        }
        count_errors(trace_.server);
    }

private:
    void run(std::string* sink) {
        unsigned char buffer[4096];
        // Each turn makes progress or stops, so this bound is never reached in practice.
        for (int turn = 0; turn < 4096 && !stopped_; ++turn) {
            int r;
            if (!SSL_is_init_finished(ssl_.get())) {
                r = SSL_do_handshake(ssl_.get());
                if (r == 1) handshaken_ = true;
            } else {
                r = SSL_read(ssl_.get(), buffer, read_size_);
                if (r > 0) {
                    received_ += static_cast<std::size_t>(r);
                    if (!answered_) {
                        answered_ = true;
                        constexpr std::string_view kAnswer = "HTTP/1.1 204 No Content\r\n\r\n";
                        SSL_write(ssl_.get(), kAnswer.data(), static_cast<int>(kAnswer.size()));
                    }
                }
            }
            drain(sink);
            if (r > 0) continue;
            const int error = SSL_get_error(ssl_.get(), r);
            peer_closed_ = error == SSL_ERROR_ZERO_RETURN;
            stopped_ = error != SSL_ERROR_WANT_READ;
            break;
        }
        count_errors(trace_.server);
    }

    void drain(std::string* sink) {
        char* bytes = nullptr;
        const long n = BIO_get_mem_data(out_, &bytes);
        if (sink != nullptr && n > 0) sink->append(bytes, static_cast<std::size_t>(n));
        static_cast<void>(BIO_reset(out_));
    }

    SSL_CTX* ctx_;
    MessageTrace trace_;  // before ssl_: the SSL calls on_message with it until freed
    SslPtr ssl_;
    BIO* in_ = nullptr;   // owned by ssl_
    BIO* out_ = nullptr;  // owned by ssl_
    int read_size_;
    bool eof_;
    bool stopped_ = false;      // failed, or closed by the client: no more input
    bool peer_closed_ = false;  // the client's close_notify came
    bool handshaken_ = false;
    bool answered_ = false;
    std::size_t received_ = 0;
};

// Runs one input; returns what the server reached (for the seed writer's check).
struct Outcome {
    bool handshaken = false;
    bool resumed = false;
    std::size_t received = 0;
};

Outcome serve(const std::uint8_t* data, std::size_t size) {
    if (size < kHeader) return {};
    const std::uint8_t mode = data[0];
    const std::string_view client(reinterpret_cast<const char*>(data + kHeader), size - kHeader);
    std::array<std::size_t, 4> cuts = {data[1] * client.size() / 256, data[2] * client.size() / 256,
                                       data[3] * client.size() / 256, client.size()};
    std::sort(cuts.begin(), cuts.end());
    reset_server_rng();
    ServerSide server(server_for(mode), mode);
    if (!server.ok()) return {};
    std::size_t from = 0;
    for (const std::size_t cut : cuts) {
        server.feed(client.substr(from, cut - from));
        from = cut;
    }
    server.finish();
    return {server.handshaken(), server.resumed(), server.received()};
}

// ---- The seed writer: whole sessions from an OpenSSL client, recorded on the client's side.

struct SessionSeed {
    const char* name;
    std::uint8_t mode;  // header byte 0
    int version;        // 0: TLS 1.2 or 1.3
    const char* ciphers = nullptr;
    const char* suites = nullptr;
    const char* groups = nullptr;
    const char* server_name = "localhost";
    std::string_view alpn = std::string_view("\x08http/1.1", 9);
    bool client_certificate = false;
    bool resume = false;  // a first session, then the recorded one resumes it by ticket
    enum { none, key_update, renegotiate } extra = none;
    bool completes = true;
};

void client_turn(SSL* client, int (*step)(SSL*)) {
    rng = &client_rng;
    step(client);
    rng = &server_rng;
    ERR_clear_error();
}

// One connection of `seed`'s client to its server; returns the client's bytes.
std::string connect_once(const SessionSeed& seed, SSL_CTX* client_ctx, SSL_SESSION* resume,
                         SslSessionPtr* session, Outcome* outcome) {
    SslPtr client(SSL_new(client_ctx));
    require(client != nullptr, "SSL_new (client)");
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    require(in != nullptr && out != nullptr, "BIO_new");
    SSL_set_bio(client.get(), in, out);
    SSL_set_connect_state(client.get());
    if (seed.server_name != nullptr) SSL_set_tlsext_host_name(client.get(), seed.server_name);
    if (resume != nullptr) require(SSL_set_session(client.get(), resume) == 1, "SSL_set_session");

    reset_server_rng();
    ServerSide server(server_for(seed.mode), seed.mode);
    require(server.ok(), "server SSL");
    std::string recorded;
    const auto exchange = [&] {
        char* bytes = nullptr;
        const long n = BIO_get_mem_data(out, &bytes);
        const std::string sent(bytes, static_cast<std::size_t>(std::max(n, 0L)));
        static_cast<void>(BIO_reset(out));
        recorded += sent;
        std::string answer;
        server.feed(sent, &answer);
        BIO_write(in, answer.data(), static_cast<int>(answer.size()));
    };
    const auto read_all = [](SSL* c) {
        char buffer[4096];
        while (SSL_read(c, buffer, sizeof buffer) > 0) {
        }
        return 1;
    };
    for (int i = 0; i < 16 && !SSL_is_init_finished(client.get()); ++i) {
        client_turn(client.get(), SSL_do_handshake);
        exchange();
    }
    if (SSL_is_init_finished(client.get())) {
        client_turn(client.get(), [](SSL* c) {
            constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
            return SSL_write(c, kRequest.data(), static_cast<int>(kRequest.size()));
        });
        exchange();
        client_turn(client.get(), read_all);
        if (seed.extra == SessionSeed::key_update) {
            client_turn(client.get(), [](SSL* c) {
                SSL_key_update(c, SSL_KEY_UPDATE_REQUESTED);
                return SSL_write(c, "x", 1);
            });
            exchange();
            client_turn(client.get(), read_all);
        } else if (seed.extra == SessionSeed::renegotiate) {
            client_turn(client.get(), [](SSL* c) {
                SSL_renegotiate(c);
                return SSL_do_handshake(c);
            });
            exchange();
            client_turn(client.get(), read_all);
        }
        client_turn(client.get(), SSL_shutdown);
        exchange();
    }
    if (session != nullptr) session->reset(SSL_get1_session(client.get()));
    server.finish();
    if (outcome != nullptr) *outcome = {server.handshaken(), server.resumed(), server.received()};
    return recorded;
}

int write_session_seed(const SessionSeed& seed, const std::string& dir) {
    client_rng.state = 0xcbf29ce484222325u;  // FNV-1a of the name: each seed its own draws
    for (const char* p = seed.name; *p != '\0'; ++p) {
        client_rng.state = (client_rng.state ^ static_cast<unsigned char>(*p)) * 0x100000001b3u;
    }
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    require(ctx != nullptr, "SSL_CTX_new (client)");
    SSL_CTX* c = ctx.get();
    if (seed.version != 0) {
        SSL_CTX_set_min_proto_version(c, seed.version);
        SSL_CTX_set_max_proto_version(c, seed.version);
    }
    if (seed.ciphers != nullptr) require(SSL_CTX_set_cipher_list(c, seed.ciphers) == 1, "ciphers");
    if (seed.suites != nullptr) require(SSL_CTX_set_ciphersuites(c, seed.suites) == 1, "suites");
    if (seed.groups != nullptr) require(SSL_CTX_set1_groups_list(c, seed.groups) == 1, "groups");
    if (!seed.alpn.empty()) {
        require(SSL_CTX_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(seed.alpn.data()),
                                        static_cast<unsigned int>(seed.alpn.size())) == 0,
                "alpn");
    }
    if (seed.client_certificate) {
        require(SSL_CTX_use_certificate(c, fixture().localhost.get()) == 1 &&
                    SSL_CTX_use_PrivateKey(c, fixture().key.get()) == 1,
                "client certificate");
    }
    SslSessionPtr first;
    if (seed.resume) connect_once(seed, c, nullptr, &first, nullptr);
    Outcome made;
    const std::string client = connect_once(seed, c, first.get(), nullptr, &made);
    std::string bytes(kHeader, '\0');
    bytes[0] = static_cast<char>(seed.mode);
    bytes += client;

    // The seed must replay as it was recorded, or it is worth no more than a ClientHello.
    const Outcome replayed =
        serve(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    const bool as_expected =
        seed.completes ? made.handshaken && made.received > 0 && made.resumed == seed.resume
                       : !made.handshaken;
    if (!as_expected || replayed.handshaken != made.handshaken ||
        replayed.resumed != made.resumed || replayed.received != made.received) {
        std::fprintf(stderr,
                     "%s: recorded handshaken=%d resumed=%d received=%zu, replayed %d %d %zu\n",
                     seed.name, made.handshaken, made.resumed, made.received, replayed.handshaken,
                     replayed.resumed, replayed.received);
        return 1;
    }
    const std::string path = dir + "/" + seed.name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
        std::perror(path.c_str());
        if (f != nullptr) std::fclose(f);
        return 1;
    }
    std::fclose(f);
    std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
    return 0;
}

int write_session_seeds(const std::string& dir) {
    constexpr auto kTls12 = TLS1_2_VERSION;
    constexpr auto kTls13 = TLS1_3_VERSION;
    SessionSeed s[] = {
        {.name = "session_tls13", .mode = 4, .version = kTls13},
        {.name = "session_tls13_chacha",
         .mode = 4,
         .version = kTls13,
         .suites = "TLS_CHACHA20_POLY1305_SHA256"},
        {.name = "session_tls13_aes256",
         .mode = 4,
         .version = kTls13,
         .suites = "TLS_AES_256_GCM_SHA384",
         .groups = "P-384"},
        {.name = "session_tls13_hello_retry", .mode = 4, .version = kTls13, .groups = "X448:P-256"},
        {.name = "session_tls13_sni_wildcard",
         .mode = 4,
         .version = kTls13,
         .server_name = "x.wild.example",
         .alpn = std::string_view("\x02h2", 3)},
        {.name = "session_tls13_resumed", .mode = 4, .version = kTls13, .resume = true},
        {.name = "session_tls13_key_update",
         .mode = 4,
         .version = kTls13,
         .extra = SessionSeed::key_update},
        {.name = "session_tls13_client_cert",
         .mode = 0,
         .version = kTls13,
         .client_certificate = true},
        {.name = "session_tls13_no_client_cert", .mode = 0, .version = kTls13, .completes = false},
        {.name = "session_tls13_optional_client_cert", .mode = 1, .version = kTls13},
        {.name = "session_tls13_only",
         .mode = 2 | 8,
         .version = kTls13,
         .server_name = nullptr,
         .alpn = {}},
        {.name = "session_tls12",
         .mode = 4,
         .version = kTls12,
         .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256",
         .server_name = "a.example"},
        {.name = "session_tls12_chacha",
         .mode = 4,
         .version = kTls12,
         .ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305"},
        {.name = "session_tls12_aes256",
         .mode = 4 | 16,
         .version = kTls12,
         .ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384",
         .groups = "P-256"},
        {.name = "session_tls12_resumed", .mode = 4, .version = kTls12, .resume = true},
        {.name = "session_tls12_renegotiate",
         .mode = 4,
         .version = kTls12,
         .extra = SessionSeed::renegotiate},
        {.name = "session_tls12_client_cert",
         .mode = 0,
         .version = kTls12,
         .client_certificate = true},
        {.name = "session_tls12_cache",
         .mode = 3,
         .version = kTls12,
         .alpn = std::string_view("\x02h2\x08http/1.1", 12)},
        {.name = "session_tls12_refused_by_tls13_only",
         .mode = 2,
         .version = kTls12,
         .completes = false},
    };
    int failed = 0;
    for (const SessionSeed& seed : s) failed |= write_session_seed(seed, dir);
    return failed;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fixture();
    if (const char* dir = std::getenv("VSTREAM_TLS_FUZZ_WRITE_SEEDS")) {
        std::exit(write_session_seeds(dir));
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    serve(data, size);
    return 0;
}
