import Foundation
import JITAuditCore

/// Encodes the engine state for the `engine_snapshot` table.
///
/// New snapshots use the engine's binary form with each open request's
/// `request` event named by its time (`bin-v2`): the audit log holds every
/// event a snapshot's state has seen, and the lines were most of a large
/// state. A resume reads those events back from `events` (``AuditStore/snapshot()``).
/// The forms earlier versions wrote, the binary one with the lines inline
/// (`bin-v1`) and JSON (`json-v1`), are still read.
enum SnapshotCodec {
    static let format = "bin-v2"
    static let inlineFormat = "bin-v1"
    static let jsonFormat = "json-v1"

    /// Takes the state: it is emptied as it is written (``EngineState/drainBinaryEncoded(requestEventsByReference:)``).
    static func encode(_ state: consuming EngineState, path: String) throws(StoreError) -> [UInt8] {
        state.drainBinaryEncoded(requestEventsByReference: true)
    }

    /// `requestEvent` finds a request event a `bin-v2` state names; `unresolved`
    /// counts those it could not find.
    static func decode(_ bytes: UnsafeRawBufferPointer, format: String, path: String,
                       requestEvent: (String, Timestamp) -> Event?, unresolved: inout Int) throws(StoreError) -> EngineState {
        switch format {
        case Self.format, Self.inlineFormat:
            do {
                return try EngineState(binary: bytes, requestEvent: requestEvent, unresolved: &unresolved)
            } catch {
                throw StoreError(.corrupt, "cannot decode the engine snapshot: \(error)", path: path)
            }
        case Self.jsonFormat:
            do {
                return try JSONDecoder().decode(EngineState.self, from: Data(bytes))
            } catch {
                throw StoreError(.corrupt, "cannot decode the engine snapshot: \(error)", path: path)
            }
        default:
            throw StoreError(.schemaTooNew, "the engine snapshot has format \(format), which this jitaudit cannot read", path: path)
        }
    }
}
