package io.a3s.box.shim.daemon;

import com.google.protobuf.Any;
import io.a3s.box.guest.v1.CgroupResources;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.shim.sys.ProcessRef;
import io.a3s.box.shim.task.SpecConverter;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.GuestExecSpec;
import io.a3s.box.spec.guest.SpecMapper;
import io.a3s.box.spec.oci.OciJson;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * containerd's OCI JSON (exec processes, resource updates) through the runtime-spec module. Remembers each
 * container's mapped spec so that an exec inherits its container's seccomp filter, as with runc; every process
 * (the init's, in {@link VmTaskFactory}, and each exec's) gets the daemon's rlimits and {@code oom_score_adj} where
 * its spec has none, as runc's gets its shim's.
 */
final class OciSpecConverter implements SpecConverter {
    static final String PROCESS_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process";
    static final String RESOURCES_URL = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

    private final Map<String, GuestContainerSpec> containers = new ConcurrentHashMap<>();
    private final InheritedRlimits rlimits;
    private final Supplier<OptionalInt> oomScore;

    OciSpecConverter(InheritedRlimits rlimits) {
        this(rlimits, OciSpecConverter::ownOomScoreAdj);
    }

    OciSpecConverter(InheritedRlimits rlimits, Supplier<OptionalInt> oomScore) {
        this.rlimits = rlimits;
        this.oomScore = oomScore;
    }

    /** This process's {@code oom_score_adj}; empty (the VM's default, 0) when it cannot be read. */
    static OptionalInt ownOomScoreAdj() {
        return ProcessRef.oomScoreAdj(ProcessHandle.current().pid());
    }

    /**
     * {@code p} with what runc's container process inherits from its shim where its spec is silent: the rlimits of
     * the resources it does not limit, and the daemon's {@code oom_score_adj} (containerd's plus one, as runc's
     * shim's: {@code DaemonStarter.adjustOomScore}). Read at each call: the starter sets it after the daemon started.
     */
    ProcessSpec withInherited(ProcessSpec p) {
        ProcessSpec out = rlimits.applyTo(p);
        if (out.hasOomScoreAdj()) {
            return out;
        }
        OptionalInt score = oomScore.get();
        return score.isPresent() ? out.toBuilder().setOomScoreAdj(score.getAsInt()).build() : out;
    }

    void remember(String containerId, GuestContainerSpec spec) {
        containers.put(containerId, spec);
    }

    void forget(String containerId) {
        containers.remove(containerId);
    }

    @Override
    public ProcessSpec execProcess(String containerId, Any spec) throws StatusException {
        if (!spec.getTypeUrl().endsWith("runtime-spec/1/Process")) {
            throw Code.INVALID_ARGUMENT.toException("exec in task %s: spec is a %s, not an OCI Process", containerId,
                    spec.getTypeUrl());
        }
        try {
            GuestExecSpec exec = SpecMapper.mapExec(OciJson.parseProcess(spec.getValue().toByteArray()),
                    containers.get(containerId));
            return withInherited(GuestSpecs.process(exec.process()));
        } catch (SpecException e) {
            throw Code.INVALID_ARGUMENT.toException("exec in task %s: %s", containerId, describe(e));
        }
    }

    @Override
    public CgroupResources resources(String containerId, Any resources) throws StatusException {
        if (!resources.getTypeUrl().endsWith("runtime-spec/1/LinuxResources")) {
            throw Code.INVALID_ARGUMENT.toException("update task %s: resources are a %s, not OCI LinuxResources",
                    containerId, resources.getTypeUrl());
        }
        try {
            return GuestSpecs.resources(SpecMapper.mapResources(
                    OciJson.parseResources(resources.getValue().toByteArray())));
        } catch (SpecException e) {
            throw Code.INVALID_ARGUMENT.toException("update task %s: %s", containerId, describe(e));
        }
    }

    /** Every error of a spec, one per line, each naming its JSON path. */
    static String describe(SpecException e) {
        return e.errors().stream().map(SpecError::toString).collect(Collectors.joining("; "));
    }
}
