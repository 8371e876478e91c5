package io.a3s.box.shim.vm;

import java.time.Duration;

/**
 * What {@link VmInstance#start} measured and what the agent said in its Hello.
 *
 * @param hostWall        from launching the VMM to the agent's Hello answer, host clock, last attempt
 * @param guestBoot       kernel start to agent ready, guest {@code CLOCK_BOOTTIME}
 * @param attempts        boots tried (a boot that hangs is retried once)
 * @param accelerator     what the VM actually runs on (never AUTO)
 * @param kernelRelease   {@code uname -r} in the guest
 * @param agentVersion    the agent's version string
 * @param protocolVersion the agent's protocol version
 */
public record BootInfo(Duration hostWall, Duration guestBoot, int attempts, Accelerator accelerator,
                       String kernelRelease, String agentVersion, int protocolVersion) {}
