package io.a3s.box.spec.guest;

import java.util.List;
import java.util.Map;

/**
 * The container's cgroup v2 settings inside the guest, already in cgroup v2 units (the runtime-spec speaks
 * cgroup v1). Every field is null when the config leaves it unset; {@code -1} means the file's {@code max}.
 *
 * @param memoryMax     memory.max, bytes
 * @param memorySwapMax memory.swap.max, bytes of swap (the config's swap is memory+swap)
 * @param memoryLow     memory.low, bytes (the config's reservation)
 * @param cpuQuota      first half of cpu.max, microseconds per period
 * @param cpuPeriod     second half of cpu.max, microseconds
 * @param cpuBurst      cpu.max.burst, microseconds
 * @param cpuWeight     cpu.weight, 1-10000, converted from shares as {@code 1 + ((shares - 2) * 9999) / 262142}
 * @param cpuIdle       cpu.idle, 0 or 1
 * @param pidsMax       pids.max
 * @param ioWeight      io.weight, 1-10000, converted from the blkio weight (10-1000)
 * @param hugetlbMax    hugetlb.&lt;size&gt;.max by page size ({@code 2MB}), bytes
 * @param unified       files written as given, last, so they override the fields above (as in runc)
 * @param devices       the device allowlist, in order
 */
public record GuestCgroup(
        Long memoryMax,
        Long memorySwapMax,
        Long memoryLow,
        Long cpuQuota,
        Long cpuPeriod,
        Long cpuBurst,
        Long cpuWeight,
        Long cpuIdle,
        Long pidsMax,
        Long ioWeight,
        Map<String, Long> hugetlbMax,
        Map<String, String> unified,
        List<GuestDeviceRule> devices) {
    public GuestCgroup {
        hugetlbMax = Sorted.map(hugetlbMax);
        unified = Sorted.map(unified);
        devices = List.copyOf(devices);
    }
}
