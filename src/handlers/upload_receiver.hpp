#pragma once

#include <vstream/upload.hpp>

#include "crypto/sha256.hpp"
#include "files/upload_sink.hpp"
#include "http/multipart.hpp"

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace vstream::handlers {

/// Stores one request body as files, as it arrives (Context::receive_upload): every file part
/// of a multipart/form-data body in its own temporary file, non-file fields in memory up to
/// a limit, or a raw body whole in one file; SHA-256 of each file on the way, and of the
/// whole body when the client sent a digest to check. finish() names every file at once;
/// abort() leaves nothing behind. Loop-thread use; not movable (its sinks refer to dir_).
class UploadReceiver final : private http::MultipartEvents {
public:
    /// `boundary` set: a multipart/form-data body; otherwise a raw one of `content_type`.
    /// `expected`: the body's SHA-256 from Content-Digest or Repr-Digest, checked at finish.
    /// Throws Error(invalid_argument) when options.dir is not a writable directory.
    UploadReceiver(UploadOptions options, std::optional<std::string> boundary,
                   std::string content_type, std::optional<crypto::Sha256Digest> expected);
    ~UploadReceiver();
    UploadReceiver(const UploadReceiver&) = delete;
    UploadReceiver& operator=(const UploadReceiver&) = delete;

    /// The next bytes of the body. Returns 0, or the HTTP status of a failure (see reason()):
    /// 400 malformed multipart, 413 over max_memory or max_parts, 507 disk full, ...
    int feed(std::string_view bytes);
    /// The body is complete: checks the digest and gives every file its name. Returns 0
    /// (result() says what was stored) or a status: 400 (truncated multipart, digest
    /// mismatch), 409 (a name taken), 507, ... after which nothing is left on disk.
    int finish();
    /// Removes every file of this request, named or not (also after a successful finish(), for
    /// a handler that fails afterwards). Idempotent. Destruction removes only unnamed ones.
    void abort() noexcept;

    /// After a successful finish(), the files are final: closes them (abort() can no longer
    /// take them back).
    void keep() noexcept;

    UploadResult& result() noexcept { return result_; }
    /// 0, or the status of the failure that ended this upload.
    int status() const noexcept { return status_; }
    /// Why the last failure happened, for the client.
    const std::string& reason() const noexcept { return reason_; }

private:
    struct File {
        files::UploadSink sink;
        crypto::Sha256 hash;
        UploadedFile info;
    };

    // http::MultipartEvents
    int on_part_begin(const http::PartHead& head) override;
    int on_part_data(std::string_view data) override;
    int on_part_end() override;

    int fail(int status, std::string reason);
    int start_file(std::string field, std::string filename, std::string content_type,
                   std::string name);
    int write_file(std::string_view bytes);
    int commit_all();

    UploadOptions options_;
    files::UploadDir dir_;
    std::optional<http::MultipartParser> parser_;
    std::optional<crypto::Sha256Digest> expected_;
    std::optional<crypto::Sha256> body_hash_;  // multipart with a digest to check
    std::deque<File> files_;                   // deque: current_ stays valid as it grows
    File* current_ = nullptr;                  // the file part being written
    std::optional<std::size_t> field_;         // the field part being read (index in result_)
    bool skipping_ = false;                    // a file part with no file chosen
    std::size_t memory_ = 0;                   // bytes of fields kept
    UploadResult result_;
    std::string reason_;
    int status_ = 0;
};

}  // namespace vstream::handlers
