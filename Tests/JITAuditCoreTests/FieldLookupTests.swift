import Testing
@testable import JITAuditCore

/// The decoder finds schema fields by comparing a key's bytes with constants:
/// every name must be found, and no near miss.
@Suite("Field names")
struct FieldLookupTests {
    @Test func everyNameIsFoundAndNoNearMiss() {
        for f in Field.allCases {
            var name = Array(f.name.utf8)
            // Inside a longer buffer, as keys are inside a line.
            let found = ([UInt8(ascii: "\"")] + name + [UInt8(ascii: "\"")]).withUnsafeBufferPointer { Field.lookup($0, 1, 1 + name.count) }
            #expect(found == f, "\(f.name)")
            for i in name.indices {
                let original = name[i]
                name[i] = original ^ 0x20
                #expect(name.withUnsafeBufferPointer { Field.lookup($0, 0, name.count) } == nil, "\(f.name) with byte \(i) changed")
                name[i] = original
            }
            #expect((name + [UInt8(ascii: "x")]).withUnsafeBufferPointer { Field.lookup($0, 0, name.count + 1) } == nil)
        }
    }
}
