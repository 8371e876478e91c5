package io.a3s.box.spec.guest;

/**
 * Host side: what the config implies for the VM that runs the container. Hints, not orders: the pool picks a VM
 * whose key satisfies them (a pod's VM serves several containers). Null means "no opinion, use the default".
 *
 * @param vcpus     {@code ceil(quota / period)}, or the number of CPUs in the cpuset, or the
 *                  {@code io.a3s.box.vcpus} annotation, which wins
 * @param memoryMib the memory limit in MiB rounded up, plus {@link SpecMapper#VM_MEMORY_OVERHEAD_MIB} for the guest
 *                  kernel and agent; or the {@code io.a3s.box.memory_mib} annotation, which wins
 * @param hostCpus  host CPUs to pin the VM's vCPU threads to (the config's cpuset.cpus names host CPUs, which
 *                  mean nothing inside the guest)
 * @param hostMems  host NUMA nodes for the VM's memory (cpuset.mems)
 */
public record VmSizing(Integer vcpus, Long memoryMib, String hostCpus, String hostMems) {}
