import Foundation
import JITAuditCore

/// Encodes the engine state for the `engine_snapshot` table.
enum SnapshotCodec {
    static let format = "json-v1"

    static func encode(_ state: EngineState, path: String) throws(StoreError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(state))
        } catch {
            throw StoreError(.invalidState, "cannot encode the engine state: \(error)", path: path)
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, format: String, path: String) throws(StoreError) -> EngineState {
        guard format == Self.format else {
            throw StoreError(.schemaTooNew, "the engine snapshot has format \(format), which this jitaudit cannot read", path: path)
        }
        do {
            return try JSONDecoder().decode(EngineState.self, from: Data(bytes))
        } catch {
            throw StoreError(.corrupt, "cannot decode the engine snapshot: \(error)", path: path)
        }
    }
}
