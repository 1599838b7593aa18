@_exported import JITAuditCore
