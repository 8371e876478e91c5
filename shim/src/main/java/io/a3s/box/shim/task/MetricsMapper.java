package io.a3s.box.shim.task;

import io.a3s.box.containerd.cgroups.v2.CPUStat;
import io.a3s.box.containerd.cgroups.v2.IOEntry;
import io.a3s.box.containerd.cgroups.v2.IOStat;
import io.a3s.box.containerd.cgroups.v2.MemoryEvents;
import io.a3s.box.containerd.cgroups.v2.MemoryStat;
import io.a3s.box.containerd.cgroups.v2.Metrics;
import io.a3s.box.containerd.cgroups.v2.PidsStat;
import io.a3s.box.guest.v1.IoEntry;
import io.a3s.box.guest.v1.StatsResponse;

import java.util.Map;

/** The guest cgroup's figures as containerd's {@code io.containerd.cgroups.v2.Metrics}. */
final class MetricsMapper {
    private MetricsMapper() {
    }

    static Metrics toMetrics(StatsResponse s) {
        Map<String, Long> m = s.getMemoryStatMap();
        MemoryStat.Builder mem = MemoryStat.newBuilder()
                .setAnon(m.getOrDefault("anon", 0L))
                .setFile(m.getOrDefault("file", 0L))
                .setKernelStack(m.getOrDefault("kernel_stack", 0L))
                .setSlab(m.getOrDefault("slab", 0L))
                .setSock(m.getOrDefault("sock", 0L))
                .setShmem(m.getOrDefault("shmem", 0L))
                .setFileMapped(m.getOrDefault("file_mapped", 0L))
                .setFileDirty(m.getOrDefault("file_dirty", 0L))
                .setFileWriteback(m.getOrDefault("file_writeback", 0L))
                .setAnonThp(m.getOrDefault("anon_thp", 0L))
                .setInactiveAnon(m.getOrDefault("inactive_anon", 0L))
                .setActiveAnon(m.getOrDefault("active_anon", 0L))
                .setInactiveFile(m.getOrDefault("inactive_file", 0L))
                .setActiveFile(m.getOrDefault("active_file", 0L))
                .setUnevictable(m.getOrDefault("unevictable", 0L))
                .setSlabReclaimable(m.getOrDefault("slab_reclaimable", 0L))
                .setSlabUnreclaimable(m.getOrDefault("slab_unreclaimable", 0L))
                .setPgfault(m.getOrDefault("pgfault", 0L))
                .setPgmajfault(m.getOrDefault("pgmajfault", 0L))
                .setWorkingsetRefault(m.getOrDefault("workingset_refault", 0L))
                .setWorkingsetActivate(m.getOrDefault("workingset_activate", 0L))
                .setWorkingsetNodereclaim(m.getOrDefault("workingset_nodereclaim", 0L))
                .setPgrefill(m.getOrDefault("pgrefill", 0L))
                .setPgscan(m.getOrDefault("pgscan", 0L))
                .setPgsteal(m.getOrDefault("pgsteal", 0L))
                .setPgactivate(m.getOrDefault("pgactivate", 0L))
                .setPgdeactivate(m.getOrDefault("pgdeactivate", 0L))
                .setPglazyfree(m.getOrDefault("pglazyfree", 0L))
                .setPglazyfreed(m.getOrDefault("pglazyfreed", 0L))
                .setThpFaultAlloc(m.getOrDefault("thp_fault_alloc", 0L))
                .setThpCollapseAlloc(m.getOrDefault("thp_collapse_alloc", 0L))
                .setUsage(s.getMemoryUsage())
                .setUsageLimit(s.getMemoryUsageLimit())
                .setSwapUsage(s.getMemorySwapUsage())
                .setSwapLimit(s.getMemorySwapLimit());
        IOStat.Builder io = IOStat.newBuilder();
        for (IoEntry e : s.getIoList()) {
            io.addUsage(IOEntry.newBuilder().setMajor(e.getMajor()).setMinor(e.getMinor()).setRbytes(e.getRbytes())
                    .setWbytes(e.getWbytes()).setRios(e.getRios()).setWios(e.getWios()));
        }
        return Metrics.newBuilder()
                .setPids(PidsStat.newBuilder().setCurrent(s.getPidsCurrent()).setLimit(s.getPidsLimit()))
                .setCpu(CPUStat.newBuilder().setUsageUsec(s.getCpuUsageUsec()).setUserUsec(s.getCpuUserUsec())
                        .setSystemUsec(s.getCpuSystemUsec()).setNrPeriods(s.getCpuNrPeriods())
                        .setNrThrottled(s.getCpuNrThrottled()).setThrottledUsec(s.getCpuThrottledUsec()))
                .setMemory(mem)
                .setIo(io)
                .setMemoryEvents(MemoryEvents.newBuilder().setLow(s.getMemoryEventsLow())
                        .setHigh(s.getMemoryEventsHigh()).setMax(s.getMemoryEventsMax())
                        .setOom(s.getMemoryEventsOom()).setOomKill(s.getMemoryEventsOomKill()))
                .build();
    }
}
