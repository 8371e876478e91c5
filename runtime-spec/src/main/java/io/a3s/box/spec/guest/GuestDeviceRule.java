package io.a3s.box.spec.guest;

/**
 * One rule of the container cgroup's device allowlist, in order; the agent enforces the list with a cgroup v2
 * device program, as runc does.
 *
 * @param type   {@code a} (all), {@code c} or {@code b}
 * @param major  null for any
 * @param minor  null for any
 * @param access a combination of {@code r}, {@code w}, {@code m}
 */
public record GuestDeviceRule(boolean allow, String type, Long major, Long minor, String access) {}
