#include "handlers/upload_receiver.hpp"

#include <vstream/error.hpp>

#include "files/upload_name.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace vstream::handlers {

namespace {

// The reason a failed write or commit gives the client: no paths, no internals.
std::string io_reason(int status, int rc, std::string_view name) {
    switch (status) {
        case 507: return "insufficient storage: the upload does not fit on the disk";
        case 409: return "a file named '" + std::string(name) + "' exists already";
        case 413: return "the file is too large for the upload directory";
        default: return std::string("cannot store the upload: ") + std::strerror(-rc);
    }
}

}  // namespace

UploadReceiver::UploadReceiver(UploadOptions options, std::optional<std::string> boundary,
                               std::string content_type,
                               std::optional<crypto::Sha256Digest> expected)
    : options_(std::move(options)), dir_(options_.dir), expected_(expected) {
    if (boundary) {
        parser_.emplace(std::move(*boundary), static_cast<http::MultipartEvents&>(*this),
                        http::MultipartLimits{options_.max_part_header_bytes, options_.max_parts});
        if (expected_) body_hash_.emplace();
        return;
    }
    // A raw body is one file, 0 bytes included.
    // A failure to open it (disk full, ...) is reported by status().
    std::string name = files::safe_upload_name(options_.name);
    struct stat st {};
    if (!name.empty() && !options_.overwrite &&
        ::fstatat(dir_.fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        // Taken already: say so before the body is read (commit() still decides races).
        fail(409, io_reason(409, -EEXIST, name));
        return;
    }
    start_file("", options_.name, std::move(content_type), std::move(name));
}

// Files not named yet are removed by their sinks; named ones stay (abort() removes those).
UploadReceiver::~UploadReceiver() = default;

int UploadReceiver::fail(int status, std::string reason) {
    if (status_ == 0) {
        status_ = status;
        reason_ = std::move(reason);
    }
    abort();
    return status_;
}

int UploadReceiver::start_file(std::string field, std::string filename, std::string content_type,
                               std::string name) {
    File& f = files_.emplace_back(File{files::UploadSink(dir_), crypto::Sha256(), UploadedFile{}});
    if (const int rc = f.sink.open(); rc != 0) {
        const int status = files::upload_error_status(rc);
        return fail(status, io_reason(status, rc, {}));
    }
    f.info.field = std::move(field);
    f.info.filename = std::move(filename);
    f.info.name = std::move(name);  // "" until finish() generates one
    f.info.content_type = std::move(content_type);
    current_ = &f;
    return 0;
}

int UploadReceiver::write_file(std::string_view bytes) {
    File& f = *current_;
    if (const int rc = f.sink.write(bytes); rc != 0) {
        const int status = files::upload_error_status(rc);
        return fail(status, io_reason(status, rc, {}));
    }
    f.hash.update(bytes);
    return 0;
}

int UploadReceiver::feed(std::string_view bytes) {
    if (status_ != 0) return status_;
    if (!parser_) return write_file(bytes);
    if (body_hash_) body_hash_->update(bytes);
    const http::MultipartParser::Result r = parser_->feed(bytes);
    if (r.kind == http::MultipartParser::Result::Kind::error) {
        return fail(r.status, status_ != 0 ? reason_ : std::string(r.reason));
    }
    return 0;
}

int UploadReceiver::on_part_begin(const http::PartHead& head) {
    if (!head.filename) {
        memory_ += head.name.size();
        if (memory_ > options_.max_memory) return fail(413, "form fields exceed the memory limit");
        result_.fields.emplace_back(head.name, std::string());
        field_ = result_.fields.size() - 1;
        return 0;
    }
    if (head.filename->empty()) {
        skipping_ = true;  // a file input with no file chosen: nothing to store
        return 0;
    }
    return start_file(head.name, *head.filename, head.content_type,
                      files::safe_upload_name(*head.filename));
}

int UploadReceiver::on_part_data(std::string_view data) {
    if (skipping_) return 0;
    if (field_) {
        memory_ += data.size();
        if (memory_ > options_.max_memory) return fail(413, "form fields exceed the memory limit");
        result_.fields[*field_].second.append(data);
        return 0;
    }
    return current_ != nullptr ? write_file(data) : 0;
}

int UploadReceiver::on_part_end() {
    current_ = nullptr;
    field_.reset();
    skipping_ = false;
    return 0;
}

int UploadReceiver::finish() {
    if (status_ != 0) return status_;
    if (parser_) {
        const http::MultipartParser::Result r = parser_->finish();
        if (r.kind == http::MultipartParser::Result::Kind::error) {
            return fail(r.status, std::string(r.reason));
        }
    }
    for (File& f : files_) f.info.size = f.sink.size();
    std::vector<crypto::Sha256Digest> digests;
    digests.reserve(files_.size());
    for (File& f : files_) {
        digests.push_back(f.hash.finish());
        f.info.sha256 = crypto::to_hex(digests.back());
    }
    if (expected_) {
        const crypto::Sha256Digest body = body_hash_ ? body_hash_->finish() : digests.front();
        if (body != *expected_) return fail(400, "the body does not match its digest (sha-256)");
    }
    return commit_all();
}

int UploadReceiver::commit_all() {
    for (File& f : files_) {
        if (f.info.name.empty()) f.info.name = files::generated_upload_name();
        if (const int rc = f.sink.commit(f.info.name, options_.overwrite, options_.sync); rc != 0) {
            const int status = files::upload_error_status(rc);
            return fail(status, io_reason(status, rc, f.info.name));  // rolls back the others
        }
        f.info.path = dir_.path() + "/" + f.info.name;
    }
    // The sinks stay: abort() can still take the files back (a handler that fails after).
    for (File& f : files_) result_.files.push_back(f.info);
    return 0;
}

void UploadReceiver::keep() noexcept {
    if (status_ == 0) files_.clear();  // committed sinks close without removing anything
}

void UploadReceiver::abort() noexcept {
    for (File& f : files_) {
        if (f.sink.committed()) {
            f.sink.uncommit();
        } else {
            f.sink.discard();
        }
    }
    files_.clear();
    current_ = nullptr;
}

}  // namespace vstream::handlers
