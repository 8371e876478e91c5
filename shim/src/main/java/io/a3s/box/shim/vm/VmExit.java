package io.a3s.box.shim.vm;

import java.time.Instant;

/**
 * How a VM ended.
 *
 * @param at        when the host noticed
 * @param requested true when {@link VmInstance#shutdown()} (or a reconcile) ended it, false when it died
 *                  on its own or was killed by someone else
 * @param detail    human-readable, e.g. {@code "qemu pid 1234 exited"}
 */
public record VmExit(Instant at, boolean requested, String detail) {}
