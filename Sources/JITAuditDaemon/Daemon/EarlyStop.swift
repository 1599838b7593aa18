#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// SIGTERM or SIGINT that comes while the daemon starts (opening the store,
/// resuming the engine from the log), before the service group has its
/// graceful-shutdown handlers: remembered, instead of ending the process by
/// the default action (exit status 143, no final snapshot), and acted on by
/// ``DaemonRunner`` once the group runs. A signal that still reaches this
/// handler afterwards (where the group's handlers do not replace it) is
/// acted on the same way. A SIGHUP then is harmless (its default would end
/// the process too).
public enum EarlyStop {
    private static let caught = Atomic<Int32>(0)

    /// Installs the handler; call it first thing in `jitaudit run`.
    public static func install() {
        // Initialised here, not first in the handler (where a lazy global's
        // initialisation would not be safe).
        _ = caught.load(ordering: .relaxed)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in EarlyStop.caught.store(signal, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
        // A reload asked for while starting: the configuration is being
        // loaded anyway, so nothing to do but not die (SIGHUP's default).
        var reload = sigaction()
        reload.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&reload.sa_mask)
        sigaction(SIGHUP, &reload, nil)
    }

    /// The signal caught, or 0.
    public static var signal: Int32 { caught.load(ordering: .relaxed) }
}
