// Reading a file's mapping in user space, guarded against the file shrinking underneath: the
// kernel raises SIGBUS for a page past the new end, which would kill the process. The technique
// of LMDB, SQLite and Go's mmap readers: a SIGBUS handler that, for a fault inside a guarded
// read on the faulting thread, jumps back out of it.
#pragma once

#include <cstddef>

namespace vstream::core {

/// Installs the process's SIGBUS handler, once (later calls do nothing). A fault outside a
/// guarded read, or on another thread, goes to the handler that was installed before (or
/// the default action: the process dies, as without this). A host that installs its own
/// SIGBUS handler afterwards must chain to the previous one. Returns false if sigaction
/// failed (then guarded reads are unguarded). Any thread.
bool install_sigbus_guard() noexcept;

/// Runs fn(context) with a SIGBUS caused by reading [begin, begin + length) recovered: then
/// fn is left where it was (its stack unwound without destructors, so it must own nothing
/// but memory it leaves in a consistent or discardable state) and this returns false.
/// Returns true if fn ran to its end. fn may run another guard: a fault in the inner range
/// returns false from the inner call, one in the outer range (only) from the outer call,
/// abandoning both. Any thread.
bool run_guarded(const void* begin, std::size_t length, void (*fn)(void*), void* context) noexcept;

}  // namespace vstream::core
