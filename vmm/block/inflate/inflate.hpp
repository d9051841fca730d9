// Raw DEFLATE decoder (RFC 1951), freestanding: no allocation, no tables built
// at static-construction time. Used for qcow2 compressed clusters (zlib
// compression type: a raw deflate stream without zlib header).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace vmm::block {

// Decodes `in` into `out` until the final block ends or `out` is full
// (whichever comes first; qcow2 streams may carry trailing bytes). Returns the
// number of bytes produced.
// Errors: truncated (input ended inside the stream), invalid (reserved block
// type, bad stored length, over-subscribed or unusable Huffman code, distance
// before the start of the output, reserved length/distance symbol).
lib::Result<size_t> inflate_raw(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap);

}  // namespace vmm::block
