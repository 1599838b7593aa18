// Fuzz target `decoder`: LineDecoder over arbitrary bytes.
//
// Checks, for every input:
// - the decoder returns an event or a rejection whose reason is non-empty,
//   printable (no control characters) and at most 512 bytes;
// - an accepted event is valid: raw is the line, request_id and actor are
//   non-blank and at most 256 bytes, actorKey is the actor's identity key;
// - re-encoded (EventEncoder) and re-parsed it is the same event field by
//   field, and encoding is a fixed point;
// - a stricter decoder (depth 3, identifiers of 8 bytes) never accepts what the
//   default one rejects, and agrees on the fields when both accept.
import FuzzSupport
import JITAuditCore

// No top-level variables: libFuzzer's main runs, not this file's top-level code.
@inline(__always) func strictDecoder() -> LineDecoder { LineDecoder(maxDepth: 3, maxIdentifierBytes: 8) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let result = LineDecoder().decode(bytes)
    switch result {
    case .failure(let r):
        require(!r.message.isEmpty, "empty rejection reason for \(shown(bytes))")
        require(!r.message.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "control character in reason \(r.message.debugDescription)")
        require(r.message.utf8.count <= 512, "reason of \(r.message.utf8.count) bytes")
        if case .success = strictDecoder().decode(bytes) { require(false, "strict decoder accepted what the default rejected: \(shown(bytes))") }
    case .success(let e):
        var body = Array(bytes)
        if body.last == 13 { body.removeLast() }
        require(e.raw == body, "raw is not the line")
        for v in [e.requestID, e.actor] {
            require(!v.isEmpty && v.utf8.count <= 256 && !v.trimmingWhitespace.isEmpty, "bad identifier \(v.debugDescription)")
        }
        require(e.actorKey == Identity.key(e.actor), "actorKey \(e.actorKey.debugDescription) for \(e.actor.debugDescription)")
        if let r = e.requester { require(!r.trimmingWhitespace.isEmpty, "blank requester") }
        let canonical = EventEncoder.encode(e)
        switch LineDecoder().decode(canonical) {
        case .failure(let r):
            require(false, "re-encoded line rejected (\(r.message)): \(shown(canonical))")
        case .success(let again):
            let diffs = EventEncoder.fieldDifferences(e, again)
            require(diffs.isEmpty, "re-parsed event differs in \(diffs): \(shown(canonical))")
            require(EventEncoder.encode(again) == canonical, "encoding is not a fixed point: \(shown(canonical))")
        }
        if case .success(let s) = strictDecoder().decode(bytes) {
            require(EventEncoder.fieldDifferences(e, s).isEmpty, "strict decoder read other fields")
        }
    }
    return 0
}
