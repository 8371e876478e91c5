/* SubstrateVM's container support (CLibrary "svm_container"). The daemon runs on the host, in containerd's cgroup:
 * it reports no container, and the host's memory and CPUs. */
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#define VERSION 240100
int svm_container_initialize(int version) { return version == VERSION ? 0 : (version < VERSION ? 2 : 3); }
unsigned long svm_container_physical_memory(void) { return (unsigned long)sysconf(_SC_PHYS_PAGES) * (unsigned long)sysconf(_SC_PAGESIZE); }
long svm_container_memory_limit_in_bytes(void) { return -1; }
long svm_container_memory_and_swap_limit_in_bytes(void) { return -1; }
long svm_container_memory_soft_limit_in_bytes(void) { return -1; }
long svm_container_memory_usage_in_bytes(void) { return -1; }
long svm_container_memory_max_usage_in_bytes(void) { return -1; }
long svm_container_rss_usage_in_bytes(void) { return -1; }
long svm_container_cache_usage_in_bytes(void) { return -1; }
int svm_container_active_processor_count(void) {
  cpu_set_t s;
  return sched_getaffinity(0, sizeof s, &s) == 0 ? CPU_COUNT(&s) : (int)sysconf(_SC_NPROCESSORS_ONLN);
}
