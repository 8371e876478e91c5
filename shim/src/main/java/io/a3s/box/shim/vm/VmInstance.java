package io.a3s.box.shim.vm;

import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.spec.guest.ShareBind;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One microVM whose PID 1 is the a3s guest agent.
 *
 * <h2>Lifecycle</h2>
 * <pre>
 *   newInstance ──► start() ──► IDLE (agent answered Hello) ──► ... ──► shutdown() ──► gone
 *                     │  boot hangs: retried once                         ▲
 *                     └─ fails: VmException ──────────────────────────────┘ (shutdown is still safe)
 * </pre>
 * <ul>
 *   <li>{@link #start} boots and returns only once the agent has answered Hello. It races the VM's exit
 *       against the deadline: a VM that dies while booting fails the start at once (with the console's last
 *       lines in the message), a boot that does not answer within the deadline is killed and retried once.
 *       It may be called once.</li>
 *   <li>{@link #shutdown} is idempotent, may be called from any thread at any time, including before
 *       {@code start}, during it (the start then fails) and after a failed start, and leaves nothing behind: no
 *       process, no mount, no socket, no state directory.</li>
 *   <li>{@link #onExit} completes when the VM is gone for whatever reason (within about a second of the VMM
 *       process dying). Then every pending and later call on {@link #agent()} fails with UNAVAILABLE
 *       ({@code "vm <id> exited"}).</li>
 * </ul>
 *
 * <h2>Ownership and handover</h2>
 * The {@link AgentClient} returned by {@link #agent()} belongs to the instance: callers must not close it.
 * A VM can change hands between processes (the warm pool boots it, a shim uses it): the giver calls
 * {@link #detach()}, which closes its connection to the agent but keeps watching the VMM (and keeps the right to
 * tear it down); the taker calls {@link VmBackend#attach} on the state directory, which connects anew and opens
 * a session with the Hello handshake. The VMM's agent socket serves one host at a time, so the giver must
 * detach before the taker attaches (the taker's connect then simply waits in the socket's backlog).
 * The share and volumes directories belong to the instance too: callers may bind-mount into them (container
 * root filesystems at {@code <shareDir>/<containerId>/rootfs}, bind-mount sources at
 * {@code <volumesDir>/<containerId>/<i>}: {@link #bind}) and should unmount what they mounted, but
 * {@link #shutdown} unmounts anything left.
 *
 * <h2>Threading</h2>
 * Thread-safe. {@link #start} and {@link #shutdown} block (bounded by their deadlines); the other methods
 * do not.
 */
public interface VmInstance extends AutoCloseable {
    /** Guest path where the agent mounts the host's share directory (9p tag {@code a3s.share}, cached). */
    String GUEST_SHARE_PATH = "/run/a3s/share";
    /** Guest path where the agent mounts the host's volumes directory (9p tag {@code a3s.volumes}, uncached). */
    String GUEST_VOLUMES_PATH = "/run/a3s/volumes";

    /** The VM's id (the last element of its state directory). */
    String id();

    VmConfig config();

    /** The state directory: the source of truth for what this VM is and what runs for it. */
    Path stateDir();

    /** Boots with {@link VmConfig#bootDeadline()} per attempt. */
    default BootInfo start() throws VmException {
        return start(config().bootDeadline());
    }

    /**
     * Boots the VM and waits until the agent has answered Hello.
     *
     * @param deadline per attempt; a timed-out attempt is killed and retried once
     * @throws VmException BOOT_TIMEOUT, EXITED (the VM died while booting), LAUNCH, AGENT (protocol version
     *                     mismatch), INTERRUPTED; the VM is then already torn down except for the state
     *                     directory, which {@link #shutdown} removes
     */
    BootInfo start(Duration deadline) throws VmException;

    /** The boot figures, or null before a successful {@link #start}. */
    BootInfo bootInfo();

    /**
     * The host side of the guest protocol.
     *
     * @throws IllegalStateException before {@link #start} succeeded
     */
    AgentClient agent();

    /**
     * The host directory exported to the guest over virtio-9p (mounted there at {@link #GUEST_SHARE_PATH}).
     * A directory bind-mounted under it on the host after boot is visible in the guest at once.
     */
    Path shareDir();

    /**
     * The host directory exported to the guest without caching (mounted there at {@link #GUEST_VOLUMES_PATH}):
     * for files the host may change while the guest uses them.
     */
    default Path volumesDir() {
        return shareDir().resolveSibling(StateDir.VOLUMES);
    }

    /**
     * The host path behind a guest path under {@link #GUEST_SHARE_PATH} or {@link #GUEST_VOLUMES_PATH}.
     *
     * @throws IllegalArgumentException for any other path, or one that climbs out with {@code ..}
     */
    default Path hostPath(String guestPath) {
        for (var e : Map.of(GUEST_SHARE_PATH, shareDir(), GUEST_VOLUMES_PATH, volumesDir()).entrySet()) {
            if (guestPath.startsWith(e.getKey() + "/")) {
                Path root = e.getValue().toAbsolutePath().normalize();
                Path p = root.resolve(guestPath.substring(e.getKey().length() + 1)).normalize();
                if (p.startsWith(root) && !p.equals(root)) {
                    return p;
                }
            }
        }
        throw new IllegalArgumentException(guestPath + " is under neither " + GUEST_SHARE_PATH + " nor "
                + GUEST_VOLUMES_PATH);
    }

    /**
     * Bind-mounts {@code source} (a directory or a file) where the guest sees {@code guestPath}, creating the
     * mount point; read-only if asked. The bind takes {@code propagation}: 9p reads through it live, so a mount
     * the host makes under {@code source} later shows in the guest exactly when it propagates to the bind (a
     * private bind sees none, as a runc container's {@code rprivate} mount). Returns the host mount point, for
     * the caller to unmount.
     *
     * @throws NoSuchFileException if {@code source} does not exist
     * @throws IllegalArgumentException if {@code guestPath} is not in an exported directory
     */
    default Path bind(Path source, String guestPath, boolean readOnly, ShareBind.HostPropagation propagation)
            throws IOException {
        Path target = hostPath(guestPath);
        if (!Files.exists(source)) {
            throw new NoSuchFileException(source.toString(), null, "mount source does not exist");
        }
        Files.createDirectories(target.getParent());
        if (Files.isDirectory(source)) {
            Files.createDirectories(target);
        } else if (!Files.exists(target)) {
            Files.createFile(target);
        }
        Linux.bindMount(source.toString(), target.toString(), readOnly);
        long flags = switch (propagation) {
            case PRIVATE -> Linux.MS_PRIVATE | Linux.MS_REC;
            case SLAVE -> Linux.MS_SLAVE | Linux.MS_REC;
            case SHARED -> 0; // a bind of a shared mount is its peer already
        };
        if (flags != 0) {
            try {
                Linux.mount(null, target.toString(), null, flags, null);
            } catch (Linux.ErrnoException e) {
                try {
                    Linux.umount2(target.toString(), Linux.MNT_DETACH);
                } catch (Linux.ErrnoException ignored) {
                    // the bind stays; the VM's teardown unmounts everything under its state directory
                }
                throw e;
            }
        }
        return target;
    }

    /** The guest path of a host path under {@link #shareDir()}. */
    default String guestPath(Path hostPathUnderShare) {
        Path rel = shareDir().relativize(hostPathUnderShare.toAbsolutePath().normalize());
        if (rel.startsWith("..")) {
            throw new IllegalArgumentException(hostPathUnderShare + " is not under " + shareDir());
        }
        String s = rel.toString();
        return s.isEmpty() ? GUEST_SHARE_PATH : GUEST_SHARE_PATH + "/" + s;
    }

    /**
     * Connects the VM's NIC to a tap device (an fd the caller keeps and may close afterwards): frames the guest
     * sends come out of the tap, and the other way round. Once per VM.
     *
     * @throws VmException CONFIG where the backend has no NIC, LAUNCH when the VMM refused, EXITED when it is gone
     */
    default void attachTap(int tapFd) throws VmException {
        throw new VmException(VmException.Kind.CONFIG, "vm " + id() + ": this backend has no network device");
    }

    /** Pid of the VMM process, or -1 before it was launched. */
    long pid();

    /** Whether the VM was started and has not exited. */
    boolean isRunning();

    /** Completes when the VM has exited or was shut down; never fails. */
    CompletableFuture<VmExit> onExit();

    /** Stops the vCPUs (the whole guest freezes; timers included). */
    void pause() throws VmException;

    /** Resumes after {@link #pause()}. */
    void resume() throws VmException;

    /**
     * Hands the VM over: closes this instance's connection to the agent (pending calls fail with UNAVAILABLE
     * "vm &lt;id&gt; was handed over") without touching the VM, so that another process can
     * {@link VmBackend#attach attach}. Afterwards {@link #agent()} throws; {@link #isRunning()}, {@link #onExit()}
     * and {@link #shutdown()} keep working (shutdown still tears the VM down), and the VM's exit is no longer
     * logged as unexpected. Once a detached VM has exited, the instance releases its handle on the VMM process.
     * Idempotent; does nothing after {@link #shutdown()}.
     */
    void detach();

    /** Whether {@link #detach()} was called. */
    boolean isDetached();

    /**
     * Sets the scheduling niceness (-20..19) of the VMM, every thread of it: a pool boots the VMs nobody waits for
     * yet at a lower priority than the VMs in use, and raises a VM's priority when it leases it. Before
     * {@link #start}, applies from the launch on. Best effort (nothing happens where it is not supported).
     */
    default void setNice(int nice) {
    }

    /**
     * Kills the VMM at once (SIGKILL), for a guest that no longer answers: {@link #onExit()} completes, pending
     * agent calls fail with UNAVAILABLE. Nothing is unmounted or removed: the owner still calls
     * {@link #shutdown()} (or gives the VM back). Idempotent.
     */
    void kill();

    /**
     * Tears the VM down: fails pending agent calls, asks the VMM to quit, kills it if it does not within a
     * bound, unmounts everything under the share directory and removes the state directory. Idempotent.
     *
     * @throws VmException TEARDOWN if something could not be removed (the VM itself is dead by then)
     */
    void shutdown() throws VmException;

    /** {@link #shutdown()}, logging instead of throwing. */
    @Override
    void close();
}
