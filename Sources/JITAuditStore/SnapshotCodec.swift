import Foundation
import JITAuditCore

/// Encodes the engine state for the `engine_snapshot` table.
///
/// New snapshots use the engine's binary form (`bin-v1`), which is several
/// times smaller and faster than the JSON form (`json-v1`) that earlier
/// versions wrote; both are read.
enum SnapshotCodec {
    static let format = "bin-v1"
    static let jsonFormat = "json-v1"

    static func encode(_ state: EngineState, path: String) throws(StoreError) -> [UInt8] {
        state.binaryEncoded()
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, format: String, path: String) throws(StoreError) -> EngineState {
        switch format {
        case Self.format:
            do {
                return try EngineState(binary: bytes)
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
